"""Study ``experiment=copy_task``: recall 10 symbols after a delay of T steps.

The standard copy task (Arjovsky, Shah & Bengio 2016; REFERENCES.md section 3) with
any recurrent model option (``model=ornn`` full-precision orthogonal baseline,
``hadamrnn``, ``block_hadamrnn``, ``qornn``; :mod:`jaxorth.studies.rnn_models`). Success
is measured against the memoryless baseline ``10 ln 8 / (T + 20)``: the study reports
the test cross-entropy, its ratio to the baseline, the recall accuracy, steps, wall time
and the model size.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
from omegaconf import DictConfig

from jaxorth.data import copy_task_baseline, copy_task_batch, copy_task_metrics, copy_task_spec
from jaxorth.studies._common import (
    check_data_name,
    check_step_schedule,
    loop_from_cfg,
    optimizer_from_cfg,
)
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table
from jaxorth.studies._registry import register_study
from jaxorth.studies._rnn_tasks import baseline_loss_figure, task_arrays, task_summary
from jaxorth.studies.rnn_models import build_rnn, rnn_optimizer
from jaxorth.train import HistoryTracker, fit, jit_metrics


@dataclasses.dataclass
class CopyTaskConfig:
    """Schema of ``experiment=copy_task``.

    ``target_ratio``: the run counts as solved when test cross-entropy is below
    ``baseline / target_ratio`` (10 for the demo; 100 means "below 1% of baseline").
    """

    name: str = "copy_task"
    target_ratio: float = 10.0
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.data`` for the copy task, before any compute."""
    data = check_data_name(cfg, "copy")
    for key in ("T", "n_symbols", "n_recall", "test_size"):
        if int(data[key]) < 1:
            raise ValueError(f"data.{key} must be >= 1, got {data[key]}")
    check_step_schedule(cfg, has_epochs=False)
    ratio = cfg.experiment.target_ratio
    if not float(ratio) > 0:
        raise ValueError(f"experiment.target_ratio must be > 0, got {ratio}")


_evaluate = jit_metrics(copy_task_metrics, static_argnums=(2,))


def build_model(cfg: DictConfig) -> Any:
    """The untrained ``cfg.model`` for the copy task's inputs and outputs (seed ``cfg.seed``)."""
    spec = copy_task_spec(int(cfg.data.n_symbols), int(cfg.data.n_recall))
    return build_rnn(cfg.model, spec["in_features"], spec["out_features"], seed=int(cfg.seed))


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Train ``cfg.model`` on the copy task and report against the memoryless baseline."""
    data, train = cfg.data, cfg.train
    tx = rnn_optimizer(cfg.model, optimizer_from_cfg(cfg))
    loop = loop_from_cfg(cfg)
    T, n_sym, n_rec = int(data.T), int(data.n_symbols), int(data.n_recall)
    model = build_model(cfg)
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
        metrics = copy_task_metrics(m, *batch, n_rec)
        return metrics["ce"], {"recall_acc": metrics["recall_acc"]}

    def eval_fn(m: Any) -> dict[str, Any]:
        out = _evaluate(m, test_x, test_y, n_rec)
        return {**out, "ce_over_baseline": out["ce"] / baseline}

    history = HistoryTracker(ctx.tracker)
    result = fit(
        model, tx, loss_fn, batch_fn, loop, run_dir=ctx.run_dir, tracker=history, eval_fn=eval_fn
    )
    ev = result.eval_metrics
    size_bits = int(model.size_bits())
    target = float(cfg.experiment.target_ratio)
    row = {
        "model": str(cfg.model.name),
        "T": T,
        "hidden": int(model.cell.hidden_size),
        "steps": result.step,
        "test_ce": ev["ce"],
        "baseline_ce": baseline,
        "baseline/ce": baseline / max(ev["ce"], 1e-12),
        "recall_acc": ev["recall_acc"],
        "solved": bool(ev["ce"] < baseline / target),
        "train_s": round(result.seconds, 1),
        "size_KB": round(size_bits / 8 / 1024, 2),
    }
    summary = task_summary(row, result, size_bits)
    title = f"copy task, T={T} (memoryless baseline {baseline:.4f})"
    arrays = task_arrays(history, "eval/ce", baseline=baseline, target_ratio=target, T=T)
    return StudyResult(tables={"results": Table([row], title)}, summary=summary, arrays=arrays)


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``loss.png``: train and test cross-entropy against the baseline and the target."""
    a = result.arrays
    baseline_loss_figure(
        ctx,
        a,
        loss="cross-entropy",
        baseline_label=f"memoryless baseline {a['baseline']:.3g}",
        title=f"copy task $T={a['T']}$",
        ylabel="cross-entropy per step",
    )


STUDY = register_study(
    Study("copy_task", CopyTaskConfig, run=run, check=check, report=plot, build_model=build_model)
)
