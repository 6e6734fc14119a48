"""Pieces shared by the synthetic RNN task studies (``copy_task``, ``adding_task``).

Both train a recurrent model option against a closed-form baseline (the memoryless
cross-entropy of the copy task, the constant predictor's 1/6 of the adding task) and
report the same summary and the same figure: train and test loss against the baseline
and against ``baseline / target_ratio``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jaxorth import report
from jaxorth.studies._context import RunContext
from jaxorth.train import FitResult, HistoryTracker

__all__ = ["baseline_loss_figure", "task_arrays", "task_summary"]


def task_summary(row: Mapping[str, Any], result: FitResult, size_bits: int) -> dict[str, Any]:
    """The summary of one run: the table row (``model`` last), resume info and the size."""
    return {
        **{k: v for k, v in row.items() if k != "model"},
        "model": row["model"],
        "resumed_from": result.resumed_from,
        "steps_run": result.steps_run,
        "size_bits": size_bits,
    }


def task_arrays(history: HistoryTracker, eval_key: str, **scalars: Any) -> dict[str, Any]:
    """What :func:`baseline_loss_figure` draws: the train and ``eval_key`` series, scalars."""
    return {
        "train_loss": history.series("train/loss"),
        "eval_loss": history.series(eval_key),
        **scalars,
    }


def baseline_loss_figure(
    ctx: RunContext,
    arrays: Mapping[str, Any],
    *,
    loss: str,
    baseline_label: str,
    title: str,
    ylabel: str,
) -> None:
    """``loss.png``: train and test ``loss`` against the baseline and the target.

    ``arrays`` holds ``train_loss`` and ``eval_loss`` (``(steps, values)`` series),
    ``baseline`` and ``target_ratio``.
    """
    curves = [report.Curve(*arrays["train_loss"], label=f"train {loss}")]
    if arrays["eval_loss"][0]:
        curves.append(report.Curve(*arrays["eval_loss"], label=f"test {loss}", fmt="o-"))
    baseline, ratio = arrays["baseline"], arrays["target_ratio"]
    panel = report.Panel(
        curves,
        hlines=[
            report.HLine(baseline, baseline_label),
            report.HLine(baseline / ratio, f"baseline / {ratio:g}", color=3, style=":"),
        ],
        title=title,
        xlabel="step",
        ylabel=ylabel,
        yscale="log",
    )
    ctx.save_figure(report.panels_figure([panel], figsize=(6.0, 4.0)), "loss")
