"""Gradient-norm-preserving activations: MaxMin (GroupSort with groups of 2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["maxmin"]


def maxmin(x: Float[Array, "B C *n"], axis: int = 1) -> Float[Array, "B C *n"]:
    """MaxMin (GroupSort-2) over channel halves: ``(a, b) -> (max(a, b), min(a, b))``.

    Anil, Lucas & Grosse (ICML 2019, "Sorting out Lipschitz function approximation"):
    the channels along ``axis`` are split into two halves ``a = x[:C/2]``,
    ``b = x[C/2:]`` and every pair ``(a_i, b_i)`` is sorted in decreasing order. Sorting
    a pair permutes its entries, so the map is 1-Lipschitz in the l2 norm, preserves the
    norm (``||maxmin(x)|| = ||x||``) and its Jacobian is a permutation almost everywhere
    (gradient norm preserving).

    Parameters
    ----------
    x : Float[Array, "B C *n"]
        Input; channels along ``axis`` (channels first by default).
    axis : int
        The channel axis.

    Returns
    -------
    Float[Array, "B C *n"]
        Same shape: maxima in the first half of the channels, minima in the second. With
        an odd number of channels there are no pairs to sort and the ReLU of ``x`` is
        returned instead (still 1-Lipschitz, but not norm preserving).
    """
    if x.shape[axis] % 2:
        return jax.nn.relu(x)
    a, b = jnp.split(x, 2, axis=axis)
    return jnp.concatenate([jnp.maximum(a, b), jnp.minimum(a, b)], axis=axis)
