"""Study ``experiment=dln_landscape``: construct, classify and check DLN critical points.

For random shape families ``(d_0, ..., d_H)`` per depth, critical points of every kind
are built with :func:`jaxorth.dln.random_critical_points` (prescribed eigen-index sets
``S``, layer ranks and random invertible gauges), classified from the theory alone
(:func:`jaxorth.dln.classify`, Achour, Malgouyres & Gerchinovitz, JMLR 2024) and checked
against the smallest eigenvalue of the float64 dense Hessian. The oracle calls a point
strict when ``lambda_min < -strict_tol * s``, non-negative when
``lambda_min > -zero_tol * s`` (``s = max(|lambda|_max, ||S_yx||_2)``), ambiguous in
between. Outputs: agreement table per depth, Hessian spectra per class (plot).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from omegaconf import DictConfig

from jaxorth import dln
from jaxorth._precision import float64
from jaxorth.studies._context import RunContext
from jaxorth.studies._registry import register_study


@dataclasses.dataclass
class DLNLandscapeConfig:
    """Schema of ``experiment=dln_landscape``."""

    name: str = "dln_landscape"
    depths: list[int] = dataclasses.field(default_factory=lambda: [2, 3, 4, 5])
    max_width: int = 5
    families_per_depth: int = 3
    cases_per_family: int = 30
    strict_tol: float = 1e-8
    zero_tol: float = 1e-11
    plot: bool = True


@jax.jit
def _hessian_stack(ws, X, Y):
    def one(w):
        flat, unravel = ravel_pytree(w)
        return jax.hessian(lambda x: dln.loss(unravel(x), X, Y))(flat)

    return jax.vmap(one)(ws)


def _families(rng: np.random.Generator, depth: int, max_width: int, n: int) -> list[tuple]:
    out = []
    for _ in range(n):
        dy = int(rng.integers(1, min(3, max_width) + 1))
        dx = int(rng.integers(dy, max_width + 1))
        hidden = [int(rng.integers(1, max_width + 1)) for _ in range(depth - 1)]
        out.append((dx, *hidden, dy))
    return out


def check_config(ex: DictConfig) -> None:
    """Domain checks, before any compute."""
    if not ex.depths or min(ex.depths) < 2:
        raise ValueError(
            f"experiment.depths must be non-empty with every depth >= 2, got {list(ex.depths)}"
        )
    if ex.max_width < 1 or ex.families_per_depth < 1 or ex.cases_per_family < 1:
        raise ValueError(
            "experiment.max_width, experiment.families_per_depth and "
            f"experiment.cases_per_family must be >= 1, got {ex.max_width}, "
            f"{ex.families_per_depth}, {ex.cases_per_family}"
        )
    if not 0 < ex.zero_tol < ex.strict_tol:
        raise ValueError(
            "need 0 < experiment.zero_tol < experiment.strict_tol, got "
            f"{ex.zero_tol}, {ex.strict_tol}"
        )


@register_study("dln_landscape", DLNLandscapeConfig)
def run(cfg: DictConfig, ctx: RunContext) -> dict:
    ex = cfg.experiment
    check_config(ex)
    with float64():
        return _run(cfg, ex, ctx)


def _run(cfg: DictConfig, ex: DictConfig, ctx: RunContext) -> dict:
    rng = np.random.default_rng(int(cfg.seed))
    rows, spectra = [], {k: [] for k in dln.CLASSES[1:]}
    rels = {k: [] for k in dln.CLASSES}
    total = agree = ambiguous = 0
    counts: dict[str, int] = {k: 0 for k in dln.CLASSES}
    for depth in ex.depths:
        row = {"H": depth, "cases": 0, "global_min": 0, "strict": 0, "non_strict": 0}
        row.update({"agree": 0, "ambiguous": 0})
        strict_gap, zero_max = np.inf, 0.0
        for widths in _families(rng, depth, int(ex.max_width), int(ex.families_per_depth)):
            key = jax.random.PRNGKey(int(rng.integers(0, 2**31 - 1)))
            X, Y = dln.make_data(key, widths[0], widths[-1], widths[0] + 3, dtype=jnp.float64)
            ws, meta = dln.random_critical_points(
                jax.random.fold_in(key, 1), X, Y, widths, int(ex.cases_per_family)
            )
            ev = np.linalg.eigvalsh(np.asarray(_hessian_stack(ws, X, Y)))
            s = np.maximum(np.abs(ev).max(axis=1), np.linalg.norm(np.asarray(Y @ X.T), 2))
            rel = ev[:, 0] / s
            Xn, Yn = np.asarray(X), np.asarray(Y)
            for j in range(len(meta)):
                kind = dln.classify([np.asarray(W[j]) for W in ws], Xn, Yn)
                counts[kind] += 1
                rels[kind].append(rel[j])
                if len(spectra.get(kind, [None] * 9)) < 6:
                    spectra[kind].append(ev[j] / s[j])
                strict = rel[j] < -ex.strict_tol
                nonneg = rel[j] > -ex.zero_tol
                ok = (kind == "strict_saddle" and strict) or (
                    kind in ("global_minimum", "non_strict_saddle") and nonneg
                )
                row["cases"] += 1
                row["agree"] += int(ok)
                row["ambiguous"] += int(not strict and not nonneg)
                row[
                    {"global_minimum": "global_min", "strict_saddle": "strict"}.get(
                        kind, "non_strict"
                    )
                ] += int(kind != "not_critical")
                if strict:
                    strict_gap = min(strict_gap, -rel[j])
                elif nonneg:
                    zero_max = max(zero_max, -rel[j])
        row["min_strict_|rel|"] = float(strict_gap)
        row["max_nonneg_|rel|"] = float(zero_max)
        rows.append(row)
        total += row["cases"]
        agree += row["agree"]
        ambiguous += row["ambiguous"]
        ctx.tracker.log({"agree": row["agree"], "cases": row["cases"]}, step=int(depth))
    rows.append(
        {
            "H": "all",
            "cases": total,
            "global_min": counts["global_minimum"],
            "strict": counts["strict_saddle"],
            "non_strict": counts["non_strict_saddle"],
            "agree": agree,
            "ambiguous": ambiguous,
        }
    )
    ctx.table(rows, title="classify (theory) vs float64 Hessian", name="results")
    if ex.plot:
        _plot(ctx, spectra, rels)
    return {
        "cases": total,
        "agree": agree,
        "ambiguous": ambiguous,
        "not_critical": counts["not_critical"],
        "global_minimum": counts["global_minimum"],
        "strict_saddle": counts["strict_saddle"],
        "non_strict_saddle": counts["non_strict_saddle"],
    }


def _plot(ctx: RunContext, spectra: dict, rels: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"global_minimum": "C2", "strict_saddle": "C3", "non_strict_saddle": "C0"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for kind, evs in spectra.items():
        for i, e in enumerate(evs):
            axes[0].plot(
                np.arange(e.size),
                e,
                ".-",
                color=colors[kind],
                alpha=0.7,
                label=kind if i == 0 else None,
            )
    axes[0].set_yscale("symlog", linthresh=1e-6)
    axes[0].set_xlabel("index")
    axes[0].set_ylabel("Hessian eigenvalue / scale")
    axes[0].set_title("Hessian spectra per class")
    axes[0].legend()
    for i, kind in enumerate(colors):
        v = np.asarray(rels[kind])
        axes[1].scatter(
            np.full(v.size, i) + np.random.default_rng(0).uniform(-0.2, 0.2, v.size),
            v,
            s=6,
            color=colors[kind],
        )
    axes[1].set_yscale("symlog", linthresh=1e-16)
    axes[1].set_xticks(range(3), list(colors))
    axes[1].set_ylabel("lambda_min / scale")
    axes[1].set_title("smallest Hessian eigenvalue per theory class")
    ctx.save_figure(fig, "spectra")
