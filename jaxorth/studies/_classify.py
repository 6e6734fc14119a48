"""Pieces shared by the sequence classification studies (smnist, text, har).

``smnist`` / ``pmnist``, ``text_classification`` and ``har`` share: chunked test
metrics, epochs as steps, training a classifier through :func:`jaxorth.train.fit` on
in-memory arrays, and the loss figure.

The class is read from the last state (``model.final_output``), as the HadamRNN authors'
models do for every sequence classification task (``MANYTOMANY: false``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import OmegaConf

from jaxorth import report
from jaxorth._checks import int_at_least
from jaxorth.data import epoch_batch_indices, sequence_classification_metrics
from jaxorth.studies._common import loop_from_cfg, optimizer_from_cfg
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import StudyResult, config_key
from jaxorth.studies.rnn_models import rnn_optimizer, weight_bits_label
from jaxorth.train import FitResult, HistoryTracker, fit, jit_metrics

__all__ = [
    "check_epochs",
    "classifier_row",
    "fit_classifier",
    "in_chunks",
    "loss_arrays",
    "loss_figure",
    "steps_for_epochs",
]

_evaluate = jit_metrics(sequence_classification_metrics)


def in_chunks(
    evaluate: Callable[..., dict[str, float]], x: np.ndarray, y: np.ndarray, chunk: int
) -> dict[str, float]:
    """Example-weighted mean of ``evaluate(x_chunk, y_chunk)`` (``ce``, ``acc``) over ``x``."""
    tot = {"ce": 0.0, "acc": 0.0}
    for s in range(0, len(x), chunk):
        out = evaluate(jnp.asarray(x[s : s + chunk]), jnp.asarray(y[s : s + chunk]))
        w = len(x[s : s + chunk])
        for k in tot:
            tot[k] += out[k] * w
    return {k: v / len(x) for k, v in tot.items()}


def check_epochs(cfg: Any) -> None:
    """``experiment.epochs`` (``null`` or >= 1), ``experiment.eval_chunk`` and the batch size."""
    ex = cfg.experiment
    if ex.epochs is not None:
        with config_key("experiment.epochs", ex.epochs):
            int_at_least(int(ex.epochs), "epochs", 1)
    with config_key("experiment.eval_chunk", ex.eval_chunk):
        int_at_least(int(ex.eval_chunk), "eval_chunk", 1)
    with config_key("train.batch_size", cfg.train.batch_size):
        int_at_least(int(cfg.train.batch_size), "batch_size", 1)


def steps_for_epochs(cfg: Any, n_train: int) -> tuple[Any, int]:
    """``cfg`` with ``train.steps = experiment.epochs * (n_train // train.batch_size)``.

    Returns the config (unchanged when ``experiment.epochs`` is ``null``: ``train.steps``
    counts) and the steps per epoch (the last incomplete batch of an epoch is dropped, as
    :func:`jaxorth.data.epoch_batch_indices` does). The optimizer's schedule spans the
    new ``train.steps``.
    """
    batch_size = int(cfg.train.batch_size)
    if batch_size > n_train:
        raise ValueError(f"train.batch_size={batch_size} exceeds the {n_train} training examples")
    per_epoch = n_train // batch_size
    epochs = cfg.experiment.epochs
    if epochs is None:
        return cfg, per_epoch
    return OmegaConf.merge(cfg, {"train": {"steps": int(epochs) * per_epoch}}), per_epoch


def fit_classifier(
    cfg: Any,
    ctx: RunContext,
    model: Any,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
) -> tuple[FitResult, HistoryTracker]:
    """Train ``model`` on ``train`` (cross-entropy of the last step) and evaluate on ``test``.

    Batches of ``train.batch_size`` sequences, shuffled epoch by epoch from ``seed`` (a
    pure function of the step, so a resumed run replays them); the optimizer is
    ``cfg.optim`` (plus the model option's hook) and the loop ``cfg.train``; the test
    metrics (``ce``, ``acc``) are computed in chunks of ``experiment.eval_chunk``.
    """
    x_tr, y_tr = train
    x_te, y_te = test
    bs, chunk, seed = int(cfg.train.batch_size), int(cfg.experiment.eval_chunk), int(cfg.seed)
    per_epoch = max(len(x_tr) // bs, 1)  # bs > n: the batch function names the key
    if ctx.echo:
        steps = int(cfg.train.steps)
        print(
            f"{cfg.experiment.name}: {len(x_tr)} training sequences, {per_epoch} steps per "
            f"epoch; train.steps={steps} = {steps / per_epoch:.3g} epochs",
            flush=True,
        )

    def batch_fn(step: int) -> tuple[np.ndarray, np.ndarray]:
        with config_key("train.batch_size", bs):
            idx = epoch_batch_indices(len(x_tr), bs, step, seed)
        return x_tr[idx], y_tr[idx]

    def loss_fn(m: Any, batch: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, dict]:
        out = sequence_classification_metrics(m, *batch)
        return out["ce"], {"acc": out["acc"]}

    def eval_fn(m: Any) -> dict[str, float]:
        return in_chunks(lambda x, y: _evaluate(m, x, y), x_te, y_te, chunk)

    history = HistoryTracker(ctx.tracker)
    result = fit(
        model,
        rnn_optimizer(cfg.model, optimizer_from_cfg(cfg, steps_per_epoch=per_epoch)),
        loss_fn,
        batch_fn,
        loop_from_cfg(cfg),
        run_dir=ctx.run_dir,
        tracker=history,
        eval_fn=eval_fn,
    )
    return result, history


def classifier_row(
    cfg: Any, model: Any, result: FitResult, data: str, **columns: Any
) -> dict[str, Any]:
    """The results row of a trained classifier.

    Model, recurrent-weight precision, hidden size, ``columns``, ``data``, steps, test
    accuracy and cross-entropy, training time and size (bits, KB).
    """
    ev, size_bits = result.eval_metrics, int(model.size_bits())
    return {
        "model": str(cfg.model.name),
        "weight_bits": weight_bits_label(cfg.model),
        "hidden": int(model.cell.hidden_size),
        **columns,
        "data": data,
        "steps": result.step,
        "test_acc": ev["acc"],
        "test_ce": ev["ce"],
        "train_s": round(result.seconds, 1),
        "size_bits": size_bits,
        "size_KB": round(size_bits / 8 / 1024, 2),
    }


def loss_arrays(history: HistoryTracker, title: str) -> dict[str, Any]:
    """What :func:`loss_figure` draws: the train and test cross-entropy series."""
    return {
        "train_loss": history.series("train/loss"),
        "eval_ce": history.series("eval/ce"),
        "title": title,
    }


def loss_figure(result: StudyResult, ctx: RunContext) -> None:
    """``loss.png``: train and test cross-entropy along training (:func:`loss_arrays`)."""
    a = result.arrays
    curves = []
    if a["train_loss"][0]:
        curves.append(report.Curve(*a["train_loss"], label="train cross-entropy"))
    if a["eval_ce"][0]:
        curves.append(report.Curve(*a["eval_ce"], label="test cross-entropy", fmt="o-"))
    panel = report.Panel(
        curves, title=a["title"], xlabel="step", ylabel="cross-entropy", yscale="linear"
    )
    ctx.save_figure(report.panels_figure([panel], figsize=(6.0, 4.0)), "loss")
