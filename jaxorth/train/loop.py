"""The training loop shared by the studies: :func:`fit` over NNX models and optax.

Features
--------
- one ``jax.jit`` step (:func:`jaxorth.train.step.make_train_step`: value-and-grad,
  optax update, NaN guard) over a :class:`~jaxorth.train.step.TrainState`;
- data as a pure function of the step, ``batch_fn(step) -> batch``, so a resumed run
  sees exactly the batches it would have seen;
- NaN/inf guard: a step whose loss or gradients are not finite is not applied, every
  later step is frozen, and the loop stops at the next check with
  :class:`NonFiniteError`; checkpoints written before stay untouched;
- Orbax checkpoints every ``checkpoint_every`` steps (atomic), resume from the newest
  one when the same run directory is used again (:func:`resume`);
- data parallelism over all local devices (:mod:`jaxorth.train.parallel`): a 1-D mesh
  named ``"data"``, the batch split along its leading axis, parameters replicated, the
  loss and its gradient averaged over the shards (so the loss must be a mean over the
  batch). On a CPU-only machine, :func:`~jaxorth.train.parallel.set_cpu_devices`
  splits the host into several XLA devices (steps are then run one at a time: CPU
  devices share a thread pool);
- periodic evaluation, a progress bar with live metrics, metrics sent to a tracker.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx

from jaxorth.train import parallel
from jaxorth.train.checkpoint import Checkpointer
from jaxorth.train.step import LossFn, TrainState, init_train_state, make_train_step
from jaxorth.train.tracking import NullTracker, Tracker

BatchFn = Callable[[int], Any]
EvalFn = Callable[[nnx.Module], Mapping[str, Any]]


class NonFiniteError(RuntimeError):
    """Raised when the training loss or gradients became NaN or infinite."""


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """Settings of :func:`fit` (mirrors ``cfg.train``)."""

    steps: int = 1000
    log_every: int = 50
    eval_every: int = 0  # 0: only at the end
    checkpoint_every: int = 0  # 0: no checkpoints
    keep_checkpoints: int = 2
    resume: bool = True
    data_parallel: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"train.steps must be >= 1, got {self.steps}")
        for name in ("log_every", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name} must be >= 0, got {getattr(self, name)}")


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns: the trained model and the last metrics."""

    model: nnx.Module
    step: int
    train_metrics: dict[str, float]
    eval_metrics: dict[str, float]
    resumed_from: int | None
    seconds: float
    steps_run: int


def _to_floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(np.asarray(v)) for k, v in metrics.items()}


def _every(n: int, done: int) -> bool:
    return bool(n) and done % n == 0


def resume(
    checkpointer: Checkpointer, state: TrainState, mesh: jax.sharding.Mesh | None = None
) -> tuple[TrainState, int | None]:
    """``state`` restored from the newest checkpoint, and that checkpoint's step.

    Returns ``(state, None)`` unchanged when there is no checkpoint. ``rest`` is kept
    from ``state`` (it is not checkpointed); the restored fields are replicated over
    ``mesh`` when one is given.
    """
    latest = checkpointer.latest_step()
    if latest is None:
        return state, None
    tree = checkpointer.restore(latest, like=state.checkpoint_tree())
    state = state.with_checkpoint(parallel.replicate(tree, mesh))
    return state, int(state.step)


def fit(
    model: nnx.Module,
    tx: optax.GradientTransformation,
    loss_fn: LossFn,
    batch_fn: BatchFn,
    config: LoopConfig,
    *,
    run_dir: str | os.PathLike[str] | None = None,
    tracker: Tracker | None = None,
    eval_fn: EvalFn | None = None,
) -> FitResult:
    """Train ``model`` with ``tx`` on ``loss_fn`` for ``config.steps`` steps.

    Parameters
    ----------
    model : nnx.Module
        Updated in place and returned in the result.
    tx : optax.GradientTransformation
        The optimizer.
    loss_fn : callable
        ``loss_fn(model, batch) -> (loss, metrics)``; traced under ``jax.jit``.
    batch_fn : callable
        ``batch_fn(step) -> batch`` (a pytree of arrays), deterministic in ``step``.
    config : LoopConfig
        Steps, logging, evaluation, checkpointing and parallelism settings.
    run_dir : path, optional
        Where checkpoints go (``run_dir/checkpoints``); required when checkpointing.
    tracker : Tracker, optional
        Receives ``train/*`` metrics every ``log_every`` steps and ``eval/*`` metrics.
    eval_fn : callable, optional
        ``eval_fn(model) -> metrics``, called every ``eval_every`` steps and at the end.

    Raises
    ------
    NonFiniteError
        If a loss or gradient became non-finite; the model keeps the last finite
        parameters and the checkpoints on disk are those written before.
    """
    tracker = tracker or NullTracker()
    if config.checkpoint_every and run_dir is None:
        raise ValueError("train.checkpoint_every > 0 needs a run directory")

    mesh = parallel.data_mesh(config.data_parallel)
    graphdef, state = init_train_state(model, tx)
    state = parallel.replicate(state, mesh)
    train_step = make_train_step(graphdef, tx, loss_fn, mesh=mesh)
    sync_each_step = parallel.needs_step_sync(mesh)

    checkpointer = None
    resumed_from = None
    if config.checkpoint_every:
        checkpointer = Checkpointer(Path(run_dir) / "checkpoints", config.keep_checkpoints)
        if config.resume:
            state, resumed_from = resume(checkpointer, state, mesh)
            if resumed_from is not None:
                tracker.truncate_after(resumed_from)
    start = resumed_from or 0

    def current_model() -> nnx.Module:
        return nnx.merge(graphdef, state.params, state.rest)

    def check_finite(at_step: int) -> None:
        bad = int(state.first_bad)
        if bad >= 0:
            last_ckpt = checkpointer.latest_step() if checkpointer else None
            nnx.update(model, state.params)
            raise NonFiniteError(
                f"non-finite loss or gradient at step {bad} (checked at step {at_step}); "
                f"the parameters of step {bad - 1} are kept"
                + (f"; last good checkpoint: step {last_ckpt}" if last_ckpt is not None else "")
            )

    bar = None
    if config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=start, dynamic_ncols=True, leave=True)

    train_metrics: dict[str, float] = {}
    eval_metrics: dict[str, float] = {}
    t0 = time.perf_counter()
    steps_run = 0
    try:
        for step in range(start, config.steps):
            state, metrics = train_step(state, parallel.shard_batch(batch_fn(step), mesh))
            if sync_each_step:
                jax.block_until_ready(state.step)
            steps_run += 1
            done = step + 1
            last = done == config.steps
            if bar is not None:
                bar.update(1)
            if _every(config.log_every, done) or last:
                check_finite(done)
                train_metrics = _to_floats(metrics)
                tracker.log({f"train/{k}": v for k, v in train_metrics.items()}, step=done)
                if bar is not None:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in train_metrics.items()})
            if eval_fn is not None and (_every(config.eval_every, done) or last):
                check_finite(done)
                eval_metrics = _to_floats(eval_fn(current_model()))
                tracker.log({f"eval/{k}": v for k, v in eval_metrics.items()}, step=done)
                if bar is not None:
                    bar.write(
                        f"step {done}: "
                        + ", ".join(f"eval/{k}={v:.4g}" for k, v in eval_metrics.items())
                    )
            if checkpointer is not None and (_every(config.checkpoint_every, done) or last):
                check_finite(done)
                checkpointer.save(done, state.checkpoint_tree())
    finally:
        if bar is not None:
            bar.close()
        if checkpointer is not None:
            checkpointer.close()

    if eval_fn is not None and not eval_metrics:
        # resumed at the very end: evaluate the restored model once
        eval_metrics = _to_floats(eval_fn(current_model()))
    nnx.update(model, state.params)
    return FitResult(
        model=model,
        step=int(state.step),
        train_metrics=train_metrics,
        eval_metrics=eval_metrics,
        resumed_from=resumed_from,
        seconds=time.perf_counter() - t0,
        steps_run=steps_run,
    )
