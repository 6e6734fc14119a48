"""Study ``experiment=dln_gradient_flow``: gradient flow of deep linear networks.

For each depth ``H`` and initial scale ``eps`` the exact gradient flow (diffrax, adaptive
Tsit5) runs from a small random initialisation. Reported: loss curves with the
predicted critical values ``tr(S_yy) - (l_1 + ... + l_k)`` drawn (Saxe et al. 2014), the
drift of the conserved ``W_{h+1}^T W_{h+1} - W_h W_h^T`` (Arora et al. 2018), and the
escape time from the initial plateau against ``eps`` with the predicted scaling
(``log(1/eps)`` for ``H = 2``, ``eps^{-(H-2)}`` for ``H >= 3``;
:func:`jaxorth.dln.escape_scaling`).
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


@dataclasses.dataclass
class DLNGradientFlowConfig:
    """Schema of ``experiment=dln_gradient_flow``."""

    name: str = "dln_gradient_flow"
    depths: list[int] = dataclasses.field(default_factory=lambda: [2, 3, 4])
    inits: list[float] = dataclasses.field(default_factory=lambda: [0.2, 0.1, 0.05])
    d_x: int = 4
    d_hidden: int = 4
    eigenvalues: list[float] = dataclasses.field(default_factory=lambda: [9.0, 4.0, 1.0])
    samples: int = 20
    rtol: float = 1e-8
    atol: float = 1e-10
    n_save: int = 400
    horizon: float = 4.0
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.experiment``, before any compute."""
    ex = cfg.experiment
    if not ex.depths or min(ex.depths) < 2:
        raise ValueError(f"experiment.depths must be >= 2, got {list(ex.depths)}")
    if not ex.inits or min(ex.inits) <= 0:
        raise ValueError(f"experiment.inits must be > 0, got {list(ex.inits)}")
    dy = len(ex.eigenvalues)
    if not 1 <= dy <= ex.d_x < ex.samples:
        raise ValueError(
            "need 1 <= len(experiment.eigenvalues) <= experiment.d_x < experiment.samples, "
            f"got {dy}, {ex.d_x}, {ex.samples}"
        )
    if ex.d_hidden < 1 or ex.n_save < 10 or ex.horizon <= 0:
        raise ValueError(
            f"need experiment.d_hidden >= 1, n_save >= 10, horizon > 0; got {ex.d_hidden}, "
            f"{ex.n_save}, {ex.horizon}"
        )


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Integrate the flow per (depth, init scale); plateaus, drift and escape times."""
    ex = cfg.experiment
    key = jax.random.PRNGKey(int(cfg.seed))
    eigs = [float(v) for v in ex.eigenvalues]
    dy = len(eigs)
    X, Y = dln.make_data(key, int(ex.d_x), dy, int(ex.samples), eigenvalues=eigs, dtype=jnp.float64)
    s_min = float(np.sqrt(min(eigs)))
    rows, curves, summary = [], {}, {}
    for depth in ex.depths:
        widths = (int(ex.d_x),) + (int(ex.d_hidden),) * (depth - 1) + (dy,)
        plateaus = np.asarray(dln.plateau_values(X, Y, widths))
        times = []
        for eps in ex.inits:
            w0 = dln.small_init(jax.random.fold_in(key, depth), widths, float(eps), jnp.float64)
            t_end = ex.horizon * dln.predicted_escape_time(depth, float(eps), s_min)
            ts = jnp.linspace(0.0, t_end, int(ex.n_save))
            res = dln.gradient_flow(w0, X, Y, ts, rtol=ex.rtol, atol=ex.atol, max_steps=500_000)
            t_esc = dln.escape_time(res.ts, res.losses, floor=float(plateaus[1]))
            L = np.asarray(res.losses)
            times.append(t_esc)
            curves[(depth, float(eps))] = (np.asarray(res.ts), L, np.asarray(res.drift), plateaus)
            rows.append(
                {
                    "H": depth,
                    "init": float(eps),
                    "t_escape": t_esc,
                    "t_pred_scalar": dln.predicted_escape_time(
                        depth, float(eps), float(np.sqrt(eigs[0]))
                    ),
                    "final_loss": float(L[-1]),
                    "global_min": float(plateaus[-1]),
                    "max_plateau_miss": float(dln.plateau_miss(L, plateaus, eigs).max()),
                    "max_drift": float(np.max(res.drift)),
                }
            )
            ctx.tracker.log(
                {"t_escape": t_esc, "max_drift": float(np.max(res.drift))}, step=len(rows)
            )
        fit = dln.escape_scaling(depth, list(ex.inits), times)
        if np.isfinite(fit):
            if depth == 2:
                summary[f"H{depth}_dt_dlog(1/eps)"] = fit
            else:
                summary[f"H{depth}_exponent"] = fit
                summary[f"H{depth}_exponent_predicted"] = depth - 2
    summary["max_drift"] = float(max(r["max_drift"] for r in rows))
    summary["max_plateau_miss"] = float(max(r["max_plateau_miss"] for r in rows))
    return StudyResult(
        tables={"results": Table(rows, "gradient flow from small init")},
        summary=summary,
        arrays={"curves": curves, "rows": rows, "depths": list(ex.depths)},
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``loss_curves.png``, ``conservation_drift.png`` and ``escape_time.png``."""
    curves, rows, depths = (result.arrays[k] for k in ("curves", "rows", "depths"))
    panels = []
    for depth in depths:
        mine = [(eps, c) for (h, eps), c in curves.items() if h == depth]
        panels.append(
            report.Panel(
                [
                    report.Curve(ts / ts[-1], L, label=f"$\\epsilon={eps:g}$")
                    for eps, (ts, L, _, _) in mine
                ],
                hlines=[report.HLine(float(v), width=0.6) for v in mine[0][1][3]],
                title=f"$H={depth}$: loss (dashed: critical values)",
                xlabel="$t / t_{end}$",
                yscale="linear",
            )
        )
    ctx.save_figure(report.panels_figure(panels, figsize=(4.5 * len(depths), 3.6)), "loss_curves")

    drift = [
        report.Curve(ts / ts[-1], np.maximum(d, 1e-18), label=f"$H={h}$, $\\epsilon={eps:g}$")
        for (h, eps), (ts, _, d, _) in curves.items()
    ]
    panel = report.Panel(
        drift,
        title=r"conservation drift $\max_h \|C_h(t) - C_h(0)\|$",
        xlabel="$t / t_{end}$",
        yscale="log",
    )
    ctx.save_figure(report.panels_figure([panel], figsize=(5.0, 3.6)), "conservation_drift")

    escape = []
    for i, depth in enumerate(depths):
        mine = [r for r in rows if r["H"] == depth]
        inv = [1 / r["init"] for r in mine]
        escape.append(
            report.Curve(inv, [r["t_escape"] for r in mine], f"$H={depth}$ measured", "o-", color=i)
        )
        escape.append(
            report.Curve(
                inv, [r["t_pred_scalar"] for r in mine], f"$H={depth}$ scalar model", "x:", color=i
            )
        )
    panel = report.Panel(
        escape,
        title=r"escape time: $\log(1/\epsilon)$ for $H=2$, $\epsilon^{-(H-2)}$ for $H\geq 3$",
        xlabel=r"$1 / \epsilon$ (init scale)",
        ylabel="escape time",
        xscale="log",
        yscale="log",
    )
    ctx.save_figure(report.panels_figure([panel], figsize=(5.0, 3.6)), "escape_time")


STUDY = register_study(
    Study(
        "dln_gradient_flow", DLNGradientFlowConfig, run=run, check=check, report=plot, float64=True
    )
)
