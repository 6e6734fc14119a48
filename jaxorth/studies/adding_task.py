"""Study ``experiment=adding_task``: add the two marked numbers of a length-T sequence.

The adding task (Hochreiter & Schmidhuber 1997; the standard long-memory benchmark of
orthogonal RNNs, e.g. Arjovsky, Shah & Bengio 2016, Helfrich et al. 2018) with any
recurrent model option (``model=ornn``, ``hadamrnn``, ``block_hadamrnn``, ``qornn``;
:mod:`jaxorth.studies.rnn_models`). Each step reads ``(value, mark)``; the output of the
last step regresses the sum of the two marked values (mean squared error,
:func:`jaxorth.data.adding_task_metrics`). Success is measured against the constant
predictor 1, whose MSE is ``Var(U_1 + U_2) = 1/6 ~ 0.167``
(:func:`jaxorth.data.adding_task_baseline`): the study reports the test MSE, its ratio to
the baseline, a ``solved`` flag (test MSE below ``baseline / target_ratio``), steps,
wall time and the model size.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
from omegaconf import DictConfig

from jaxorth.data import adding_task_baseline, adding_task_batch, adding_task_metrics
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
class AddingTaskConfig:
    """Schema of ``experiment=adding_task``.

    ``target_ratio``: the run counts as solved when the test MSE is below
    ``baseline / target_ratio`` (10: below 0.0167, a tenth of the constant predictor's
    error).
    """

    name: str = "adding_task"
    target_ratio: float = 10.0
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.data`` for the adding task, before any compute."""
    data = check_data_name(cfg, "adding")
    if int(data.T) < 2:
        raise ValueError(f"data.T must be >= 2 (one marked value per half), got {data.T}")
    if int(data.test_size) < 1:
        raise ValueError(f"data.test_size must be >= 1, got {data.test_size}")
    check_step_schedule(cfg, has_epochs=False)
    ratio = cfg.experiment.target_ratio
    if not float(ratio) > 0:
        raise ValueError(f"experiment.target_ratio must be > 0, got {ratio}")


_evaluate = jit_metrics(adding_task_metrics)


def build_model(cfg: DictConfig) -> Any:
    """The untrained ``cfg.model``: 2 inputs (value, marker), 1 output (seed ``cfg.seed``)."""
    return build_rnn(cfg.model, 2, 1, seed=int(cfg.seed))


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Train ``cfg.model`` on the adding task and report against the 1/6 baseline."""
    data, train = cfg.data, cfg.train
    tx = rnn_optimizer(cfg.model, optimizer_from_cfg(cfg))
    loop = loop_from_cfg(cfg)
    T = int(data.T)
    model = build_model(cfg)
    baseline = adding_task_baseline()

    key = jax.random.key(int(cfg.seed))
    train_key, test_key = jax.random.split(jax.random.fold_in(key, 1))
    draw = jax.jit(functools.partial(adding_task_batch, batch_size=int(train.batch_size), T=T))
    test_x, test_y = adding_task_batch(test_key, int(data.test_size), T)

    def batch_fn(step: int) -> tuple[jax.Array, jax.Array]:
        return draw(jax.random.fold_in(train_key, step))

    def loss_fn(m: Any, batch: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, dict]:
        return adding_task_metrics(m, *batch)["mse"], {}

    def eval_fn(m: Any) -> dict[str, Any]:
        out = _evaluate(m, test_x, test_y)
        return {**out, "mse_over_baseline": out["mse"] / baseline}

    history = HistoryTracker(ctx.tracker)
    result = fit(
        model, tx, loss_fn, batch_fn, loop, run_dir=ctx.run_dir, tracker=history, eval_fn=eval_fn
    )
    mse = result.eval_metrics["mse"]
    size_bits = int(model.size_bits())
    target = float(cfg.experiment.target_ratio)
    row = {
        "model": str(cfg.model.name),
        "T": T,
        "hidden": int(model.cell.hidden_size),
        "steps": result.step,
        "test_mse": mse,
        "baseline_mse": baseline,
        "mse/baseline": mse / baseline,
        "solved": bool(mse < baseline / target),
        "train_s": round(result.seconds, 1),
        "size_KB": round(size_bits / 8 / 1024, 2),
    }
    summary = task_summary(row, result, size_bits)
    title = f"adding task, T={T} (constant-predictor baseline 1/6 = {baseline:.4f})"
    arrays = task_arrays(history, "eval/mse", baseline=baseline, target_ratio=target, T=T)
    return StudyResult(tables={"results": Table([row], title)}, summary=summary, arrays=arrays)


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``loss.png``: train and test MSE against the 1/6 baseline and the target."""
    a = result.arrays
    baseline_loss_figure(
        ctx,
        a,
        loss="MSE",
        baseline_label=f"constant predictor $1/6 = {a['baseline']:.3g}$",
        title=f"adding task $T={a['T']}$",
        ylabel="mean squared error",
    )


STUDY = register_study(
    Study(
        "adding_task", AddingTaskConfig, run=run, check=check, report=plot, build_model=build_model
    )
)
