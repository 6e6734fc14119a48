r"""Study ``experiment=orthconv_tradeoff``: accuracy vs orthogonality vs robustness.

A small circular-padded CNN on scikit-learn's 8x8 digits (offline,
``sklearn.datasets.load_digits``; 1,797 images, ``data_fraction`` held out)::

    conv(1 -> c1, k, S=1) -> MaxMin -> conv(c1 -> c2, k, S=2) -> MaxMin
    -> conv(c2 -> c2, k, S=2) -> MaxMin -> flatten -> dense(4 c2 -> 10, orthonormal rows)

with, for the three convolutions, either

- ``soft`` layers (:class:`~jaxorth.orthconv.SoftOrthConv`): free kernels trained with
  ``loss + lam * sum_l L_orth(K_l)`` (Achour, Malgouyres, Mamalet, JMLR 2022, section 3),
  one run per ``lam`` in ``lams``; or
- ``exact`` layers (:class:`~jaxorth.orthconv.OrthConv`, BCOP o RKO explicit kernels):
  orthogonal by construction (layer 1 column-orthogonal, layers 2-3 row-orthogonal).

The dense head is the same orthonormal-rows (Bjorck) matrix in both, and MaxMin
(GroupSort-2) is 1-Lipschitz, so the network's l2 Lipschitz constant is at most
``L = prod_l sigma_max(conv_l)``. For every run the study reports the test accuracy, the
exact per-layer ``sigma_min`` / ``sigma_max`` on the 8x8 input grid
(:func:`~jaxorth.orthconv.singular_values`, polyphase FFT), ``sum_l L_orth``, ``L``, and
the certified robust accuracy at the radii ``radii``: the fraction of test images that
are correctly classified with ``margin / (sqrt(2) L) > r`` (Tsuzuku et al., NeurIPS 2018),
``margin`` = top logit minus runner-up. The loss is cross-entropy on ``logit_scale``
times the logits (Lipschitz networks need the scale to reach large margins).

One figure (``tradeoff.png``): test and certified accuracy, and the isometry deviation
``max_l max |sigma - 1|`` with the Lipschitz bound, against ``lam`` (exact layers as
dashed lines). Run everything (the default)::

    jaxorth experiment=orthconv_tradeoff

or sweep, one job per point::

    jaxorth -m experiment=orthconv_tradeoff experiment.variant=soft experiment.lam=0,0.01,0.1,1
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from omegaconf import DictConfig

from jaxorth.data import epoch_batch_indices, load_images
from jaxorth.linalg import bjorck
from jaxorth.orthconv import OrthConv, SoftOrthConv, check_orthogonal_conv, lorth, singular_values
from jaxorth.studies._common import optimizer_from_cfg
from jaxorth.studies._context import RunContext
from jaxorth.studies._registry import register_study

VARIANTS = ("soft", "exact", "all")
SIDE = 8  # sklearn digits are 8x8
N_CLASSES = 10


@dataclasses.dataclass
class OrthconvTradeoffConfig:
    """Schema of ``experiment=orthconv_tradeoff``.

    ``variant``: ``soft`` (one run per ``lams``), ``exact`` or ``all``; ``lam``: one
    penalty weight instead of ``lams`` (for ``-m`` sweeps). ``channels``: ``[c1, c2]``;
    ``kernel_size``: ``k`` of every conv; ``method``: orthogonalisation of the exact
    layers (``bjorck``, ``cayley``, ``expm``). ``radii``: l2 radii of the certified
    accuracy (inputs in ``[0, 1]``). Training length, batch size and optimizer come from
    ``train`` and ``optim``.
    """

    name: str = "orthconv_tradeoff"
    variant: str = "all"
    lams: list[float] = dataclasses.field(default_factory=lambda: [0.0, 1e-3, 1e-2, 1e-1, 1.0])
    lam: float | None = None
    channels: list[int] = dataclasses.field(default_factory=lambda: [16, 32])
    kernel_size: int = 3
    method: str = "bjorck"
    logit_scale: float = 8.0
    radii: list[float] = dataclasses.field(default_factory=lambda: [0.1, 0.25, 0.5])
    test_fraction: float = 0.2
    plot: bool = True


def _check(ex: Any, cfg: Any) -> list[tuple[str, float | None]]:
    if ex.variant not in VARIANTS:
        raise ValueError(f"experiment.variant must be one of {list(VARIANTS)}, got {ex.variant!r}")
    lams = [float(ex.lam)] if ex.lam is not None else [float(v) for v in ex.lams]
    key = "lam" if ex.lam is not None else "lams"
    if ex.variant != "exact" and not lams:
        raise ValueError(f"experiment.{key} is empty: the soft variant needs >= 1 weight")
    for v in lams:
        if not (v >= 0.0 and math.isfinite(v)):
            raise ValueError(f"experiment.{key} must hold finite weights >= 0, got {v}")
    if len(ex.channels) != 2 or any(int(c) < 1 for c in ex.channels):
        raise ValueError(
            f"experiment.channels must be [c1, c2] with c >= 1, got {list(ex.channels)}"
        )
    if int(ex.kernel_size) < 1:
        raise ValueError(f"experiment.kernel_size must be >= 1, got {ex.kernel_size}")
    if ex.method not in ("bjorck", "cayley", "expm"):
        raise ValueError(f"experiment.method must be bjorck, cayley or expm, got {ex.method!r}")
    if not ex.logit_scale > 0:
        raise ValueError(f"experiment.logit_scale must be > 0, got {ex.logit_scale}")
    if any(r < 0 for r in ex.radii):
        raise ValueError(f"experiment.radii must be >= 0, got {list(ex.radii)}")
    if not 0.0 < ex.test_fraction < 1.0:
        raise ValueError(f"experiment.test_fraction must be in (0, 1), got {ex.test_fraction}")
    if int(cfg.train.steps) < 1 or int(cfg.train.batch_size) < 1:
        raise ValueError("train.steps and train.batch_size must be >= 1")
    if ex.variant in ("exact", "all"):  # fail before any compute if a layer is impossible
        c1, c2 = (int(c) for c in ex.channels)
        k = int(ex.kernel_size)
        for j, (cin, cout, s) in enumerate([(1, c1, 1), (c1, c2, 2), (c2, c2, 2)]):
            try:
                check_orthogonal_conv(cout, cin, k, s, 2, warn_square=False)
            except ValueError as err:
                raise ValueError(f"experiment.channels / kernel_size: conv{j + 1}: {err}") from None
    runs: list[tuple[str, float | None]] = []
    if ex.variant in ("soft", "all"):
        runs += [("soft", v) for v in lams]
    if ex.variant in ("exact", "all"):
        runs.append(("exact", None))
    return runs


def _maxmin(x: jax.Array) -> jax.Array:
    """GroupSort-2 (MaxMin) on channel halves: 1-Lipschitz, norm preserving (ReLU if odd)."""
    if x.shape[1] % 2:
        return jax.nn.relu(x)
    a, b = jnp.split(x, 2, axis=1)
    return jnp.concatenate([jnp.maximum(a, b), jnp.minimum(a, b)], axis=1)


class TradeoffCNN(nnx.Module):
    """The study's CNN: three circular convs (soft or exact), MaxMin, orthonormal head."""

    def __init__(self, variant: str, channels, kernel_size: int, method: str, rngs: nnx.Rngs):
        c1, c2 = channels
        specs = [(1, c1, 1), (c1, c2, 2), (c2, c2, 2)]
        self.strides = tuple(s for _, _, s in specs)
        if variant == "exact":
            self.convs = nnx.List(
                [
                    OrthConv(ci, co, kernel_size, stride=s, method=method, use_bias=True, rngs=rngs)
                    for ci, co, s in specs
                ]
            )
        else:
            self.convs = nnx.List(
                [
                    SoftOrthConv(ci, co, kernel_size, stride=s, use_bias=True, rngs=rngs)
                    for ci, co, s in specs
                ]
            )
        n_feat = c2 * (SIDE // 4) ** 2
        init = jax.nn.initializers.orthogonal()(rngs.params(), (N_CLASSES, n_feat))
        self.head = nnx.Param(init)
        self.head_bias = nnx.Param(jnp.zeros((N_CLASSES,)))

    def head_matrix(self) -> jax.Array:
        """Dense head with orthonormal rows (``10 x 4 c2``, Bjorck): 1-Lipschitz."""
        return bjorck(self.head[...], n_iter=15, order=2)

    def __call__(self, x: jax.Array) -> jax.Array:
        for conv in self.convs:
            x = _maxmin(conv(x))
        x = x.reshape(x.shape[0], -1)
        return x @ self.head_matrix().T + self.head_bias[...][None, :]

    def penalty(self) -> jax.Array:
        if isinstance(self.convs[0], SoftOrthConv):
            return sum(conv.lorth_penalty() for conv in self.convs)
        return jnp.zeros(())


def _train_one(model, data, lam, ex, cfg, tracker, tag):
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optimizer_from_cfg(cfg)
    opt_state = tx.init(params)
    scale = float(ex.logit_scale)
    x_train = jnp.asarray(data.x_train.reshape(-1, 1, SIDE, SIDE))
    y_train = jnp.asarray(data.y_train)

    def loss_fn(params, xb, yb):
        mod = nnx.merge(graphdef, params, rest)
        logits = mod(xb)
        ce = optax.softmax_cross_entropy_with_integer_labels(scale * logits, yb).mean()
        pen = mod.penalty()
        return ce + lam * pen, (ce, pen)

    @jax.jit
    def step(params, opt_state, idx):
        (loss, (ce, pen)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, x_train[idx], y_train[idx]
        )
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, ce, pen

    steps, bs = int(cfg.train.steps), int(cfg.train.batch_size)
    bs = min(bs, len(data.y_train))
    log_every = max(1, int(cfg.train.log_every))
    for i in range(steps):
        idx = jnp.asarray(epoch_batch_indices(len(data.y_train), bs, i, int(cfg.seed)))
        params, opt_state, ce, pen = step(params, opt_state, idx)
        if (i + 1) % log_every == 0 or i + 1 == steps:
            tracker.log({f"{tag}/ce": float(ce), f"{tag}/lorth": float(pen)}, step=i + 1)
    return nnx.merge(graphdef, params, rest)


def _evaluate(model, data, ex) -> dict[str, Any]:
    x_test = jnp.asarray(data.x_test.reshape(-1, 1, SIDE, SIDE))
    logits = np.asarray(nnx.jit(lambda m, x: m(x))(model, x_test), np.float64)
    pred = logits.argmax(axis=1)
    correct = pred == data.y_test
    top2 = np.sort(logits, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    row: dict[str, Any] = {"test_acc": float(correct.mean())}
    lorth_sum, dev, lip = 0.0, 0.0, 1.0
    size = SIDE
    for j, conv in enumerate(model.convs):
        kernel = conv.kernel()
        s = model.strides[j]
        sv = np.asarray(singular_values(kernel, size, s), np.float64)
        row[f"conv{j + 1}_smin"] = float(sv.min())
        row[f"conv{j + 1}_smax"] = float(sv.max())
        dev = max(dev, float(np.abs(sv - 1.0).max()))
        lip *= float(sv.max())
        lorth_sum += float(lorth(kernel, s))
        size //= s
    head_sv = np.linalg.svd(np.asarray(model.head_matrix(), np.float64), compute_uv=False)
    row["head_smax"] = float(head_sv.max())
    lip *= float(head_sv.max())
    row["lorth_sum"] = lorth_sum
    row["isometry_dev"] = dev
    row["lipschitz_bound"] = lip
    radius = margin / (math.sqrt(2.0) * lip)
    for r in ex.radii:
        row[f"cert_acc_r{r:g}"] = float(np.mean(correct & (radius > float(r))))
    return row


def _plot(rows, ex):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    soft = [r for r in rows if r["variant"] == "soft"]
    exact = [r for r in rows if r["variant"] == "exact"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    nonzero = [r["lam"] for r in soft if r["lam"] > 0]
    zero_x = min(nonzero) / 10 if nonzero else 1e-4

    def xs(rs):
        return [r["lam"] if r["lam"] > 0 else zero_x for r in rs]

    r0 = f"cert_acc_r{float(ex.radii[0]):g}" if len(ex.radii) else None
    if soft:
        ax1.plot(xs(soft), [r["test_acc"] for r in soft], "o-", label="soft: test acc")
        if r0:
            ax1.plot(xs(soft), [r[r0] for r in soft], "s-", label=f"soft: certified acc ({r0[9:]})")
        ax2.plot(xs(soft), [r["isometry_dev"] for r in soft], "o-", label="soft: max |sigma - 1|")
        ax2.plot(
            xs(soft), [r["lipschitz_bound"] for r in soft], "s-", label="soft: Lipschitz bound"
        )
    for r in exact:
        ax1.axhline(r["test_acc"], color="C0", ls="--", label="exact: test acc")
        if r0:
            ax1.axhline(r[r0], color="C1", ls="--", label="exact: certified acc")
        ax2.axhline(
            max(r["isometry_dev"], 1e-12), color="C0", ls="--", label="exact: max |sigma - 1|"
        )
        ax2.axhline(r["lipschitz_bound"], color="C1", ls="--", label="exact: Lipschitz bound")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("lambda (L_orth weight; lambda = 0 drawn at the left)")
        ax.legend(fontsize=7)
    ax1.set_ylabel("accuracy")
    ax2.set_yscale("log")
    ax2.set_ylabel("orthogonality")
    fig.suptitle("orthconv_tradeoff: accuracy vs orthogonality vs lambda (8x8 digits)")
    return fig


@register_study("orthconv_tradeoff", OrthconvTradeoffConfig)
def run(cfg: DictConfig, ctx: RunContext) -> dict:
    """Train the CNN for every (variant, lam) and report accuracy, spectra, robustness."""
    ex = cfg.experiment
    runs = _check(ex, cfg)
    data = load_images("digits", test_fraction=float(ex.test_fraction), seed=int(cfg.seed))
    rows = []
    for variant, lam in runs:
        tag = "exact" if variant == "exact" else f"soft_lam{lam:g}"
        model = TradeoffCNN(
            variant,
            [int(c) for c in ex.channels],
            int(ex.kernel_size),
            str(ex.method),
            nnx.Rngs(int(cfg.seed)),
        )
        t0 = time.perf_counter()
        model = _train_one(model, data, 0.0 if lam is None else lam, ex, cfg, ctx.tracker, tag)
        train_s = time.perf_counter() - t0
        row = {"variant": variant, "lam": lam}
        row.update(_evaluate(model, data, ex))
        row["train_s"] = train_s
        ctx.tracker.log(
            {f"{tag}/{k}": v for k, v in row.items() if k != "variant"}, step=int(cfg.train.steps)
        )
        rows.append(row)
    ctx.table(rows, title="orthconv_tradeoff (8x8 digits, circular CNN)", name="results")
    if ex.plot:
        ctx.save_figure(_plot(rows, ex), "tradeoff")
    summary: dict[str, Any] = {}
    for row in rows:
        tag = "exact" if row["variant"] == "exact" else f"soft_lam{row['lam']:g}"
        for k, v in row.items():
            if k not in ("variant", "lam"):
                summary[f"{tag}/{k}"] = v
    if len(rows) == 1:  # one point of a -m sweep: flat keys for the sweep summary
        summary.update({k: v for k, v in rows[0].items()})
    return summary
