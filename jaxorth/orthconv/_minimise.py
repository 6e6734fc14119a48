"""Minimising L_orth alone: the optimisation landscape of the orthogonality regularizer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float

from jaxorth._checks import positive_int

from ._conv import _check_kernel, _check_values
from ._lorth import lorth

__all__ = ["minimise_lorth"]


def minimise_lorth(
    kernels: Float[Array, "I M C *k"],
    stride: int,
    steps: int,
    optimizer: optax.GradientTransformationExtraArgs,
) -> tuple[Float[Array, "I M C *k"], Float[Array, "I T"]]:
    """Minimise :func:`~jaxorth.orthconv.lorth` alone from each of a stack of kernels.

    Achour, Malgouyres & Mamalet (JMLR 2022) show that ``L_orth(K) = 0`` iff the layer is
    orthogonal; this runs ``steps`` optax updates of ``K -> L_orth(K)`` from every initial
    kernel (one jitted ``lax.scan`` each, mapped with ``lax.map``: a ``vmap`` would turn
    the self-convolution into a grouped convolution), e.g. to compare the values reached
    with :func:`~jaxorth.orthconv.lorth_lower_bound`.

    Parameters
    ----------
    kernels : Float[Array, "I M C k_1 ... k_d"]
        ``I`` initial kernels, stacked.
    stride : int
        Stride ``S`` of the layer.
    steps : int
        Number of optimizer updates ``T - 1``.
    optimizer : optax.GradientTransformationExtraArgs
        E.g. ``optax.lbfgs()`` (its line search gets ``value``, ``grad`` and
        ``value_fn``) or ``optax.adam(lr)``.

    Returns
    -------
    final : Float[Array, "I M C k_1 ... k_d"]
        The kernels after ``steps`` updates.
    losses : Float[Array, "I T"]
        ``L_orth`` before each update and after the last (``T = steps + 1``).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from jaxorth.orthconv import minimise_lorth
    >>> kernels = jnp.full((1, 1, 1, 1, 1), 1.1)  # one 1 x 1 kernel: L_orth = (k^2 - 1)^2
    >>> final, losses = minimise_lorth(kernels, 1, 20, optax.sgd(0.1))
    >>> losses.shape, round(float(losses[0, 0]), 4)  # T = 21 values, from (1.21 - 1)^2
    ((1, 21), 0.0441)
    >>> round(float(final[0, 0, 0, 0, 0]), 3)  # converged to the orthogonal k = 1
    1.0
    """
    stride = positive_int(stride, "stride")
    steps = positive_int(steps, "steps")
    _check_kernel(kernels.shape[1:])
    _check_values(kernels, "kernels")

    def value(k: Array) -> Array:
        return lorth(k, stride)

    def one(k0: Array) -> tuple[Array, Array]:
        state0 = optimizer.init(k0)
        # L-BFGS's line search keeps the value and gradient of the current point in its
        # state (reused, not recomputed); the state of Adam or SGD holds none of them
        if optax.tree_utils.tree_get(state0, "value") is not None:
            value_and_grad = optax.value_and_grad_from_state(value)
        else:
            value_and_grad = lambda k, state: jax.value_and_grad(value)(k)  # noqa: E731

        def step(carry, _):
            k, state = carry
            loss, grad = value_and_grad(k, state=state)
            updates, state = optimizer.update(grad, state, k, value=loss, grad=grad, value_fn=value)
            return (optax.apply_updates(k, updates), state), loss

        (k, _), losses = jax.lax.scan(step, (k0, state0), None, length=steps)
        return k, jnp.concatenate([losses, value(k)[None]])

    return jax.jit(lambda ks: jax.lax.map(one, ks))(kernels)
