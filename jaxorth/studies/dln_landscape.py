"""Study ``experiment=dln_landscape``: construct, classify and check DLN critical points.

For random shape families ``(d_0, ..., d_H)`` per depth, critical points of every kind
are built with :func:`jaxorth.dln.random_critical_points` (prescribed eigen-index sets
``S``, layer ranks and random invertible gauges), classified from the theory alone
(:func:`jaxorth.dln.classify`, Achour, Malgouyres & Gerchinovitz, JMLR 2024) and checked
against the smallest eigenvalue of the float64 dense Hessian
(:func:`jaxorth.dln.loss_hessian`, :func:`jaxorth.dln.hessian_test`): a point is
strict when ``lambda_min < -strict_tol * s``, non-negative when
``lambda_min > -zero_tol * s`` (``s = max(|lambda|_max, ||S_yx||_2)``), ambiguous in
between. Outputs: agreement table per depth, Hessian spectra per class (plot).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import DictConfig

from jaxorth import dln, report
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table
from jaxorth.studies._registry import register_study

_THEORY_CLASSES = ("global_minimum", "strict_saddle", "non_strict_saddle")
_COLUMN = {"global_minimum": "global_min", "strict_saddle": "strict"}


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


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.experiment``, before any compute."""
    ex = cfg.experiment
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


_hessians = jax.jit(jax.vmap(dln.loss_hessian, in_axes=(0, None, None)))


def _families(rng: np.random.Generator, depth: int, max_width: int, n: int) -> list[tuple]:
    out = []
    for _ in range(n):
        dy = int(rng.integers(1, min(3, max_width) + 1))
        dx = int(rng.integers(dy, max_width + 1))
        hidden = [int(rng.integers(1, max_width + 1)) for _ in range(depth - 1)]
        out.append((dx, *hidden, dy))
    return out


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Build, classify and Hessian-check critical points per depth (float64)."""
    ex = cfg.experiment
    rng = np.random.default_rng(int(cfg.seed))
    rows, spectra = [], {k: [] for k in _THEORY_CLASSES}
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
            ev = np.linalg.eigvalsh(np.asarray(_hessians(ws, X, Y)))
            test = dln.hessian_test(
                ev, X, Y, strict_tol=float(ex.strict_tol), zero_tol=float(ex.zero_tol)
            )
            Xn, Yn = np.asarray(X), np.asarray(Y)
            for j in range(len(meta)):
                kind = dln.classify([np.asarray(W[j]) for W in ws], Xn, Yn)
                rel, strict, nonneg = test.rel_min[j], test.strict[j], test.nonnegative[j]
                counts[kind] += 1
                rels[kind].append(rel)
                if len(spectra.get(kind, [None] * 9)) < 6:
                    spectra[kind].append(ev[j] / test.scale[j])
                row["cases"] += 1
                row["agree"] += int(dln.agrees_with_hessian(kind, strict, nonneg))
                row["ambiguous"] += int(not strict and not nonneg)
                row[_COLUMN.get(kind, "non_strict")] += int(kind != "not_critical")
                if strict:
                    strict_gap = min(strict_gap, -rel)
                elif nonneg:
                    zero_max = max(zero_max, -rel)
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
    summary = {
        "cases": total,
        "agree": agree,
        "ambiguous": ambiguous,
        "not_critical": counts["not_critical"],
        "global_minimum": counts["global_minimum"],
        "strict_saddle": counts["strict_saddle"],
        "non_strict_saddle": counts["non_strict_saddle"],
    }
    return StudyResult(
        tables={"results": Table(rows, "classify (theory) vs float64 Hessian")},
        summary=summary,
        arrays={"spectra": spectra, "rels": rels},
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``spectra.png``: Hessian spectra per class, and ``lambda_min / s`` per class."""
    spectra, rels = result.arrays["spectra"], result.arrays["rels"]
    colors = {"global_minimum": 2, "strict_saddle": 3, "non_strict_saddle": 0}
    lines = [
        report.Curve(
            np.arange(e.size),
            e,
            label=kind if i == 0 else None,
            fmt=".-",
            color=colors[kind],
            alpha=0.7,
        )
        for kind, evs in spectra.items()
        for i, e in enumerate(evs)
    ]
    points = []
    for i, kind in enumerate(colors):
        v = np.asarray(rels[kind])
        x = np.full(v.size, i) + np.random.default_rng(0).uniform(-0.2, 0.2, v.size)
        points.append(report.Curve(x, v, kind="scatter", color=colors[kind], size=6.0))
    panels = [
        report.Panel(
            lines,
            title="Hessian spectra per class",
            xlabel="index",
            ylabel=r"Hessian eigenvalue / $s$",
            yscale="symlog",
            linthresh=1e-6,
        ),
        report.Panel(
            points,
            title="smallest Hessian eigenvalue per theory class",
            ylabel=r"$\lambda_{\min} / s$",
            yscale="symlog",
            linthresh=1e-16,
            xticks=(range(3), list(colors)),
            legend=False,
        ),
    ]
    ctx.save_figure(report.panels_figure(panels, figsize=(11.0, 4.0)), "spectra")


STUDY = register_study(
    Study("dln_landscape", DLNLandscapeConfig, run=run, check=check, report=plot, float64=True)
)
