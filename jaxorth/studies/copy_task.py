"""Study ``experiment=copy_task``: recall 10 symbols after a delay of T steps.

The standard copy task (Arjovsky, Shah & Bengio 2016; REFERENCES.md section 3) with
any recurrent model option (``model=ornn`` full-precision orthogonal baseline; the
quantized models register further options). Success is measured against the
memoryless baseline ``10 ln 8 / (T + 20)``: the study reports the test cross-entropy,
its ratio to the baseline, the recall accuracy, steps, wall time and the model size.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
from omegaconf import DictConfig

from jaxorth.data import copy_task_baseline, copy_task_batch, copy_task_spec
from jaxorth.studies._common import loop_from_cfg, optimizer_from_cfg
from jaxorth.studies._context import RunContext
from jaxorth.studies._models import build_rnn, rnn_optimizer
from jaxorth.studies._registry import register_study
from jaxorth.train import HistoryTracker, fit


@dataclasses.dataclass
class CopyTaskConfig:
    """Schema of ``experiment=copy_task``.

    ``target_ratio``: the run counts as solved when test cross-entropy is below
    ``baseline / target_ratio`` (10 for the demo; 100 means "below 1% of baseline").
    """

    name: str = "copy_task"
    target_ratio: float = 10.0
    plot: bool = True


def copy_task_metrics(
    model: Any, x: jax.Array, targets: jax.Array, n_recall: int
) -> dict[str, jax.Array]:
    """Cross-entropy over all steps and accuracy over the recall window.

    Computed inside the scan (:meth:`jaxorth.rnn.SequenceModel.stepwise_cross_entropy`):
    the ``(B, T + 20, n)`` states and logits are never stored, which is what makes
    T = 1000 training fast and evaluation on large test sets fit in memory.
    """
    ce_t, acc_t = model.stepwise_cross_entropy(x, targets)
    return {"ce": ce_t.mean(), "recall_acc": acc_t[-n_recall:].mean()}


def check_copy_data(data: Any) -> None:
    """Domain checks of ``cfg.data`` for the copy task, before any compute."""
    if data is None or data.get("name") != "copy":
        raise ValueError("experiment=copy_task needs data=copy")
    for key in ("T", "n_symbols", "n_recall", "test_size"):
        if int(data[key]) < 1:
            raise ValueError(f"data.{key} must be >= 1, got {data[key]}")


@register_study("copy_task", CopyTaskConfig)
def run(cfg: DictConfig, ctx: RunContext) -> dict[str, Any]:
    """Train ``cfg.model`` on the copy task and report against the memoryless baseline."""
    data, train = cfg.data, cfg.train
    check_copy_data(data)
    tx = rnn_optimizer(cfg.model, optimizer_from_cfg(cfg))
    loop = loop_from_cfg(cfg)
    T, n_sym, n_rec = int(data.T), int(data.n_symbols), int(data.n_recall)
    spec = copy_task_spec(n_sym, n_rec)
    model = build_rnn(cfg.model, spec["in_features"], spec["out_features"], seed=int(cfg.seed))
    baseline = copy_task_baseline(T, n_sym, n_rec)

    key = jax.random.key(int(cfg.seed))
    train_key, test_key = jax.random.split(jax.random.fold_in(key, 1))
    draw = jax.jit(
        functools.partial(
            copy_task_batch, batch_size=int(train.batch_size), T=T, n_symbols=n_sym, n_recall=n_rec
        )
    )
    test_x, test_y = copy_task_batch(test_key, int(data.test_size), T, n_sym, n_rec)

    def batch_fn(step: int) -> tuple[jax.Array, jax.Array]:
        return draw(jax.random.fold_in(train_key, step))

    def loss_fn(m: Any, batch: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, dict]:
        x, y = batch
        metrics = copy_task_metrics(m, x, y, n_rec)
        return metrics["ce"], {"recall_acc": metrics["recall_acc"]}

    def eval_fn(m: Any) -> dict[str, Any]:
        out = _eval(m, test_x, test_y, n_rec)
        return {**out, "ce_over_baseline": out["ce"] / baseline}

    history = HistoryTracker(ctx.tracker)
    result = fit(
        model,
        tx,
        loss_fn,
        batch_fn,
        loop,
        run_dir=ctx.run_dir,
        tracker=history,
        eval_fn=eval_fn,
    )
    ev = result.eval_metrics
    size_bits = int(model.size_bits())
    solved = ev["ce"] < baseline / float(cfg.experiment.target_ratio)
    row = {
        "model": str(cfg.model.name),
        "T": T,
        "hidden": int(model.cell.hidden_size),
        "steps": result.step,
        "test_ce": ev["ce"],
        "baseline_ce": baseline,
        "baseline/ce": baseline / max(ev["ce"], 1e-12),
        "recall_acc": ev["recall_acc"],
        "solved": bool(solved),
        "train_s": round(result.seconds, 1),
        "size_KB": round(size_bits / 8 / 1024, 2),
    }
    ctx.table([row], title=f"copy task, T={T} (memoryless baseline {baseline:.4f})")
    if cfg.experiment.plot:
        _plot(ctx, history, baseline, float(cfg.experiment.target_ratio), T)
    return {
        **{k: v for k, v in row.items() if k != "model"},
        "model": str(cfg.model.name),
        "resumed_from": result.resumed_from,
        "steps_run": result.steps_run,
        "size_bits": size_bits,
    }


def _eval(model: Any, x: jax.Array, y: jax.Array, n_rec: int) -> dict[str, float]:
    from flax import nnx

    graphdef, state = nnx.split(model)
    out = _eval_jit_cached(graphdef)(state, x, y, n_rec)
    return {k: float(v) for k, v in out.items()}


@functools.lru_cache(maxsize=8)
def _eval_jit_cached(graphdef: Any) -> Any:
    from flax import nnx

    @functools.partial(jax.jit, static_argnums=(3,))
    def f(state: Any, x: jax.Array, y: jax.Array, n_rec: int) -> dict[str, jax.Array]:
        return copy_task_metrics(nnx.merge(graphdef, state), x, y, n_rec)

    return f


def _plot(ctx: RunContext, history: HistoryTracker, baseline: float, ratio: float, T: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    steps, values = history.series("train/loss")
    if steps:
        ax.semilogy(steps, values, label="train cross-entropy")
    e_steps, e_values = history.series("eval/ce")
    if e_steps:
        ax.semilogy(e_steps, e_values, "o-", label="test cross-entropy")
    ax.axhline(baseline, color="k", ls="--", label=f"memoryless baseline {baseline:.3g}")
    ax.axhline(baseline / ratio, color="r", ls=":", label=f"baseline / {ratio:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per step")
    ax.set_title(f"copy task T={T}")
    ax.legend()
    if not math.isfinite(baseline):
        ax.set_yscale("linear")
    ctx.save_figure(fig, "loss")
