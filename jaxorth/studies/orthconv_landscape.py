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
learning rate), one jitted ``lax.scan`` per configuration, and reports the predicted lower
bound, the final and best values of ``L_orth - bound``, how many inits reach
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
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from omegaconf import DictConfig

from jaxorth import orthconv
from jaxorth.studies._context import RunContext
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


@dataclasses.dataclass
class LandscapeConfig:
    """Schema of ``experiment=orthconv_landscape``."""

    name: str = "orthconv_landscape"
    configs: list[list[int]] = dataclasses.field(default_factory=_default_configs)
    ndim: int = 2
    inits: int = 4
    steps: int = 500
    optimizer: str = "lbfgs"
    lr: float = 1e-2
    tol: float = 1e-6
    plot: bool = True


def check_config(ex: DictConfig) -> None:
    """Domain checks, before any compute (messages name the key)."""
    if not ex.configs:
        raise ValueError("experiment.configs must be a non-empty list of [M, C, k, S]")
    for cfg in ex.configs:
        if len(cfg) != 4 or min(int(v) for v in cfg) < 1:
            raise ValueError(
                f"experiment.configs entries must be [M, C, k, S] with positive ints, "
                f"got {list(cfg)}"
            )
    if int(ex.ndim) < 1:
        raise ValueError(f"experiment.ndim must be >= 1, got {ex.ndim}")
    if int(ex.inits) < 1 or int(ex.steps) < 1:
        raise ValueError(
            f"experiment.inits and experiment.steps must be >= 1, got {ex.inits}, {ex.steps}"
        )
    if ex.optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"experiment.optimizer must be 'lbfgs' or 'adam', got {ex.optimizer!r}")
    if not (float(ex.lr) > 0 and float(ex.tol) > 0):
        raise ValueError(f"experiment.lr and experiment.tol must be > 0, got {ex.lr}, {ex.tol}")


def lower_bound(m: int, c: int, k: int, s: int, d: int) -> int:
    """``inf L_orth``: 0 if an orthogonal conv exists, else the zero-column bound."""
    if orthconv.orthogonal_conv_exists(m, c, k, s, d):
        return 0
    if m <= c * s**d:
        return m - c * k**d
    return c * (s**d - k**d)


def _optimizer(name: str, lr: float, steps: int) -> optax.GradientTransformationExtraArgs:
    if name == "lbfgs":
        return optax.lbfgs()
    return optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=1e-2))


def _minimise(kernels, stride: int, steps: int, opt):
    """Minimise ``lorth`` from each of ``kernels`` (stacked); return the loss curves."""

    def value(k):
        return orthconv.lorth(k, stride)

    value_and_grad = optax.value_and_grad_from_state(value)

    def one(k0):
        def step(carry, _):
            k, state = carry
            loss, grad = value_and_grad(k, state=state)
            updates, state = opt.update(grad, state, k, value=loss, grad=grad, value_fn=value)
            return (optax.apply_updates(k, updates), state), loss

        (k, _), losses = jax.lax.scan(step, (k0, opt.init(k0)), None, length=steps)
        return jnp.concatenate([losses, value(k)[None]])

    # lax.map (not vmap): a batched self-convolution would become a grouped conv
    return jax.jit(lambda ks: jax.lax.map(one, ks))(kernels)


@register_study("orthconv_landscape", LandscapeConfig)
def run(cfg: DictConfig, ctx: RunContext) -> dict:
    ex = cfg.experiment
    check_config(ex)
    d, steps, tol = int(ex.ndim), int(ex.steps), float(ex.tol)
    opt = _optimizer(str(ex.optimizer), float(ex.lr), steps)
    rng = np.random.default_rng(int(cfg.seed))
    rows, curves = [], []
    valid_ok = valid_total = impossible_ok = impossible_total = 0
    for m, c, k, s in ([int(v) for v in row] for row in ex.configs):
        exists = orthconv.orthogonal_conv_exists(m, c, k, s, d)
        bound = lower_bound(m, c, k, s, d)
        kind = "square" if m == c * s**d else ("RO" if m < c * s**d else "CO")
        shape = (int(ex.inits), m, c) + (k,) * d
        kernels = jnp.asarray(rng.standard_normal(shape) / np.sqrt(c * k**d), jnp.float32)
        t0 = time.perf_counter()
        losses = np.asarray(_minimise(kernels, s, steps, opt), dtype=np.float64)
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
        curves.append((f"[{m},{c},{k},{s}] {kind}", exists, bound, losses))
        ctx.tracker.log(
            {"M": m, "C": c, "k": k, "S": s, "final_median": float(np.median(losses[:, -1]))},
            step=len(rows),
        )
    ctx.table(
        rows,
        title=f"minimising L_orth alone ({ex.optimizer}, {steps} steps, d={d}, float32)",
        name="results",
    )
    if ex.plot:
        _plot(ctx, curves)
    return {
        "valid_reached": valid_ok,
        "valid_runs": valid_total,
        "impossible_above_bound": impossible_ok,
        "impossible_runs": impossible_total,
        "min_impossible_gap": float(
            min((c[3].min() - c[2] for c in curves if not c[1]), default=float("nan"))
        ),
    }


def _plot(ctx: RunContext, curves: list) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for i, (label, exists, bound, losses) in enumerate(curves):
        color = f"C{i % 10}"
        ls = "-" if exists else ":"
        floor = max(1e-16, 2e-7 * bound)  # float32 resolution of L_orth near the bound
        for j, curve in enumerate(losses):
            axes[0].semilogy(
                np.maximum(curve - bound, floor),
                ls,
                color=color,
                lw=0.9,
                label=label if j == 0 else None,
            )
        axes[1].scatter(np.full(len(losses), bound), losses[:, -1], color=color, s=14)
    top = max(max(c[2] for c in curves), 1)
    axes[1].plot([0, top], [0, top], "k--", lw=0.8, label="L_orth = bound")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("L_orth - lower bound (clipped at float32 resolution)")
    axes[0].set_title("valid (solid) reach 0; impossible (dotted) plateau at the bound")
    axes[0].legend(fontsize=6, ncol=2)
    axes[1].set_xlabel("predicted lower bound (0 if an orthogonal conv exists)")
    axes[1].set_ylabel("final L_orth")
    axes[1].set_xscale("symlog", linthresh=1)
    axes[1].set_yscale("symlog", linthresh=1e-6)
    axes[1].legend()
    fig.tight_layout()
    ctx.save_figure(fig, "landscape")
