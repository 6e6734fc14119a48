r"""Study ``experiment=orthconv_landscape``: minimising L_orth alone, config by config.

Achour, Malgouyres, Mamalet (JMLR 2022): an orthogonal circular convolution exists iff
``M <= C k^d`` (row-orthogonal case ``M <= C S^d``) or ``S <= k`` (column-orthogonal case
``M >= C S^d``) (existence theorem, circular padding), and ``L_orth(K) = 0`` iff the
layer is orthogonal. When
``S > k`` the polyphase kernel has ``C (S^d - k^d)`` identically zero columns, so every
kernel has ``L_orth >= M - C k^d`` (impossible RO) or ``L_orth >= C (S^d - k^d)``
(impossible CO); both bounds are attained by non-overlapping (RKO-like) kernels.

For every configuration ``[M, C, k, S]`` of ``configs`` the study minimises
:func:`~jaxorth.orthconv.lorth` alone (float32) from ``inits`` random Gaussian kernels
(``std = 1 / sqrt(C k^d)``) with optax (``lbfgs``, or ``adam`` with a cosine-decayed
learning rate) through :func:`~jaxorth.orthconv.minimise_lorth`, and reports the
predicted lower bound (:func:`~jaxorth.orthconv.lorth_lower_bound`), the final and best
values of ``L_orth - bound``, how many inits reach
``L_orth - bound < tol`` and the median number of steps they need (for impossible
configurations, "never below the bound" allows a float32 rounding slack of
``1e-5 bound``). Outputs: a table (``results.md``) and ``landscape.png``
(``L_orth - bound`` along the optimisation; final ``L_orth`` against the bound).

Observed with the defaults (seed 0, L-BFGS, 500 steps): every impossible run ends at its
bound; stride-2 valid runs reach 1e-8 to 1e-13; stride-1 valid runs slow down near 1e-7
(degenerate minima); in the square case with ``k > S``, half the inits stall at
``L_orth`` around 0.04-0.2 (see :class:`~jaxorth.orthconv.SquareOrthogonalConvWarning`).
Run::

    jaxorth experiment=orthconv_landscape
    jaxorth experiment=orthconv_landscape experiment.optimizer=adam experiment.steps=3000
"""

from __future__ import annotations

import dataclasses
import enum
import time

import jax.numpy as jnp
import numpy as np
import optax
from omegaconf import DictConfig

from jaxorth import orthconv, report
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table
from jaxorth.studies._registry import register_study


def _default_configs() -> list[list[int]]:
    return [
        [16, 16, 3, 1],  # square, stride 1
        [8, 16, 3, 1],  # RO
        [32, 16, 3, 1],  # CO
        [32, 16, 3, 2],  # RO, stride 2
        [64, 16, 3, 2],  # square, stride 2
        [96, 16, 3, 2],  # CO, stride 2 <= k
        [32, 16, 2, 2],  # RO, even k = S
        [64, 16, 2, 2],  # square, k = S
        [24, 4, 2, 3],  # impossible RO: C k^2 = 16 < M <= C S^2 = 36
        [12, 4, 1, 2],  # impossible RO: C k^2 = 4 < M <= C S^2 = 16
        [40, 4, 2, 3],  # impossible CO: S = 3 > k = 2
        [20, 4, 1, 2],  # impossible CO: S = 2 > k = 1
    ]


class Optimizer(enum.StrEnum):
    """``experiment.optimizer``: optax L-BFGS, or Adam with a cosine-decayed rate."""

    lbfgs = "lbfgs"
    adam = "adam"


@dataclasses.dataclass
class LandscapeConfig:
    """Schema of ``experiment=orthconv_landscape``."""

    name: str = "orthconv_landscape"
    configs: list[list[int]] = dataclasses.field(default_factory=_default_configs)
    ndim: int = 2
    inits: int = 4
    steps: int = 500
    optimizer: Optimizer = Optimizer.lbfgs
    lr: float = 1e-2
    tol: float = 1e-6
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.experiment``, before any compute (messages name the key)."""
    ex = cfg.experiment
    if not ex.configs:
        raise ValueError("experiment.configs must be a non-empty list of [M, C, k, S]")
    for entry in ex.configs:
        if len(entry) != 4 or min(int(v) for v in entry) < 1:
            raise ValueError(
                f"experiment.configs entries must be [M, C, k, S] with positive ints, "
                f"got {list(entry)}"
            )
    if int(ex.ndim) < 1:
        raise ValueError(f"experiment.ndim must be >= 1, got {ex.ndim}")
    if int(ex.inits) < 1 or int(ex.steps) < 1:
        raise ValueError(
            f"experiment.inits and experiment.steps must be >= 1, got {ex.inits}, {ex.steps}"
        )
    if not (float(ex.lr) > 0 and float(ex.tol) > 0):
        raise ValueError(f"experiment.lr and experiment.tol must be > 0, got {ex.lr}, {ex.tol}")


def _optimizer(name: str, lr: float, steps: int) -> optax.GradientTransformationExtraArgs:
    if name == Optimizer.lbfgs:
        return optax.lbfgs()
    return optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=1e-2))


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Minimise ``L_orth`` from random kernels for every configuration; compare to the bound."""
    ex = cfg.experiment
    d, steps, tol = int(ex.ndim), int(ex.steps), float(ex.tol)
    opt = _optimizer(str(ex.optimizer), float(ex.lr), steps)
    rng = np.random.default_rng(int(cfg.seed))
    rows, curves = [], []
    valid_ok = valid_total = impossible_ok = impossible_total = 0
    for m, c, k, s in ([int(v) for v in row] for row in ex.configs):
        exists = orthconv.orthogonal_conv_exists(m, c, k, s, d)
        bound = orthconv.lorth_lower_bound(m, c, k, s, d)
        kind = "square" if m == c * s**d else ("RO" if m < c * s**d else "CO")
        shape = (int(ex.inits), m, c) + (k,) * d
        kernels = jnp.asarray(rng.standard_normal(shape) / np.sqrt(c * k**d), jnp.float32)
        t0 = time.perf_counter()
        _, losses = orthconv.minimise_lorth(kernels, s, steps, opt)
        losses = np.asarray(losses, dtype=np.float64)
        seconds = time.perf_counter() - t0
        gap = losses - bound  # (inits, steps + 1)
        reached = gap < tol
        steps_to = [int(np.argmax(r)) for r in reached if r.any()]
        final_gap = gap[:, -1]
        if exists:
            valid_total += len(final_gap)
            valid_ok += len(steps_to)
        else:
            impossible_total += len(final_gap)
            # float32 rounding of a sum of ~M^2 (2r+1)^d squares near the bound: 1e-5 relative
            impossible_ok += int(np.sum(losses.min(axis=1) >= bound * (1 - 1e-5) - tol))
        rows.append(
            {
                "M": m,
                "C": c,
                "k": k,
                "S": s,
                "case": kind,
                "exists": exists,
                "bound": bound,
                "L_orth final (median)": float(np.median(losses[:, -1])),
                "L_orth - bound, best": float(gap.min()),
                "L_orth - bound, worst final": float(final_gap.max()),
                f"runs with L - bound < {tol:g}": f"{len(steps_to)}/{len(final_gap)}",
                "median steps to it": int(np.median(steps_to)) if steps_to else "-",
                "seconds": round(seconds, 2),
            }
        )
        curves.append(
            {
                "label": f"[{m},{c},{k},{s}] {kind}",
                "exists": exists,
                "bound": bound,
                "losses": losses,
            }
        )
        ctx.tracker.log(
            {"M": m, "C": c, "k": k, "S": s, "final_median": float(np.median(losses[:, -1]))},
            step=len(rows),
        )
    title = f"minimising L_orth alone ({ex.optimizer}, {steps} steps, d={d}, float32)"
    impossible_gaps = [e["losses"].min() - e["bound"] for e in curves if not e["exists"]]
    summary = {
        "valid_reached": valid_ok,
        "valid_runs": valid_total,
        "impossible_above_bound": impossible_ok,
        "impossible_runs": impossible_total,
        "min_impossible_gap": float(min(impossible_gaps, default=float("nan"))),
    }
    return StudyResult(
        tables={"results": Table(rows, title)}, summary=summary, arrays={"curves": curves}
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``landscape.png``: ``L_orth - bound`` along the runs; final ``L_orth`` vs the bound."""
    entries = result.arrays["curves"]
    gaps, finals = [], []
    for i, e in enumerate(entries):
        losses, bound = e["losses"], e["bound"]
        floor = max(1e-16, 2e-7 * bound)  # float32 resolution of L_orth near the bound
        fmt = "-" if e["exists"] else ":"
        for j, curve in enumerate(losses):
            gaps.append(
                report.Curve(
                    np.arange(len(curve)),
                    np.maximum(curve - bound, floor),
                    label=e["label"] if j == 0 else None,
                    fmt=fmt,
                    color=i,
                )
            )
        finals.append(
            report.Curve(np.full(len(losses), bound), losses[:, -1], kind="scatter", color=i)
        )
    top = max(max(e["bound"] for e in entries), 1)
    finals.append(report.Curve([0, top], [0, top], label="$L_{orth}$ = bound", fmt="--", color="k"))
    panels = [
        report.Panel(
            gaps,
            title="valid (solid) reach 0; impossible (dotted) plateau at the bound",
            xlabel="step",
            ylabel=r"$L_{orth}$ - lower bound (clipped at float32 resolution)",
            yscale="log",
        ),
        report.Panel(
            finals,
            xlabel="predicted lower bound (0 if an orthogonal conv exists)",
            ylabel=r"final $L_{orth}$",
            xscale="symlog",
            yscale="symlog",
            linthresh=1e-6,
        ),
    ]
    ctx.save_figure(report.panels_figure(panels, figsize=(13.0, 4.5)), "landscape")


STUDY = register_study(
    Study("orthconv_landscape", LandscapeConfig, run=run, check=check, report=plot)
)
