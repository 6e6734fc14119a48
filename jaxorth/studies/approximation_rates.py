r"""Study ``experiment=approximation_rates``: measured L^p rates of ReLU networks.

Achour, Foucault, Gerchinovitz & Malgouyres, "A general approximation lower bound in L^p
norm, with applications to feed-forward neural networks" (NeurIPS 2022, arXiv
2206.04360). For every target family of ``experiment.families``, input dimension of
``experiment.dims``, depth ``L`` of ``experiment.depths`` (affine layers: ``L = 2`` is
one hidden layer) and width of ``experiment.widths``:

1. the target: for ``holder``, the hard instance of the packing construction
   (:func:`~jaxorth.approximation.holder_instance`: bumps of height ~ ``h^alpha`` with
   random signs on ``N = m^d`` cells) *at the scale matched to the network*,
   ``N ~ W / experiment.params_per_cell`` cells for a network of ``W`` parameters, so
   that the sequence of targets follows the worst case of the Hölder ball; for
   ``monotone_jumps`` / ``monotone_smooth`` one random monotone function per dimension
   (:func:`~jaxorth.approximation.monotone_instance`, ``experiment.corners`` orthant
   indicators, sharp or smoothed at ``experiment.temperature``); ``sine``,
   ``gaussian``, ``product``, ``polynomial``: the classical smooth targets of
   :func:`~jaxorth.approximation.smooth_target`;
2. the best of ``experiment.restarts`` networks trained by full-batch Adam on a grid of
   about ``experiment.train_points`` points (:func:`~jaxorth.approximation.fit_relu_mlp`,
   ``experiment.steps`` steps): the bound is about the best network of the
   architecture, and the best restart is our estimate of it;
3. its L^p errors for ``p`` in ``experiment.norms`` (midpoint quadrature on a grid of
   ``experiment.eval_points`` points, distinct from the training grid; Monte Carlo with a
   standard error for ``d >= 3``) and its sup-norm error (dense grid and local search,
   an estimate from below).

Table ``slopes``: for every (family, d, depth, norm) the fitted exponent ``-slope`` of
``log error`` against ``log W`` with its 95% interval (Student t over the widths), beside
the exponent the theory gives for the family's class (for ``holder``, over the widths
whose matched instance has at least 3 cells per side): ``alpha / d`` for Hölder balls
(fixed depth; ``2 alpha / d`` needs ``L ~ W``), ``1 / max(d, p (d - 1))`` for monotone
functions (0 in sup norm for ``monotone_jumps``: a continuous network misses a jump of
size ``J`` by at least ``J / 2``; ``-`` in sup norm for the continuous
``monotone_smooth``), ``-`` for the smooth targets (no finite class exponent). These
are exponents of *worst cases over a class*: the matched Hölder instances follow the worst
case, a fixed instance (monotone, smooth) can be approximated faster by the best network,
and a trained network can fall short of either. Table ``errors``: every fit (for
``holder``, also ``L2 / h^alpha``, which the lower bound keeps away from 0 while
``N = m^d`` outgrows ``W L log W``). Figure ``rates.png``: errors against ``W`` on
log-log axes, one panel per family and dimension, the predicted slopes drawn through the
first point.

Each finished fit is written to ``fits/<tag>.json`` at once; a resumed run reads the
records that match its config back instead of training again (a record of another
config, or a corrupt file, is ignored and recomputed).
::

    jaxorth experiment=approximation_rates
    jaxorth experiment=approximation_rates experiment.families=[monotone_jumps] \
        experiment.dims=[2,3]
    jaxorth experiment=approximation_rates preset=paper   # GPU size
    jaxorth -m experiment=approximation_rates experiment.depths=[2],[3],[5]
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math

import jax
import numpy as np
from omegaconf import DictConfig, OmegaConf

from jaxorth import approximation as ap
from jaxorth import report
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table
from jaxorth.studies._registry import register_study


class Family(enum.StrEnum):
    """``experiment.families``: the target families."""

    holder = "holder"
    monotone_jumps = "monotone_jumps"
    monotone_smooth = "monotone_smooth"
    sine = "sine"
    gaussian = "gaussian"
    product = "product"
    polynomial = "polynomial"


#: Hölder fits whose matched instance has fewer cells per side are left out of the slope:
#: below it the instance is clamped at 2 cells (``N = 2^d``), whatever ``W``.
MIN_MATCHED_CELLS = 3

#: Bumped when a fit record gains or changes a field: older records are recomputed.
RECORD_VERSION = 2


@dataclasses.dataclass
class ApproximationRatesConfig:
    """Schema of ``experiment=approximation_rates``.

    ``families``: target families (:class:`Family`); ``dims``: input dimensions;
    ``depths``: numbers of affine layers ``L`` (``L - 1`` hidden layers);
    ``widths``: hidden widths (the x axis: ``W`` parameters each); ``restarts``,
    ``steps``, ``learning_rate``: of :func:`~jaxorth.approximation.fit_relu_mlp`;
    ``train_points``: size of the training grid (``round(train_points^(1/d))`` points
    per axis, and at least ``4`` per Hölder cell); ``eval_points``: size of the
    quadrature grid (per axis ``round(eval_points^(1/d))``; Monte Carlo samples for
    ``d >= 3``); ``norms``: the finite ``p`` of the L^p errors (the sup norm is always
    added); ``alpha``: Hölder exponent of the ``holder`` family, in (0, 1];
    ``params_per_cell``: parameters per cell of the matched Hölder instance;
    ``corners``, ``temperature``: of the monotone instances (``monotone_smooth`` uses
    ``temperature``, ``monotone_jumps`` is sharp).
    """

    name: str = "approximation_rates"
    families: list[Family] = dataclasses.field(
        default_factory=lambda: [
            Family.holder,
            Family.monotone_jumps,
            Family.monotone_smooth,
            Family.sine,
        ]
    )
    dims: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    depths: list[int] = dataclasses.field(default_factory=lambda: [2, 3, 5])
    widths: list[int] = dataclasses.field(default_factory=lambda: [4, 8, 16, 32, 64])
    restarts: int = 3
    steps: int = 2000
    learning_rate: float = 3e-3
    train_points: int = 1024
    eval_points: int = 65536
    norms: list[float] = dataclasses.field(default_factory=lambda: [1.0, 2.0, 4.0])
    alpha: float = 1.0
    params_per_cell: float = 16.0
    corners: int = 8
    temperature: float = 0.05
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.experiment`` before any compute (errors name the key)."""
    ex = cfg.experiment
    for key in ("families", "dims", "depths", "widths", "norms"):
        if not ex[key]:
            raise ValueError(f"experiment.{key} must list at least one value")
    for key, low in (("dims", 1), ("depths", 2), ("widths", 1)):
        for i, v in enumerate(ex[key]):
            if int(v) < low:
                raise ValueError(f"experiment.{key}[{i}] must be >= {low}, got {v}")
    for i, d in enumerate(ex.dims):
        if int(d) > 8:
            raise ValueError(
                f"experiment.dims[{i}] must be <= 8 (grids and Monte Carlo on [0,1]^d), got {d}"
            )
    for i, p in enumerate(ex.norms):
        if not 1 <= float(p) < math.inf:
            raise ValueError(
                f"experiment.norms[{i}] must be a finite p >= 1 (the sup norm is always "
                f"added), got {p}"
            )
    for key in ("restarts", "steps", "train_points", "eval_points", "corners"):
        if int(ex[key]) < 1:
            raise ValueError(f"experiment.{key} must be >= 1, got {ex[key]}")
    if not 0 < float(ex.alpha) <= 1:
        raise ValueError(f"experiment.alpha must be in (0, 1], got {ex.alpha}")
    for key in ("learning_rate", "params_per_cell", "temperature"):
        if not float(ex[key]) > 0:
            raise ValueError(f"experiment.{key} must be > 0, got {ex[key]}")


def _grid(per_axis: int, d: int) -> np.ndarray:
    """Cell centres of a regular grid of ``per_axis^d`` points in ``[0, 1]^d``."""
    axis = (np.arange(per_axis) + 0.5) / per_axis
    mesh = np.meshgrid(*([axis] * d), indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1).astype(np.float32)


def _per_axis(points: int, d: int) -> int:
    return max(2, round(points ** (1.0 / d)))


def _cells_per_side(n_params: int, d: int, params_per_cell: float) -> int:
    return max(2, round((n_params / params_per_cell) ** (1.0 / d)))


def _target(family: str, key: jax.Array, d: int, ex: DictConfig, n_params: int):
    if family == "holder":
        m = _cells_per_side(n_params, d, float(ex.params_per_cell))
        return ap.holder_instance(key, d=d, cells_per_side=m, alpha=float(ex.alpha)), m
    if family == "monotone_jumps":
        return ap.monotone_instance(key, d=d, corners=int(ex.corners), temperature=0.0), 0
    if family == "monotone_smooth":
        return (
            ap.monotone_instance(
                key, d=d, corners=int(ex.corners), temperature=float(ex.temperature)
            ),
            0,
        )
    return ap.smooth_target(family, d=d), 0


def predicted_exponent(family: str, d: int, p: float, alpha: float) -> float:
    """The class exponent the theory gives for ``family`` at fixed depth (nan: none)."""
    if family == "holder":
        return float(ap.holder_exponent(alpha, d))
    if family == "monotone_jumps" or (family == "monotone_smooth" and math.isfinite(p)):
        # a smoothed instance is continuous: the sup-norm statement is about jumps
        return float(ap.monotone_exponent(d, p))
    return float("nan")


def _key(root: jax.Array, family: str, d: int, depth: int, width: int) -> jax.Array:
    """The key of one fit: the same (family, d, depth, width) gets the same key in any sweep."""
    key = jax.random.fold_in(root, list(Family).index(Family(family)))
    return jax.random.fold_in(jax.random.fold_in(key, d), 1000 * depth + width)


def _family_order(item: tuple[str, int]) -> tuple[int, int]:
    return list(Family).index(Family(item[0])), item[1]


def _fingerprint(cfg: DictConfig) -> str:
    ex = OmegaConf.to_container(cfg.experiment, resolve=True, enum_to_str=True)
    # what a fit record depends on: not which fits the sweep lists, not whether it plots
    skip = ("families", "dims", "depths", "widths", "plot")
    keep = {k: v for k, v in ex.items() if k not in skip}
    keep["seed"] = int(cfg.seed)
    keep["record_version"] = RECORD_VERSION
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def _read_record(ctx: RunContext, tag: str, fingerprint: str) -> dict | None:
    path = ctx.run_dir / "fits" / f"{tag}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("fingerprint") != fingerprint:
        return None
    return record


def _fit_one(family: str, d: int, depth: int, width: int, key: jax.Array, ex: DictConfig) -> dict:
    widths = ap.widths_for(d, width, depth)
    size = ap.mlp_size(widths)
    target, m = _target(family, jax.random.fold_in(key, 0), d, ex, size.W)
    per_axis = max(_per_axis(int(ex.train_points), d), 4 * m)
    x = _grid(per_axis, d)
    y = np.asarray(target(x))
    fit = ap.fit_relu_mlp(
        jax.random.fold_in(key, 1),
        x,
        y,
        widths=widths,
        restarts=int(ex.restarts),
        steps=int(ex.steps),
        learning_rate=float(ex.learning_rate),
    )
    g = ap.as_function(fit.params)
    errors = {}
    for i, p in enumerate([*ex.norms, math.inf]):
        options = {"method": "grid", "points": _per_axis(int(ex.eval_points), d)}
        if d > 2:
            options = {"method": "monte_carlo", "points": int(ex.eval_points)}
        if math.isinf(p):
            options = {}
        est = ap.lp_distance(
            target, g, d=d, p=float(p), key=jax.random.fold_in(key, 2 + i), **options
        )
        name = "sup" if math.isinf(p) else f"L{float(p):g}"
        errors[name] = [float(est.value), float(est.stderr)]
    if family == "holder":
        norm = ap.holder_instance_norm(
            d=d, cells_per_side=m, alpha=float(ex.alpha), constant=1.0, p=2.0
        )
    else:
        options = {"method": "grid", "points": _per_axis(int(ex.eval_points), d)}
        if d > 2:
            options = {"method": "monte_carlo", "points": int(ex.eval_points)}
        norm = ap.lp_norm(target, d=d, p=2.0, key=jax.random.fold_in(key, 99), **options).value
    return {
        "target_L2": float(norm),
        "family": family,
        "d": d,
        "depth": depth,
        "width": width,
        "W": int(size.W),
        "L": int(size.L),
        "cells_per_side": m,
        "train_points": int(x.shape[0]),
        "train_loss": fit.loss,
        "max_jump": float(getattr(target, "max_jump", 0.0)),
        "errors": errors,
    }


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Fit every (family, d, depth, width); errors, fitted slopes against predictions."""
    ex = cfg.experiment
    root = jax.random.PRNGKey(int(cfg.seed))
    fingerprint = _fingerprint(cfg)
    (ctx.run_dir / "fits").mkdir(parents=True, exist_ok=True)
    records, reused = [], 0
    families = [str(f) for f in ex.families]
    for family in families:
        for d in (int(v) for v in ex.dims):
            for depth in (int(v) for v in ex.depths):
                for width in (int(v) for v in ex.widths):
                    tag = f"{family}-d{d}-L{depth}-w{width}"
                    record = _read_record(ctx, tag, fingerprint)
                    if record is None:
                        key = _key(root, family, d, depth, width)
                        record = _fit_one(family, d, depth, width, key, ex)
                        record["fingerprint"] = fingerprint
                        ctx.write_json(f"fits/{tag}", record)
                    else:
                        reused += 1
                    records.append(record)
                    ctx.tracker.log(
                        {f"{tag}/{k}": v[0] for k, v in record["errors"].items()}, step=len(records)
                    )
    norms = [f"L{float(p):g}" for p in ex.norms] + ["sup"]
    slopes, summary = [], {"fits": len(records), "reused_fits": reused}
    for family in families:
        for d in (int(v) for v in ex.dims):
            for depth in (int(v) for v in ex.depths):
                group = sorted(
                    (
                        r
                        for r in records
                        if (r["family"], r["d"], r["depth"]) == (family, d, depth)
                        # a matched instance clamped at 2 cells per side is not matched
                        and (family != "holder" or r["cells_per_side"] >= MIN_MATCHED_CELLS)
                    ),
                    key=lambda r: r["W"],
                )
                w = np.array([r["W"] for r in group], np.float64)
                for norm in norms:
                    err = np.array([r["errors"][norm][0] for r in group])
                    fitted = ap.loglog_slope(w, err)
                    p = math.inf if norm == "sup" else float(norm[1:])
                    pred = predicted_exponent(family, d, p, float(ex.alpha))
                    slopes.append(
                        {
                            "family": family,
                            "d": d,
                            "L": depth,
                            "norm": norm,
                            "fitted exponent": -fitted.slope,
                            "95% interval": f"[{-fitted.high:.3g}, {-fitted.low:.3g}]"
                            if math.isfinite(fitted.stderr)
                            else "-",
                            "predicted": "-" if math.isnan(pred) else pred,
                            "widths fitted": fitted.n,
                            "error at largest W": float(err[-1]) if err.size else float("nan"),
                        }
                    )
                    summary[f"{family}/d{d}/L{depth}/{norm}/exponent"] = -fitted.slope
                    summary[f"{family}/d{d}/L{depth}/{norm}/predicted"] = pred
    alpha = float(ex.alpha)
    errors_rows = [
        {
            "family": r["family"],
            "d": r["d"],
            "L": r["depth"],
            "width": r["width"],
            "W": r["W"],
            **({"cells/side": r["cells_per_side"]} if r["family"] == "holder" else {}),
            **{n: r["errors"][n][0] for n in norms},
            **(
                {"L2 / h^alpha": r["errors"]["L2"][0] / (1.0 / r["cells_per_side"]) ** alpha}
                if r["family"] == "holder" and "L2" in r["errors"]
                else {}
            ),
            **(
                {"L2 / ||f||_2": r["errors"]["L2"][0] / r["target_L2"]}
                if "L2" in r["errors"] and r["target_L2"] > 0
                else {}
            ),
            "train loss": r["train_loss"],
        }
        for r in records
    ]
    return StudyResult(
        tables={
            "slopes": Table(slopes, "fitted exponents of error ~ W^-exponent against the theory"),
            "errors": Table(errors_rows, "L^p and sup-norm errors of the best restart"),
        },
        summary=summary,
        arrays={
            "records": records,
            "norms": norms,
            "alpha": float(ex.alpha),
            "plot": bool(ex.plot),
        },
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``rates.png``: error against W (log-log), one panel per family and dimension."""
    if not result.arrays["plot"]:
        return
    records, norms = result.arrays["records"], result.arrays["norms"]
    panels = []
    keys = sorted({(r["family"], r["d"]) for r in records}, key=_family_order)
    for family, d in keys:
        curves = []
        group = [r for r in records if (r["family"], r["d"]) == (family, d)]
        depths = sorted({r["depth"] for r in group})
        for ni, norm in enumerate(norms):
            for di, depth in enumerate(depths):
                rows = sorted((r for r in group if r["depth"] == depth), key=lambda r: r["W"])
                w = np.array([r["W"] for r in rows], np.float64)
                e = np.array([r["errors"][norm][0] for r in rows])
                curves.append(
                    report.Curve(
                        w,
                        np.maximum(e, 1e-12),
                        f"{norm}, L={depth}" if ni == 0 or di == 0 else None,
                        fmt=("o-", "s--", "^:", "v-.")[di % 4],
                        color=ni,
                    )
                )
            p = math.inf if norm == "sup" else float(norm[1:])
            pred = predicted_exponent(family, d, p, result.arrays["alpha"])
            first = min((r for r in group if r["depth"] == depths[0]), key=lambda r: r["W"])
            if math.isfinite(pred):
                w = np.geomspace(first["W"], max(r["W"] for r in group), 16)
                e0 = max(first["errors"][norm][0], 1e-12)
                curves.append(
                    report.Curve(
                        w,
                        e0 * (w / w[0]) ** (-pred),
                        f"theory $W^{{-{pred:.3g}}}$ ({norm})",
                        fmt="-",
                        color=ni,
                        alpha=0.3,
                    )
                )
        panels.append(
            report.Panel(
                curves,
                title=f"{family}, d = {d}",
                xlabel="parameters $W$",
                ylabel=r"$\|f - g\|$",
                xscale="log",
                yscale="log",
                legend_columns=2,
            )
        )
    ncols = min(len(panels), max(1, len(sorted({r["d"] for r in records}))))
    nrows = math.ceil(len(panels) / ncols)
    fig = report.panels_figure(panels, ncols=ncols, figsize=(6.0 * ncols, 4.2 * nrows))
    ctx.save_figure(fig, "rates")


STUDY = register_study(
    Study("approximation_rates", ApproximationRatesConfig, run=run, check=check, report=plot)
)
