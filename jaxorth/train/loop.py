"""A training loop shared by the studies: jit-compiled steps over NNX models and optax.

Features
--------
- one ``jax.jit`` step (value-and-grad, optax update) over the model's ``nnx.Param``
  state; the rest of the model state is passed through unchanged;
- data as a pure function of the step, ``batch_fn(step) -> batch``, so a resumed run
  sees exactly the batches it would have seen;
- NaN/inf guard: a step whose loss or gradients are not finite is not applied, every
  later step is frozen, and the loop stops at the next check with
  :class:`NonFiniteError`; checkpoints written before stay untouched;
- Orbax checkpoints every ``checkpoint_every`` steps (atomic), resume from the newest
  one when the same run directory is used again;
- data parallelism over all local devices: a 1-D mesh named ``"data"``, the batch
  split along its leading axis, parameters replicated; each device runs the loss and
  its gradient on its own shard (``jax.shard_map``) and the results are averaged
  (``pmean``), so the loss must be a mean over the batch. A time loop (``lax.scan``)
  then runs on each device without a collective per step. On a CPU-only machine,
  :func:`set_cpu_devices` splits the host into several XLA devices (steps are then run
  one at a time: CPU devices share a thread pool);
- periodic evaluation, a progress bar with live metrics, metrics sent to a tracker.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxorth.train.checkpoint import Checkpointer
from jaxorth.train.tracking import NullTracker, Tracker

LossFn = Callable[[nnx.Module, Any], tuple[jax.Array, Mapping[str, jax.Array]]]
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


def _tree_select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def set_cpu_devices(n: int) -> None:
    """Split the host CPU into ``n`` XLA devices (``jax_num_cpu_devices``).

    With ``train.data_parallel=true`` each device then trains on its share of the batch
    in its own thread; a sequential program (the scan of an RNN) otherwise keeps one
    core busy. Must run before JAX executes anything in the process; a later call that
    asks for the count already in place is a no-op, another count is an error.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"train.cpu_devices must be a positive integer, got {n!r}")
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:
        have = len(jax.devices("cpu"))
        if have != n:
            raise ValueError(
                f"train.cpu_devices={n}: JAX already runs in this process with {have} CPU "
                "device(s), and the count can only be set before its first operation; "
                "start a new process (the jaxorth command does this)"
            ) from None


def sharded_batch_mean(
    fn: Callable[..., Any], mesh: jax.sharding.Mesh, n_replicated: int
) -> Callable[..., Any]:
    """``fn`` run on one shard of the batch per device, its outputs averaged (``pmean``).

    The first ``n_replicated`` arguments (parameters...) are replicated; the others are
    split along their leading axis over the mesh axis ``"data"``. When ``fn`` returns
    means over the batch (a loss, its gradient, metrics) and the shards have equal
    sizes, the result is the full-batch value. Each device runs ``fn`` as written, so a
    ``lax.scan`` inside it has no collective per step (GSPMD sharding of the same
    program puts one in every time step of an RNN).
    """

    def local(*args: Any) -> Any:
        return jax.lax.pmean(fn(*args), "data")

    def run(*args: Any) -> Any:
        specs = tuple(P() if i < n_replicated else P("data") for i in range(len(args)))
        return jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=P(), check_vma=False)(
            *args
        )

    return run


def _data_mesh() -> jax.sharding.Mesh:
    devices = np.asarray(jax.devices())
    return jax.sharding.Mesh(devices, ("data",))


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

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt_state = tx.init(params)
    state = {
        "params": params,
        "opt_state": opt_state,
        "step": jnp.asarray(0, jnp.int32),
        "first_bad": jnp.asarray(-1, jnp.int32),
    }

    mesh = None
    if config.data_parallel and jax.device_count() > 1:
        mesh = _data_mesh()
        replicated = NamedSharding(mesh, P())
        state = jax.device_put(state, replicated)
        rest = jax.device_put(rest, replicated)

    def place_batch(batch: Any) -> Any:
        if mesh is None:
            return batch
        n = mesh.size

        def put(x: Any) -> Any:
            x = jnp.asarray(x)
            if x.ndim == 0 or x.shape[0] % n:
                raise ValueError(
                    f"data-parallel training over {n} devices needs a batch size divisible "
                    f"by {n}; got a batch leaf of shape {x.shape}"
                )
            return jax.device_put(x, NamedSharding(mesh, P("data")))

        return jax.tree.map(put, batch)

    def local_value_and_grad(params: Any, rest: Any, batch: Any) -> Any:
        def objective(p: Any) -> tuple[jax.Array, Mapping[str, jax.Array]]:
            return loss_fn(nnx.merge(graphdef, p, rest), batch)

        return jax.value_and_grad(objective, has_aux=True)(params)

    value_and_grad = local_value_and_grad
    if mesh is not None:
        value_and_grad = sharded_batch_mean(local_value_and_grad, mesh, n_replicated=2)

    def train_step(state: dict[str, Any], rest: Any, batch: Any) -> tuple[dict, dict]:
        (loss, aux), grads = value_and_grad(state["params"], rest, batch)
        updates, new_opt = tx.update(grads, state["opt_state"], state["params"])
        new_params = optax.apply_updates(state["params"], updates)
        grad_ok = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
        finite = jnp.isfinite(loss) & grad_ok
        healthy = finite & (state["first_bad"] < 0)
        step = state["step"] + 1
        new_state = {
            "params": _tree_select(healthy, new_params, state["params"]),
            "opt_state": _tree_select(healthy, new_opt, state["opt_state"]),
            "step": step,
            "first_bad": jnp.where(
                (state["first_bad"] < 0) & ~finite, step, state["first_bad"]
            ).astype(jnp.int32),
        }
        metrics = {"loss": loss, **aux}
        return new_state, metrics

    jit_step = jax.jit(train_step, donate_argnums=(0,))
    # Several CPU devices share one thread pool: with two steps in flight, the all-reduce
    # of one device can wait for a thread held by the other device's next step (a
    # dead-lock within ~100 steps, measured with 2 devices on 2 cores). Finish each step
    # before the next one is dispatched.
    sync_each_step = mesh is not None and mesh.devices.flat[0].platform == "cpu"

    checkpointer = None
    resumed_from = None
    start = 0
    if config.checkpoint_every:
        checkpointer = Checkpointer(Path(run_dir) / "checkpoints", config.keep_checkpoints)
        latest = checkpointer.latest_step() if config.resume else None
        if latest is not None:
            state = checkpointer.restore(latest, like=state)
            if mesh is not None:
                state = jax.device_put(state, NamedSharding(mesh, P()))
            start = int(state["step"])
            resumed_from = start
            truncate = getattr(tracker, "truncate_after", None)
            if truncate is not None:
                truncate(start)

    def current_model() -> nnx.Module:
        return nnx.merge(graphdef, state["params"], rest)

    def check_finite(at_step: int) -> None:
        bad = int(state["first_bad"])
        if bad >= 0:
            last_ckpt = checkpointer.latest_step() if checkpointer else None
            nnx.update(model, state["params"])
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
            batch = place_batch(batch_fn(step))
            state, metrics = jit_step(state, rest, batch)
            if sync_each_step:
                jax.block_until_ready(state["step"])
            steps_run += 1
            done = step + 1
            last = done == config.steps
            if bar is not None:
                bar.update(1)
            if (config.log_every and done % config.log_every == 0) or last:
                check_finite(done)
                train_metrics = _to_floats(metrics)
                tracker.log({f"train/{k}": v for k, v in train_metrics.items()}, step=done)
                if bar is not None:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in train_metrics.items()})
            if eval_fn is not None and (
                (config.eval_every and done % config.eval_every == 0) or last
            ):
                check_finite(done)
                eval_metrics = _to_floats(eval_fn(current_model()))
                tracker.log({f"eval/{k}": v for k, v in eval_metrics.items()}, step=done)
                if bar is not None:
                    bar.write(
                        f"step {done}: "
                        + ", ".join(f"eval/{k}={v:.4g}" for k, v in eval_metrics.items())
                    )
            if checkpointer is not None and (done % config.checkpoint_every == 0 or last):
                check_finite(done)
                checkpointer.save(done, state)
    finally:
        if bar is not None:
            bar.close()
        if checkpointer is not None:
            checkpointer.close()

    final_step = int(state["step"])
    if eval_fn is not None and not eval_metrics:
        # resumed at the very end: evaluate the restored model once
        eval_metrics = _to_floats(eval_fn(current_model()))
    nnx.update(model, state["params"])
    seconds = time.perf_counter() - t0
    return FitResult(
        model=model,
        step=final_step,
        train_metrics=train_metrics,
        eval_metrics=eval_metrics,
        resumed_from=resumed_from,
        seconds=seconds,
        steps_run=steps_run,
    )


def make_optimizer(
    name: str = "adam",
    lr: float = 1e-3,
    *,
    weight_decay: float = 0.0,
    grad_clip: float | None = None,
    schedule: str = "constant",
    warmup_steps: int = 0,
    total_steps: int = 1,
    momentum: float = 0.9,
) -> optax.GradientTransformation:
    """Build an optax optimizer from the ``optim`` config group.

    ``schedule`` is ``"constant"`` or ``"cosine"`` (to 0 at ``total_steps``), both after
    a linear warm-up of ``warmup_steps``.
    """
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"optim.lr must be a positive number, got {lr}")
    if warmup_steps < 0:
        raise ValueError(f"optim.warmup_steps must be >= 0, got {warmup_steps}")
    if schedule == "constant":
        sched: optax.Schedule | float = lr
        if warmup_steps:
            sched = optax.join_schedules(
                [optax.linear_schedule(0.0, lr, warmup_steps), optax.constant_schedule(lr)],
                [warmup_steps],
            )
    elif schedule == "cosine":
        sched = optax.warmup_cosine_decay_schedule(
            0.0, lr, max(warmup_steps, 1), max(total_steps, warmup_steps + 1)
        )
    else:
        raise ValueError(f"optim.schedule must be 'constant' or 'cosine', got {schedule!r}")
    if name == "adam":
        core = optax.adam(sched)
    elif name == "adamw":
        core = optax.adamw(sched, weight_decay=weight_decay)
    elif name == "sgd":
        core = optax.sgd(sched, momentum=momentum or None)
    elif name == "rmsprop":
        core = optax.rmsprop(sched)
    else:
        raise ValueError(f"optim.name must be one of adam, adamw, sgd, rmsprop; got {name!r}")
    if grad_clip is not None:
        if grad_clip <= 0:
            raise ValueError(f"optim.grad_clip must be > 0 or null, got {grad_clip}")
        return optax.chain(optax.clip_by_global_norm(grad_clip), core)
    return core
