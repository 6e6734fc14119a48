"""Study ``experiment=dln_gradient_flow``: gradient flow of deep linear networks.

For each depth ``H`` and initial scale ``eps`` the exact gradient flow (diffrax, adaptive
Tsit5) runs from a small random initialisation. Reported: loss curves with the
predicted critical values ``tr(S_yy) - (l_1 + ... + l_k)`` drawn (Saxe et al. 2014), the
drift of the conserved ``W_{h+1}^T W_{h+1} - W_h W_h^T`` (Arora et al. 2018), and the
escape time from the initial plateau against ``eps`` with the predicted scaling
(``log(1/eps)`` for ``H = 2``, ``eps^{-(H-2)}`` for ``H >= 3``).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import DictConfig

from jaxorth import dln
from jaxorth._precision import float64
from jaxorth.studies._context import RunContext
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


def check_config(ex: DictConfig) -> None:
    """Domain checks, before any compute."""
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


@register_study("dln_gradient_flow", DLNGradientFlowConfig)
def run(cfg: DictConfig, ctx: RunContext) -> dict:
    ex = cfg.experiment
    check_config(ex)
    with float64():
        return _run(cfg, ex, ctx)


def _run(cfg: DictConfig, ex: DictConfig, ctx: RunContext) -> dict:
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
            # distance of the closest visit to each critical value, relative to its gap
            scale = np.asarray(eigs + [eigs[-1]])[: len(plateaus)]
            gaps = np.abs(L[:, None] - plateaus[None, :]).min(axis=0) / scale
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
                    "max_plateau_miss": float(gaps.max()),
                    "max_drift": float(np.max(res.drift)),
                }
            )
            ctx.tracker.log(
                {"t_escape": t_esc, "max_drift": float(np.max(res.drift))}, step=len(rows)
            )
        times = np.asarray(times)
        inits = np.asarray(list(ex.inits), np.float64)
        if len(inits) >= 2 and np.all(np.isfinite(times)):
            if depth == 2:
                fit = float(np.polyfit(np.log(1 / inits), times, 1)[0])
                summary[f"H{depth}_dt_dlog(1/eps)"] = fit
            else:
                fit = float(-np.polyfit(np.log(inits), np.log(times), 1)[0])
                summary[f"H{depth}_exponent"] = fit
                summary[f"H{depth}_exponent_predicted"] = depth - 2
    ctx.table(rows, title="gradient flow from small init", name="results")
    summary["max_drift"] = float(max(r["max_drift"] for r in rows))
    summary["max_plateau_miss"] = float(max(r["max_plateau_miss"] for r in rows))
    if ex.plot:
        _plot(ctx, curves, rows, list(ex.depths))
    return summary


def _plot(ctx: RunContext, curves: dict, rows: list, depths: list) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(depths), figsize=(4.5 * len(depths), 3.6), squeeze=False)
    for ax, depth in zip(axes[0], depths):
        mine = [(eps, c) for (h, eps), c in curves.items() if h == depth]
        for eps, (ts, L, _, _) in mine:
            ax.plot(ts / ts[-1], L, label=f"eps={eps:g}")
        for v in mine[0][1][3]:
            ax.axhline(v, color="k", lw=0.6, ls="--")
        ax.set_title(f"H={depth}: loss (dashed: critical values)")
        ax.set_xlabel("t / t_end")
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "loss_curves")

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for (h, eps), (ts, _, drift, _) in curves.items():
        ax.semilogy(ts / ts[-1], np.maximum(drift, 1e-18), label=f"H={h}, eps={eps:g}")
    ax.set_title("conservation drift max_h ||C_h(t) - C_h(0)||")
    ax.set_xlabel("t / t_end")
    ax.legend(fontsize=6)
    ctx.save_figure(fig, "conservation_drift")

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for depth in depths:
        pts = [(r["init"], r["t_escape"]) for r in rows if r["H"] == depth]
        e, t = np.asarray(pts).T
        ax.loglog(1 / e, t, "o-", label=f"H={depth} measured")
        ax.loglog(
            1 / e,
            [r["t_pred_scalar"] for r in rows if r["H"] == depth],
            "x:",
            label=f"H={depth} scalar model",
        )
    ax.set_xlabel("1 / init scale")
    ax.set_ylabel("escape time")
    ax.set_title("escape time: log(1/eps) for H=2, eps^-(H-2) for H>=3")
    ax.legend(fontsize=7)
    ctx.save_figure(fig, "escape_time")
