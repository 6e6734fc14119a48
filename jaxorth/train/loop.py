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
  one when the same run directory is used again (:func:`resume`); a corrupt newest
  checkpoint is moved aside with a warning and the next older one is used, an intact
  checkpoint of another model raises
  :class:`~jaxorth.train.checkpoint.CheckpointMismatchError` (see
  :mod:`jaxorth.train.checkpoint`);
- clean stops on SIGINT (Ctrl-C) and SIGTERM (what SLURM sends before preempting a
  job), see below;
- data parallelism over all local devices (:mod:`jaxorth.train.parallel`): a 1-D mesh
  named ``"data"``, the batch split along its leading axis, parameters replicated, the
  loss and its gradient averaged over the shards (so the loss must be a mean over the
  batch). On a CPU-only machine, :func:`~jaxorth.train.parallel.set_cpu_devices`
  splits the host into several XLA devices (steps are then run one at a time: CPU
  devices share a thread pool);
- periodic evaluation, a progress bar with live metrics, metrics sent to a tracker.

Interruption
------------
While the loop runs (in the main thread), SIGINT and SIGTERM only set a flag: the
current step finishes, its checkpoint is written into ``run_dir/checkpoints`` when a
run directory is given (also with ``checkpoint_every=0``: :func:`fit` resumes from
that folder whenever it holds checkpoints; trackers write each record at once), and
:class:`Interrupted` is raised with a one-line message ("interrupted by SIGTERM at step
120; checkpoint saved in /path/checkpoints; run the same command to resume"). Running
the same call again resumes from that step and reaches bit-for-bit the parameters of
an uninterrupted run. A second signal while stopping gets the handler that was
installed before :func:`fit` (normally: a second Ctrl-C raises ``KeyboardInterrupt``,
a second SIGTERM terminates), so a user can force-quit. The previous handlers are
restored when :func:`fit` returns or raises; a signal that was ignored (``SIG_IGN``)
stays ignored, and outside the main thread no handler is installed. A signal received
during the last step does not interrupt: the run is complete and returns normally.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx

from jaxorth.train import parallel
from jaxorth.train.checkpoint import Checkpointer, SkippedCheckpoint
from jaxorth.train.step import LossFn, TrainState, init_train_state, make_train_step
from jaxorth.train.tracking import NullTracker, Tracker

BatchFn = Callable[[int], Any]
EvalFn = Callable[[nnx.Module], Mapping[str, Any]]


class NonFiniteError(RuntimeError):
    """Raised when the training loss or gradients became NaN or infinite.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from flax import nnx
    >>> from jaxorth.train import LoopConfig, fit
    >>> x = jnp.linspace(-1.0, 1.0, 8)[:, None]
    >>> def loss_fn(model, batch):  # the mean squared error to y = 3 x
    ...     inputs, targets = batch
    ...     return ((model(inputs) - targets) ** 2).mean(), {}
    >>> model = nnx.Linear(1, 1, rngs=nnx.Rngs(0))
    >>> config = LoopConfig(steps=30, log_every=10, progress=False)
    >>> from jaxorth.train import NonFiniteError
    >>> try:  # NaN targets: the loss is NaN from the first step
    ...     fit(model, optax.sgd(0.5), loss_fn, lambda step: (x, jnp.nan * x), config)
    ... except NonFiniteError as error:
    ...     print(type(error).__name__, isinstance(error, RuntimeError))
    NonFiniteError True
    """


class Interrupted(RuntimeError):
    """Raised by :func:`fit` after a SIGINT or SIGTERM stopped it cleanly.

    Attributes
    ----------
    step : int
        The last completed step (the model holds its parameters).
    signal_name : str
        ``"SIGINT"`` or ``"SIGTERM"``.
    checkpoint_dir : Path or None
        The folder holding the checkpoint of ``step`` (``run_dir/checkpoints``), or None
        when :func:`fit` had no run directory.

    Examples
    --------
    >>> from pathlib import Path
    >>> from jaxorth.train import Interrupted
    >>> print(Interrupted(120, "SIGTERM", Path("run/checkpoints")))
    interrupted by SIGTERM at step 120; checkpoint saved in run/checkpoints; run the same
    command to resume
    """

    def __init__(self, step: int, signal_name: str, checkpoint_dir: Path | None):
        self.step = int(step)
        self.signal_name = signal_name
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        where = (
            f"checkpoint saved in {self.checkpoint_dir}; run the same command to resume"
            if self.checkpoint_dir is not None
            else "no checkpoint written (no run directory)"
        )
        super().__init__(f"interrupted by {signal_name} at step {self.step}; {where}")

    def __reduce__(self):
        return type(self), (self.step, self.signal_name, self.checkpoint_dir)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopOnSignal:
    """Context manager: SIGINT/SIGTERM set :attr:`signal_name` instead of stopping.

    The first signal puts the previous handlers back, so a second one acts as before
    (``KeyboardInterrupt`` for a second Ctrl-C). Installs nothing outside the main
    thread, and leaves an ignored signal ignored.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        del frame
        if self.signal_name is None:
            self.signal_name = signal.Signals(signum).name
        self._restore()

    def _restore(self) -> None:
        while self._previous:
            signum, handler = self._previous.popitem()
            signal.signal(signum, handler)

    def __enter__(self) -> _StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in _STOP_SIGNALS:
                previous = signal.getsignal(signum)
                if previous is signal.SIG_IGN or previous is None:
                    continue  # ignored by the parent (or set outside Python): keep it
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """Settings of :func:`fit` (mirrors ``cfg.train``).

    Examples
    --------
    >>> from jaxorth.train import LoopConfig
    >>> config = LoopConfig(steps=100)
    >>> config.log_every, config.checkpoint_every, config.resume  # defaults
    (50, 0, True)
    >>> try:
    ...     LoopConfig(steps=0)
    ... except ValueError as error:
    ...     print(error)
    train.steps must be >= 1, got 0
    """

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
    """What :func:`fit` returns: the trained model and the last metrics.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from flax import nnx
    >>> from jaxorth.train import LoopConfig, fit
    >>> x = jnp.linspace(-1.0, 1.0, 8)[:, None]
    >>> def loss_fn(model, batch):  # the mean squared error to y = 3 x
    ...     inputs, targets = batch
    ...     return ((model(inputs) - targets) ** 2).mean(), {}
    >>> model = nnx.Linear(1, 1, rngs=nnx.Rngs(0))
    >>> config = LoopConfig(steps=30, log_every=10, progress=False)
    >>> result = fit(model, optax.sgd(0.5), loss_fn, lambda step: (x, 3 * x), config)
    >>> result.step, result.steps_run, result.resumed_from, sorted(result.train_metrics)
    (30, 30, None, ['loss'])
    """

    model: nnx.Module
    step: int
    train_metrics: dict[str, float]
    eval_metrics: dict[str, float]
    resumed_from: int | None
    seconds: float
    steps_run: int
    skipped_checkpoints: list[SkippedCheckpoint] = dataclasses.field(default_factory=list)


def _to_floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(np.asarray(v)) for k, v in metrics.items()}


def _every(n: int, done: int) -> bool:
    return bool(n) and done % n == 0


def resume(
    checkpointer: Checkpointer, state: TrainState, mesh: jax.sharding.Mesh | None = None
) -> tuple[TrainState, int | None]:
    """``state`` restored from the newest checkpoint that restores, and its step.

    Returns ``(state, None)`` unchanged when no checkpoint restores. ``rest`` is kept
    from ``state`` (it is not checkpointed); the restored fields are replicated over
    ``mesh`` when one is given. Corrupt checkpoints are moved aside with a warning (see
    :func:`resume_latest`, which also returns them).
    """
    state, step, _ = resume_latest(checkpointer, state, mesh)
    return state, step


def resume_latest(
    checkpointer: Checkpointer, state: TrainState, mesh: jax.sharding.Mesh | None = None
) -> tuple[TrainState, int | None, list[SkippedCheckpoint]]:
    """Like :func:`resume`, also returning the corrupt checkpoints that were skipped.

    Raises
    ------
    CheckpointMismatchError
        If the newest readable checkpoint holds another model or optimizer state.
    """
    tree, _, skipped = checkpointer.restore_latest(state.checkpoint_tree())
    if tree is None:
        return state, None, skipped
    state = state.with_checkpoint(parallel.replicate(tree, mesh))
    return state, int(state.step), skipped


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
        With ``config.resume``, the run resumes from the newest checkpoint there that
        restores (also with ``checkpoint_every=0``, after an interruption).
    tracker : Tracker, optional
        Receives ``train/*`` metrics every ``log_every`` steps and ``eval/*`` metrics.
    eval_fn : callable, optional
        ``eval_fn(model) -> metrics``, called every ``eval_every`` steps and at the end.

    Raises
    ------
    NonFiniteError
        If a loss or gradient became non-finite; the model keeps the last finite
        parameters and the checkpoints on disk are those written before.
    Interrupted
        After a SIGINT or SIGTERM (see the module docstring): the model holds the last
        completed step, which is checkpointed when ``run_dir`` is given.
    CheckpointMismatchError
        If ``run_dir`` holds an intact checkpoint of another model or optimizer.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from flax import nnx
    >>> from jaxorth.train import LoopConfig, fit
    >>> x = jnp.linspace(-1.0, 1.0, 8)[:, None]
    >>> def loss_fn(model, batch):  # the mean squared error to y = 3 x
    ...     inputs, targets = batch
    ...     return ((model(inputs) - targets) ** 2).mean(), {}
    >>> model = nnx.Linear(1, 1, rngs=nnx.Rngs(0))
    >>> config = LoopConfig(steps=30, log_every=10, progress=False)
    >>> result = fit(model, optax.sgd(0.5), loss_fn, lambda step: (x, 3 * x), config)
    >>> result.model is model, round(float(model.kernel[...][0, 0]), 2)  # trained in place
    (True, 3.0)
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
    skipped: list[SkippedCheckpoint] = []
    ckpt_dir = None if run_dir is None else Path(run_dir) / "checkpoints"

    def open_checkpointer() -> Checkpointer:
        return Checkpointer(ckpt_dir, config.keep_checkpoints)

    if config.checkpoint_every or (config.resume and ckpt_dir is not None and ckpt_dir.is_dir()):
        checkpointer = open_checkpointer()
        if config.resume:
            state, resumed_from, skipped = resume_latest(checkpointer, state, mesh)
    if run_dir is not None:
        # drop what an earlier attempt in this run directory logged after the restored
        # step: all of it when the run starts over (no checkpoint, every checkpoint
        # corrupt, resume=false), so no step is ever logged twice
        tracker.truncate_after(resumed_from or 0)
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
        with _StopOnSignal() as stop:
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
                saved = checkpointer is not None and (_every(config.checkpoint_every, done) or last)
                if saved:
                    check_finite(done)
                    checkpointer.save(done, state.checkpoint_tree())
                if stop.signal_name is not None and not last:
                    check_finite(done)
                    if ckpt_dir is not None and not saved:
                        if checkpointer is None:
                            checkpointer = open_checkpointer()
                        checkpointer.save(done, state.checkpoint_tree())
                    nnx.update(model, state.params)
                    raise Interrupted(done, stop.signal_name, ckpt_dir)
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
        skipped_checkpoints=skipped,
    )
