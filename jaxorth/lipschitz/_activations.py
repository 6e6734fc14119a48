"""Gradient-norm-preserving activations: MaxMin and GroupSort.

Anil, Lucas & Grosse (ICML 2019, "Sorting out Lipschitz function approximation",
section 4): GroupSort splits the pre-activations into groups and sorts each group.
Sorting permutes the entries of a group, so on each linear region the Jacobian is a
permutation matrix: the map is 1-Lipschitz in the l2 norm, preserves the norm and the
norm of back-propagated gradients.

Two groupings exist in the wild, and they differ already for groups of two:

- *contiguous* (the paper's reference code, deel-lip): group ``g`` holds the channels
  ``g G, ..., g G + G - 1``;
- *strided*: group ``g`` holds the channels ``g, g + C/G, ..., g + (G - 1) C/G``; for
  ``G = 2`` this pairs channel ``i`` with ``i + C/2``, which is :func:`maxmin` (and
  orthogonium's ``MaxMin``).

:func:`maxmin` keeps the strided pairing; :func:`groupsort` uses contiguous groups by
default and the strided ones with ``grouping="strided"``
(``groupsort(x, 2, grouping="strided") == maxmin(x)``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jaxorth._checks import one_of, positive_int

__all__ = ["groupsort", "maxmin"]


def maxmin(x: Float[Array, "B C *n"], axis: int = 1) -> Float[Array, "B C *n"]:
    """MaxMin (GroupSort-2) over channel halves: ``(a, b) -> (max(a, b), min(a, b))``.

    Anil, Lucas & Grosse (ICML 2019, "Sorting out Lipschitz function approximation"):
    the channels along ``axis`` are split into two halves ``a = x[:C/2]``,
    ``b = x[C/2:]`` and every pair ``(a_i, b_i)`` is sorted in decreasing order. Sorting
    a pair permutes its entries, so the map is 1-Lipschitz in the l2 norm, preserves the
    norm (``||maxmin(x)|| = ||x||``) and its Jacobian is a permutation almost everywhere
    (gradient norm preserving).

    The pairs are *strided* (channel ``i`` with channel ``i + C/2``), not the contiguous
    pairs ``(2i, 2i + 1)`` of :func:`groupsort`'s default: for an even number of
    channels ``maxmin(x)`` equals ``groupsort(x, 2, axis=axis, grouping="strided")``.

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

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import maxmin
    >>> x = jnp.array([[1.0, -2.0, 3.0, 0.5]])  # channel c is paired with c + C/2
    >>> maxmin(x).tolist()  # maxima, then minima
    [[3.0, 0.5, 1.0, -2.0]]
    """
    if x.shape[axis] % 2:
        return jax.nn.relu(x)
    a, b = jnp.split(x, 2, axis=axis)
    return jnp.concatenate([jnp.maximum(a, b), jnp.minimum(a, b)], axis=axis)


def groupsort(
    x: Float[Array, "*shape"],
    group_size: int,
    axis: int = 1,
    *,
    grouping: str = "contiguous",
    descending: bool = True,
) -> Float[Array, "*shape"]:
    """GroupSort: sort the channels along ``axis`` within groups of ``group_size``.

    Anil, Lucas & Grosse (ICML 2019, "Sorting out Lipschitz function approximation",
    section 4, "GroupSort"). The ``C`` channels along ``axis`` form ``C / G`` groups of
    ``G = group_size`` channels and each group is sorted independently (at every other
    index: batch, spatial positions). On each region where the order does not change the
    map is a fixed permutation, so it is 1-Lipschitz in the l2 norm, norm preserving
    (``||groupsort(x)|| = ||x||``) and its Jacobian is a permutation matrix almost
    everywhere (gradient norm preserving). ``G = 1`` is the identity, ``G = 2`` is
    MaxMin, ``G = C`` is a full sort of the channels ("FullSort" in the paper).

    Parameters
    ----------
    x : Float[Array, "..."]
        Input; channels along ``axis`` (channels first by default).
    group_size : int
        ``G``, a positive divisor of the number of channels ``C = x.shape[axis]``.
    axis : int
        The channel axis (negative values count from the end).
    grouping : {"contiguous", "strided"}
        How channels are grouped. ``"contiguous"`` (the paper's reference code and
        deel-lip): group ``g`` is channels ``g G, g G + 1, ..., g G + G - 1`` and its
        sorted values are written back to the same channels. ``"strided"``: group ``g``
        is channels ``g, g + C/G, ..., g + (G - 1) C/G``; with ``G = 2`` this is
        :func:`maxmin` (maxima in the first half of the channels, minima in the second).
    descending : bool
        Sort each group in decreasing order (the default, as :func:`maxmin`: the first
        channel of a group gets its maximum). The paper's code sorts in increasing order
        (``descending=False``); both orders differ by a fixed permutation of each group,
        so they have the same Lipschitz and norm-preserving properties.

    Returns
    -------
    Float[Array, "..."]
        Same shape and dtype as ``x``.

    Raises
    ------
    ValueError
        If ``group_size`` is not a positive integer dividing ``C``, or for a bad
        ``axis`` or ``grouping``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import groupsort
    >>> groupsort(jnp.array([[1.0, 3.0, 2.0, 0.0]]), 2).tolist()
    [[3.0, 1.0, 2.0, 0.0]]
    """
    group_size = positive_int(group_size, "group_size")
    one_of(grouping, "grouping", ("contiguous", "strided"))
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must lie in [-{x.ndim}, {x.ndim}) for x of shape {x.shape}")
    axis %= x.ndim
    channels = x.shape[axis]
    if channels % group_size:
        raise ValueError(
            f"group_size must divide the number of channels C={channels} along axis "
            f"{axis} of x (shape {x.shape}), got group_size={group_size}"
        )
    if group_size == 1:
        return x
    n_groups = channels // group_size
    before, after = x.shape[:axis], x.shape[axis + 1 :]
    if grouping == "contiguous":
        grouped, sort_axis = x.reshape(*before, n_groups, group_size, *after), axis + 1
    else:
        grouped, sort_axis = x.reshape(*before, group_size, n_groups, *after), axis
    ordered = jnp.sort(grouped, axis=sort_axis, descending=descending)
    return ordered.reshape(x.shape)
