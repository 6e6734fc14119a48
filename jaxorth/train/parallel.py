"""Data parallelism for :func:`jaxorth.train.fit`: devices, the mesh, batch placement.

The layout is a 1-D mesh named ``"data"`` over all local devices: the batch is split
along its leading axis, parameters and optimizer state are replicated, and each device
runs the loss and its gradient on its own shard (:func:`sharded_batch_mean`); the
results are averaged (``pmean``), so the loss must be a mean over the batch. A time
loop (``lax.scan``) then runs on each device without a collective per step. On a
CPU-only machine :func:`set_cpu_devices` splits the host into several XLA devices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "data"


def set_cpu_devices(n: int) -> None:
    """Split the host CPU into ``n`` XLA devices (``jax_num_cpu_devices``).

    With ``train.data_parallel=true`` each device then trains on its share of the batch
    in its own thread; a sequential program (the scan of an RNN) otherwise keeps one
    core busy. Must run before JAX executes anything in the process; a later call that
    asks for the count already in place is a no-op, another count is an error.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.train import set_cpu_devices
    >>> n = len(jax.devices("cpu"))
    >>> set_cpu_devices(n)  # the count already in place: nothing to do
    >>> try:
    ...     set_cpu_devices(n + 1)
    ... except ValueError as error:
    ...     print(error)
    train.cpu_devices=...: JAX already runs in this process with ... CPU device(s), ...
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

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.train import sharded_batch_mean
    >>> mesh = jax.sharding.Mesh(jax.devices()[:1], ("data",))
    >>> mean_sq = sharded_batch_mean(lambda w, x: (w * x**2).mean(), mesh, n_replicated=1)
    >>> float(mean_sq(jnp.float32(2.0), jnp.arange(4.0)))  # 2 * mean(0, 1, 4, 9)
    7.0
    """

    def local(*args: Any) -> Any:
        return jax.lax.pmean(fn(*args), AXIS)

    def run(*args: Any) -> Any:
        specs = tuple(P() if i < n_replicated else P(AXIS) for i in range(len(args)))
        return jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=P(), check_vma=False)(
            *args
        )

    return run


def data_mesh(enabled: bool = True) -> jax.sharding.Mesh | None:
    """The 1-D ``"data"`` mesh over all local devices, or None (disabled or one device)."""
    if not enabled or jax.device_count() < 2:
        return None
    return jax.sharding.Mesh(np.asarray(jax.devices()), (AXIS,))


def replicate(tree: Any, mesh: jax.sharding.Mesh | None) -> Any:
    """``tree`` replicated on every device of ``mesh`` (unchanged when ``mesh`` is None)."""
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, P()))


def shard_batch(batch: Any, mesh: jax.sharding.Mesh | None) -> Any:
    """Every leaf of ``batch`` split along its leading axis over ``mesh``.

    Raises
    ------
    ValueError
        If a leaf is a scalar or its leading size is not divisible by the device count.
    """
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
        return jax.device_put(x, NamedSharding(mesh, P(AXIS)))

    return jax.tree.map(put, batch)


def needs_step_sync(mesh: jax.sharding.Mesh | None) -> bool:
    """Whether each step must finish before the next one is dispatched.

    Several CPU devices share one thread pool: with two steps in flight, the all-reduce
    of one device can wait for a thread held by the other device's next step (a
    dead-lock within ~100 steps, measured with 2 devices on 2 cores).
    """
    return mesh is not None and mesh.devices.flat[0].platform == "cpu"
