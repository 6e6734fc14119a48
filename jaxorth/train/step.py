"""The training state and the jit-compiled step that advances it (with a NaN guard).

The step is value-and-grad of the loss over the model's ``nnx.Param`` state and one
optax update; the rest of the model state is passed through unchanged. A step whose
loss or gradients are not finite is not applied, its number is recorded in
``first_bad``, and every later step is frozen, so the parameters stay those of the last
finite step until the loop notices (:func:`jaxorth.train.fit` checks ``first_bad`` at
each log, evaluation and checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxorth.train.parallel import sharded_batch_mean

LossFn = Callable[[nnx.Module, Any], tuple[jax.Array, Mapping[str, jax.Array]]]

# what a checkpoint holds, in this order (``rest`` is rebuilt from the model)
_CHECKPOINTED = ("params", "opt_state", "step", "first_bad")


class TrainState(NamedTuple):
    """Everything a training step reads and writes (a pytree).

    Attributes
    ----------
    params : pytree
        The model's ``nnx.Param`` state.
    opt_state : pytree
        The optimizer state.
    rest : pytree
        The model's other state (passed through unchanged, not checkpointed).
    step : jax.Array
        The number of steps taken (int32 scalar).
    first_bad : jax.Array
        The first step whose loss or gradient was not finite, or -1 (int32 scalar).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from flax import nnx
    >>> from jaxorth.train import init_train_state, make_train_step
    >>> x = jnp.linspace(-1.0, 1.0, 8)[:, None]
    >>> def loss_fn(model, batch):  # the mean squared error to y = 3 x
    ...     inputs, targets = batch
    ...     return ((model(inputs) - targets) ** 2).mean(), {}
    >>> model = nnx.Linear(1, 1, rngs=nnx.Rngs(0))
    >>> graphdef, state = init_train_state(model, optax.sgd(0.5))
    >>> int(state.step), int(state.first_bad), state._fields
    (0, -1, ('params', 'opt_state', 'rest', 'step', 'first_bad'))
    """

    params: Any
    opt_state: Any
    rest: Any
    step: jax.Array
    first_bad: jax.Array

    def checkpoint_tree(self) -> dict[str, Any]:
        """The part written to a checkpoint (all fields but ``rest``), as a dict."""
        return {name: getattr(self, name) for name in _CHECKPOINTED}

    def with_checkpoint(self, tree: Mapping[str, Any]) -> TrainState:
        """Return the state with the fields of a restored :meth:`checkpoint_tree`."""
        return self._replace(**{name: tree[name] for name in _CHECKPOINTED})


StepFn = Callable[[TrainState, Any], tuple[TrainState, dict[str, jax.Array]]]


def init_train_state(
    model: nnx.Module, tx: optax.GradientTransformation
) -> tuple[nnx.GraphDef, TrainState]:
    """Split ``model`` into its graph and a fresh :class:`TrainState` at step 0.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from flax import nnx
    >>> from jaxorth.train import init_train_state, make_train_step
    >>> x = jnp.linspace(-1.0, 1.0, 8)[:, None]
    >>> def loss_fn(model, batch):  # the mean squared error to y = 3 x
    ...     inputs, targets = batch
    ...     return ((model(inputs) - targets) ** 2).mean(), {}
    >>> model = nnx.Linear(1, 1, rngs=nnx.Rngs(0))
    >>> graphdef, state = init_train_state(model, optax.sgd(0.5))
    >>> import jax
    >>> params = nnx.state(model, nnx.Param)  # the model's parameters, a fresh optimizer
    >>> int(state.step), jax.tree.structure(state.params) == jax.tree.structure(params)
    (0, True)
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    state = TrainState(
        params=params,
        opt_state=tx.init(params),
        rest=rest,
        step=jnp.asarray(0, jnp.int32),
        first_bad=jnp.asarray(-1, jnp.int32),
    )
    return graphdef, state


def _tree_select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def _all_finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(tree)]))


def make_train_step(
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    loss_fn: LossFn,
    *,
    mesh: jax.sharding.Mesh | None = None,
) -> StepFn:
    """Build ``step(state, batch) -> (state, metrics)``, compiled once with ``jax.jit``.

    Parameters
    ----------
    graphdef : nnx.GraphDef
        The model's graph (from :func:`init_train_state`).
    tx : optax.GradientTransformation
        The optimizer.
    loss_fn : callable
        ``loss_fn(model, batch) -> (loss, metrics)``, a mean over the batch.
    mesh : jax.sharding.Mesh, optional
        A ``"data"`` mesh: the loss and gradient are computed per batch shard and
        averaged (:func:`jaxorth.train.sharded_batch_mean`).

    Returns
    -------
    callable
        The step; ``metrics`` holds ``"loss"`` and the loss function's metrics. The
        input state's buffers (all but ``rest``) are donated.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from flax import nnx
    >>> from jaxorth.train import init_train_state, make_train_step
    >>> x = jnp.linspace(-1.0, 1.0, 8)[:, None]
    >>> def loss_fn(model, batch):  # the mean squared error to y = 3 x
    ...     inputs, targets = batch
    ...     return ((model(inputs) - targets) ** 2).mean(), {}
    >>> model = nnx.Linear(1, 1, rngs=nnx.Rngs(0))
    >>> graphdef, state = init_train_state(model, optax.sgd(0.5))
    >>> step = make_train_step(graphdef, optax.sgd(0.5), loss_fn)
    >>> state, first = step(state, (x, 3 * x))
    >>> state, second = step(state, (x, 3 * x))
    >>> int(state.step), bool(second["loss"] < first["loss"])
    (2, True)
    """

    def local_value_and_grad(params: Any, rest: Any, batch: Any) -> Any:
        def objective(p: Any) -> tuple[jax.Array, Mapping[str, jax.Array]]:
            return loss_fn(nnx.merge(graphdef, p, rest), batch)

        return jax.value_and_grad(objective, has_aux=True)(params)

    value_and_grad = local_value_and_grad
    if mesh is not None:
        value_and_grad = sharded_batch_mean(local_value_and_grad, mesh, n_replicated=2)

    def update(state: TrainState, rest: Any, batch: Any) -> tuple[TrainState, dict]:
        (loss, aux), grads = value_and_grad(state.params, rest, batch)
        updates, new_opt = tx.update(grads, state.opt_state, state.params)
        new_params = optax.apply_updates(state.params, updates)
        finite = jnp.isfinite(loss) & _all_finite(grads)
        healthy = finite & (state.first_bad < 0)
        step = state.step + 1
        first_bad = jnp.where((state.first_bad < 0) & ~finite, step, state.first_bad)
        new_state = TrainState(
            params=_tree_select(healthy, new_params, state.params),
            opt_state=_tree_select(healthy, new_opt, state.opt_state),
            rest=None,
            step=step,
            first_bad=first_bad.astype(jnp.int32),
        )
        return new_state, {"loss": loss, **aux}

    # ``rest`` travels beside the state: not donated, not returned (it does not change)
    compiled = jax.jit(update, donate_argnums=(0,))

    def step(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, jax.Array]]:
        new_state, metrics = compiled(state._replace(rest=None), state.rest, batch)
        return new_state._replace(rest=state.rest), metrics

    return step
