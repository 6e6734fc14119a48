r"""Chains of sparse convolutions, their tensorial lifting and the topology test.

Malgouyres & Landsberg, "Multilinear compressive sensing and an application to
convolutional linear networks" (SIAM J. Math. Data Sci. 2019, arXiv 1703.08044). A
convolutional linear network with ``K`` layers, layer ``k`` a filter ``h_k`` supported
on a fixed set of offsets ``S_k`` (1-D: integers; 2-D: pairs), computes the product
filter

.. math::

    X = h_1 * h_2 * \cdots * h_K,
    \qquad X[t] = \sum_{s_1 + \cdots + s_K = t} h_1[s_1] \cdots h_K[s_K],

which is multilinear in ``(h_1, ..., h_K)``. Its *tensorial lifting* is the linear map
``A`` with ``X = A(h_1 \otimes \cdots \otimes h_K)``: ``A`` sends the basis tensor of
the index tuple ``(s_1, ..., s_K)`` to the unit filter at ``s_1 + ... + s_K`` (Sec. 2 and
the convolutional example of Sec. 5). The factors are determined by ``X`` up to the
rescalings ``h_k -> lambda_k h_k``, ``prod lambda_k = 1``, for every choice of the
factors, iff ``ker A`` contains no difference of two rank-one tensors of the model; for
convolution chains this holds iff no two distinct tuples of ``S_1 x ... x S_K`` have the
same sum (two such tuples give two basis tensors with the same image, and, when all the
sums differ, ``A`` is injective). :func:`conv_chain_identifiable` decides it from the
sumset counts without enumerating the product set.

Supports are sequences of distinct non-negative offsets: integers (1-D) or pairs of
integers (2-D); filters are numbered by their support (``h_k[i]`` sits at offset
``S_k[i]``). The product filter has shape ``sum_k max(S_k) + 1`` (per dimension).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

__all__ = [
    "Topology",
    "check_supports",
    "conv_chain",
    "conv_chain_identifiable",
    "lifting",
    "product_shape",
]

#: Largest number of entries of the dense lifting matrix :func:`lifting` builds by default.
DENSE_LIFTING_ENTRIES = 4_000_000


def check_supports(supports: Any, name: str = "supports") -> list[np.ndarray]:
    """The supports as integer arrays of shape ``(|S_k|, dim)``; ``ValueError`` otherwise.

    Every support must be a non-empty sequence of distinct non-negative offsets, all of
    the same dimension (integers for 1-D chains, pairs for 2-D chains).

    Examples
    --------
    >>> from jaxorth.multilinear import check_supports
    >>> [s.shape for s in check_supports([[0, 1], [0, 2, 4]])]  # (|S_k|, dim)
    [(2, 1), (3, 1)]
    """
    if isinstance(supports, str | bytes) or not isinstance(supports, Sequence) or not supports:
        raise ValueError(
            f"{name} must be a non-empty list of supports S_1, ..., S_K, got {supports!r}"
        )
    out, dim = [], None
    for k, support in enumerate(supports):
        arr = np.asarray(support)
        if arr.size == 0:
            raise ValueError(f"{name}[{k}] is empty: every factor needs at least one offset")
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name}[{k}] must hold integer offsets, got {support!r}")
        arr = arr.reshape(len(arr), -1).astype(np.int64)
        if dim is None:
            dim = arr.shape[1]
        if arr.ndim != 2 or arr.shape[1] != dim or dim > 2:
            raise ValueError(
                f"{name}[{k}] must hold offsets of dimension {dim} like {name}[0] "
                f"(integers for 1-D chains, pairs for 2-D), got {support!r}"
            )
        if (arr < 0).any():
            raise ValueError(f"{name}[{k}] must hold non-negative offsets, got {support!r}")
        if len(np.unique(arr, axis=0)) != len(arr):
            raise ValueError(f"{name}[{k}] has a repeated offset: {support!r}")
        out.append(arr)
    return out


def static_supports(
    supports: Sequence[np.ndarray],
) -> tuple[tuple[int, ...], tuple[tuple[tuple[int, ...], ...], ...]]:
    """``(sizes, frozen)``: ``|S_k|`` and the checked supports as nested tuples.

    The hashable form a jitted solver takes as static arguments (one compilation per
    topology).
    """
    sizes = tuple(len(s) for s in supports)
    return sizes, tuple(tuple(tuple(int(v) for v in o) for o in s) for s in supports)


def product_shape(supports: Any) -> tuple[int, ...]:
    """Shape of the product filter: ``sum_k max(S_k) + 1`` per dimension.

    Examples
    --------
    >>> from jaxorth.multilinear import product_shape
    >>> product_shape([[0, 1], [0, 2], [0, 4]])
    (8,)
    """
    sup = check_supports(supports)
    return tuple(int(v) for v in sum(s.max(axis=0) for s in sup) + 1)


def _check_factors(h: Any, sup: list[np.ndarray]) -> list[Array]:
    if isinstance(h, str | bytes) or not isinstance(h, Sequence) or len(h) != len(sup):
        raise ValueError(
            f"h must be a list of {len(sup)} factors (one per support), got "
            f"{len(h) if isinstance(h, Sequence) else type(h).__name__}"
        )
    out = []
    for k, (hk, s) in enumerate(zip(h, sup)):
        hk = jnp.asarray(hk)
        if hk.shape != (len(s),):
            raise ValueError(
                f"h[{k}] must have shape ({len(s)},) (one value per offset of supports[{k}]), "
                f"got {hk.shape}"
            )
        out.append(hk)
    return out


def _dense(hk: Array, s: np.ndarray) -> Array:
    shape = tuple(int(v) for v in s.max(axis=0) + 1)
    return jnp.zeros(shape, hk.dtype).at[tuple(s.T)].set(hk)


def conv_chain(h: Sequence[Any], supports: Any) -> Float[Array, "*shape"]:
    """The product filter ``h_1 * ... * h_K`` of sparse filters on the given supports.

    ``h[k]`` has shape ``(|S_k|,)``: its entry ``i`` is the filter's value at offset
    ``supports[k][i]``. Full (linear, not circular) convolution; the result has shape
    :func:`product_shape`. Differentiable and ``jit``-able in ``h`` (the supports are
    static).

    Examples
    --------
    >>> from jaxorth.multilinear import conv_chain
    >>> conv_chain([[1.0, 1.0], [1.0, 2.0]], [[0, 1], [0, 2]]).tolist()  # (1 + z)(1 + 2 z^2)
    [1.0, 1.0, 2.0, 2.0]
    """
    sup = check_supports(supports)
    factors = _check_factors(h, sup)
    out = _dense(factors[0], sup[0])
    for hk, s in zip(factors[1:], sup[1:]):
        # a sparse filter: one shifted, scaled copy of the running product per offset
        shape = tuple(int(a + b) for a, b in zip(out.shape, s.max(axis=0)))
        acc = jnp.zeros(shape, jnp.result_type(out, hk))
        for i, offset in enumerate(s):
            window = tuple(slice(int(o), int(o) + n) for o, n in zip(offset, out.shape))
            acc = acc.at[window].add(hk[i] * out)
        out = acc
    return out


def _flat_sums(sup: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The flat index of ``s_1 + ... + s_K`` for every tuple, in C order of the tuple grid."""
    total = np.zeros((1,) * len(sup) + (sup[0].shape[1],), np.int64)
    for k, s in enumerate(sup):
        grid = [1] * len(sup) + [s.shape[1]]
        grid[k] = len(s)
        total = total + s.reshape(grid)
    return np.ravel_multi_index(tuple(np.moveaxis(total, -1, 0)), shape).reshape(-1)


def lifting(supports: Any, *, as_matrix: bool | None = None) -> np.ndarray | Callable[[Any], Array]:
    r"""The tensorial lifting ``A`` of a convolution chain: ``conv_chain(h) = A(h_1 x ... x h_K)``.

    Malgouyres & Landsberg (2019), Sec. 2: ``A`` maps the basis tensor of the index tuple
    ``(i_1, ..., i_K)`` (``i_k`` indexing ``S_k``) to the unit filter at ``S_1[i_1] + ... +
    S_K[i_K]``; it sums the entries of a tensor with equal offset sums.

    Returns the matrix (numpy float64, ``(prod(product_shape), prod |S_k|)``, acting on the
    C-ordered vectorisation of the tensor, i.e. ``np.kron(h_1, ..., h_K)``) when
    ``as_matrix`` is true, or by default when it has at most
    :data:`DENSE_LIFTING_ENTRIES` entries; otherwise a matvec ``T -> A(T)`` taking a
    tensor of shape ``(|S_1|, ..., |S_K|)`` (or its flat vector) and returning the product
    filter (a ``jax.numpy`` segment sum; ``jit``-able).

    Examples
    --------
    >>> from jaxorth.multilinear import lifting
    >>> lifting([[0, 1], [0, 2]]).shape  # product of 4 taps, tensors of 2 x 2 entries
    (4, 4)
    """
    sup = check_supports(supports)
    shape = product_shape(supports)
    flat = _flat_sums(sup, shape)
    n_out, n_in = int(np.prod(shape)), len(flat)
    if as_matrix is None:
        as_matrix = n_out * n_in <= DENSE_LIFTING_ENTRIES
    if as_matrix:
        a = np.zeros((n_out, n_in))
        a[flat, np.arange(n_in)] = 1.0
        return a
    sizes = tuple(len(s) for s in sup)
    index = jnp.asarray(flat)

    def matvec(tensor: Any) -> Array:
        t = jnp.asarray(tensor)
        if t.shape not in (sizes, (n_in,)):
            raise ValueError(f"tensor must have shape {sizes} or ({n_in},), got {t.shape}")
        return jnp.zeros((n_out,), t.dtype).at[index].add(t.reshape(-1)).reshape(shape)

    return matvec


@dataclasses.dataclass(frozen=True)
class Topology:
    """The verdict of :func:`conv_chain_identifiable`.

    ``identifiable``: no two distinct tuples of ``S_1 x ... x S_K`` share their sum.
    ``collisions``: up to ``max_collisions`` pairs of distinct tuples (of offsets) with the
    same sum, each as ``(tuple_a, tuple_b)``; empty when identifiable. ``n_colliding_sums``:
    how many product offsets are reached by two tuples or more. ``n_tuples``: ``prod
    |S_k|``; ``n_sums``: distinct offsets reached.

    Examples
    --------
    >>> from jaxorth.multilinear import conv_chain_identifiable
    >>> topology = conv_chain_identifiable([[0, 1], [0, 1]])
    >>> topology.identifiable, topology.n_tuples, topology.n_sums, topology.n_colliding_sums
    (False, 4, 3, 1)
    >>> topology.collisions  # (1, 0) and (0, 1) both sum to 1
    (((1, 0), (0, 1)),)
    """

    identifiable: bool
    collisions: tuple[tuple[tuple[Any, ...], tuple[Any, ...]], ...]
    n_colliding_sums: int
    n_tuples: int
    n_sums: int


def _indicator(s: np.ndarray) -> np.ndarray:
    out = np.zeros(tuple(s.max(axis=0) + 1), np.int64)
    out[tuple(s.T)] = 1
    return out


def _count_conv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer convolution of count arrays (counts saturated at 2)."""
    out = np.zeros(tuple(np.add(a.shape, b.shape) - 1), np.int64)
    for idx in zip(*np.nonzero(b)):
        sl = tuple(slice(i, i + n) for i, n in zip(idx, a.shape))
        out[sl] += a * b[idx]
    return np.minimum(out, 2)


def conv_chain_identifiable(supports: Any, *, max_collisions: int = 5) -> Topology:
    """The topology test: whether the product determines every factor, up to scale.

    Malgouyres & Landsberg (2019), Sec. 5 (convolutional linear networks): a chain with
    supports ``S_1, ..., S_K`` is identifiable for every choice of the factors (up to
    ``h_k -> lambda_k h_k`` with ``prod lambda_k = 1``) iff no two distinct tuples
    ``(s_1, ..., s_K)`` of ``S_1 x ... x S_K`` have the same sum. Decided from the
    sumset counts ``c_k = c_{k-1} * 1_{S_k}`` (integer convolutions, counts saturated at
    2), in ``O(K |S| L)`` for supports of ``|S|`` offsets and product length ``L``: the
    product set is never enumerated. Colliding pairs are traced back through the counts.

    Examples: ``{0,1}, {0,1}`` fails (``(0,1)`` and ``(1,0)`` both sum to 1); ``{0,1},
    {0,2}`` passes; the dyadic supports ``S_k = {0, 2^(k-1)}`` pass for every ``K``.

    Examples
    --------
    >>> from jaxorth.multilinear import conv_chain_identifiable
    >>> conv_chain_identifiable([[0, 1], [0, 2]]).identifiable
    True
    >>> conv_chain_identifiable([[0, 1], [0, 1]]).identifiable  # 0 + 1 = 1 + 0
    False
    """
    sup = check_supports(supports)
    if not isinstance(max_collisions, int) or max_collisions < 0:
        raise ValueError(f"max_collisions must be an integer >= 0, got {max_collisions!r}")
    counts = [_indicator(sup[0])]
    for s in sup[1:]:
        counts.append(_count_conv(counts[-1], _indicator(s)))
    final = counts[-1]
    colliding = np.argwhere(final >= 2)
    n_tuples = int(np.prod([len(s) for s in sup], dtype=object))

    def tuples(k, target, need):  # up to `need` tuples of factors 0..k summing to target
        found: list[tuple] = []
        for s in sup[k]:
            rest = tuple(np.subtract(target, s))
            if k == 0:
                if all(r == 0 for r in rest):
                    found.append((s,))
            elif all(0 <= r < n for r, n in zip(rest, counts[k - 1].shape)) and counts[k - 1][rest]:
                found += [(*t, s) for t in tuples(k - 1, rest, need - len(found))]
            if len(found) >= need:
                break
        return found[:need]

    def show(offset):
        return int(offset[0]) if len(offset) == 1 else tuple(int(v) for v in offset)

    pairs = []
    for target in colliding[:max_collisions]:
        a, b = tuples(len(sup) - 1, tuple(int(v) for v in target), 2)
        pairs.append((tuple(show(o) for o in a), tuple(show(o) for o in b)))
    return Topology(
        identifiable=len(colliding) == 0,
        collisions=tuple(pairs),
        n_colliding_sums=int(len(colliding)),
        n_tuples=n_tuples,
        n_sums=int(np.count_nonzero(final)),
    )
