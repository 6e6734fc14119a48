"""Majoring points of a monotone function by adaptive dyadic refinement of a box.

Gauffriau, Malgouyres, Ducoffe, "Overestimation learning with guarantees" (AAAI-21
SafeAI workshop; arXiv:2101.11717), section "Majoring points". Let ``f`` be monotone on
the box ``D = [lower, upper]``: non-decreasing in coordinate ``j`` where
``directions[j] = +1`` and non-increasing where ``directions[j] = -1``. On a cell ``C``
call *anchor* ``a`` the corner where ``f`` is smallest and *top* ``t`` the opposite corner,
where it is largest; then ``f(a) <= f(x) <= f(t)`` for every ``x`` in ``C``. The pair
``(a, f(t))`` is a *majoring point*: any ``g`` monotone in the same orientation with
``g(a) >= f(t)`` satisfies ``g >= f`` on ``C``, and ``g >= f`` on all of ``D`` once this holds
for every cell of a tiling of ``D``.

The tiling is built breadth first: a cell is split into its ``2^d`` children (every side
halved) while its oscillation ``f(t) - f(a)`` exceeds ``delta`` and its depth is below
``max_depth``, so cells concentrate where ``f`` varies and the tightness ``f(t) - f(x) <=
delta`` holds on every leaf that was not stopped by ``max_depth``. A majoring point
``(a, b)`` is implied by ``(a', b')`` when ``a >= a'`` in the oriented order and ``b <= b'``
(a monotone ``g`` with ``g(a') >= b'`` has ``g(a) >= g(a') >= b' >= b``): those are pruned.

Cells are stored as integer dyadic indices per level, so memory and time scale with the
number of cells, never with the uniform grid at ``max_depth``. A corner of integer index
``p`` at depth ``k`` has coordinates ``lower + (p / 2^k) (upper - lower)`` (``upper`` exactly
at ``p = 2^k``); ``p / 2^k`` is exact in float64, so a corner shared by cells of different
depths has bit-identical coordinates and the leaves tile the box exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from jaxtyping import ArrayLike

from jaxorth._checks import finite, float_vector, int_at_least, positive_int, positive_number
from jaxorth._precision import float64

__all__ = ["MajoringPoints", "majoring_points", "prune_implied"]


class MajoringPoints(NamedTuple):
    """The leaf cells of an adaptive dyadic refinement and the pruned majoring points.

    ``n`` is the number of leaf cells, ``m`` the number of majoring points kept after
    pruning, ``d`` the dimension. Arrays are float64 numpy arrays (``depth`` is int64).

    Attributes
    ----------
    cell_lower, cell_upper : (n, d)
        Natural lower and upper corners of each leaf cell (``cell_lower < cell_upper``).
    anchors : (n, d)
        The corner where ``f`` is smallest: ``cell_lower[:, j]`` where ``directions[j] = +1``,
        ``cell_upper[:, j]`` where ``-1``.
    tops : (n, d)
        The opposite corner, where ``f`` is largest.
    f_anchor, f_top : (n,)
        ``f(anchors)`` and ``f(tops)``; ``f_top`` is the majoring value of the cell.
    depth : (n,)
        Refinement depth of each cell (0 is the whole box).
    points : (m, d)
        Anchors of the majoring points kept by :func:`prune_implied`.
    values : (m,)
        Their values ``f_top``.
    directions : (d,)
        The orientation used, +1 or -1 per coordinate.
    lower, upper : (d,)
        The box.
    delta : float
        Oscillation threshold of the refinement.
    max_depth : int
        Depth limit of the refinement.
    capped : int
        Number of leaf cells whose oscillation ``f_top - f_anchor`` is still ``> delta``
        (stopped by ``max_depth``; the guarantee ``f <= f_top`` still holds on them, the
        tightness ``delta`` does not).
    evaluations : int
        Number of distinct points at which ``f`` was evaluated.

    Examples
    --------
    >>> from jaxorth.overestimate import majoring_points
    >>> mp = majoring_points(lambda x: x[:, 0], [0.0], [1.0], delta=0.25, max_depth=4)
    >>> sorted(mp.f_top.tolist()), mp.depth.tolist(), mp.capped  # 4 cells of width 1/4
    ([0.25, 0.5, 0.75, 1.0], [2, 2, 2, 2], 0)
    """

    cell_lower: np.ndarray
    cell_upper: np.ndarray
    anchors: np.ndarray
    tops: np.ndarray
    f_anchor: np.ndarray
    f_top: np.ndarray
    depth: np.ndarray
    points: np.ndarray
    values: np.ndarray
    directions: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    delta: float
    max_depth: int
    capped: int
    evaluations: int

    @property
    def n_cells(self) -> int:
        """Number of leaf cells."""
        return int(self.depth.shape[0])

    @property
    def n_points(self) -> int:
        """Number of majoring points kept after pruning."""
        return int(self.values.shape[0])

    @property
    def finest_depth(self) -> int:
        """Largest depth of a leaf cell."""
        return int(self.depth.max())

    @property
    def uniform_cells(self) -> int:
        """Cells of the coarsest uniform dyadic grid with the same guarantee: ``2^(d k)``.

        ``k = finest_depth``. Every cell of the uniform grid of depth ``k`` lies inside a
        leaf (leaves have depth ``<= k``), and by monotonicity its oscillation is at most
        the leaf's, so that grid is as tight as the adaptive tiling. The uniform grid of
        depth ``k - 1`` is not: it contains the parent of a leaf of depth ``k``, whose
        oscillation was ``> delta`` (that is why it was split).
        """
        return 2 ** (int(self.lower.shape[0]) * self.finest_depth)

    @property
    def max_oscillation(self) -> float:
        """Largest ``f_top - f_anchor`` over the leaf cells."""
        return float(np.max(self.f_top - self.f_anchor))


def _directions(directions: Any, d: int) -> np.ndarray:
    if directions is None:
        return np.ones(d)
    dirs = float_vector(directions, "directions", d, "d")
    if not np.all(np.abs(dirs) == 1.0):
        raise ValueError(
            f"directions must hold +1 (f non-decreasing in that coordinate) or -1 "
            f"(non-increasing) per coordinate, got {_fmt(dirs)}"
        )
    return dirs


def _fmt(x: np.ndarray) -> str:
    return "[" + ", ".join(f"{float(v):.6g}" for v in np.asarray(x).reshape(-1)) + "]"


def _cell_str(lo: np.ndarray, hi: np.ndarray) -> str:
    return " x ".join(f"[{float(a):.6g}, {float(b):.6g}]" for a, b in zip(lo, hi, strict=True))


def _coords(p: np.ndarray, k: int, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Coordinates of the corners of integer index ``p`` (shape (n, d)) at depth ``k``.

    Monotone in ``p`` (rounding is monotone), ``lower`` exactly at ``p = 0`` and ``upper``
    exactly at ``p = 2^k``; a function of ``p / 2^k`` only (exact), so it agrees across depths.
    """
    t = p.astype(np.float64) * (2.0**-k)
    x = np.minimum(lower + t * (upper - lower), upper)
    return np.where(p == (1 << k), upper, x)


def _evaluate(f: Callable, x: np.ndarray, batch_size: int) -> np.ndarray:
    """``f`` at the rows of ``x``, in batches of at most ``batch_size`` rows (float64).

    A batch is padded with copies of its first row to a power of two (at most
    ``batch_size``), so a jitted ``f`` compiles for few shapes.
    """
    n, d = x.shape
    out = np.empty(n)
    for start in range(0, n, batch_size):
        chunk = x[start : start + batch_size]
        b = chunk.shape[0]
        size = min(batch_size, 1 << (b - 1).bit_length())
        if size > b:
            chunk = np.concatenate([chunk, np.repeat(chunk[:1], size - b, axis=0)])
        with float64():
            y = np.asarray(f(chunk), dtype=np.float64)
        if y.shape not in ((size,), (size, 1)):
            raise ValueError(
                f"f must return shape ({size},) or ({size}, 1) for x of shape ({size}, {d}), "
                f"got shape {y.shape}"
            )
        y = y.reshape(-1)[:b]
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"f must return finite values, got f(x)={y[i]} at x={_fmt(chunk[i])} "
                f"({bad.size} non-finite of {b} values in this batch)"
            )
        out[start : start + b] = y
    return out


def _unique_rows(keys: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of a non-negative integer array ``(n, d)`` (entries ``< 2^bits``).

    Returns ``(unique_rows, inverse)`` with ``keys == unique_rows[inverse]``.
    """
    n, d = keys.shape
    if d * bits <= 62:
        code = np.zeros(n, dtype=np.int64)
        for j in range(d):
            code |= keys[:, j] << (j * bits)
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
        return keys[first], inverse.reshape(-1)
    rows, inverse = np.unique(keys, axis=0, return_inverse=True)
    return rows, inverse.reshape(-1)


def _check_resolution(lower: np.ndarray, upper: np.ndarray, max_depth: int) -> None:
    """Cells of depth ``max_depth`` must have distinct corners in float64."""
    scale = np.maximum(np.abs(lower), np.abs(upper))
    side = (upper - lower) * 2.0**-max_depth
    bad = np.flatnonzero(side <= 4 * np.spacing(scale))
    if bad.size:
        j = int(bad[0])
        ok = int(np.floor(np.log2((upper[j] - lower[j]) / (4 * np.spacing(scale[j])))))
        raise ValueError(
            f"max_depth={max_depth} is too fine for coordinate {j} of the box "
            f"[{lower[j]:.6g}, {upper[j]:.6g}]: cells of that depth have side "
            f"{side[j]:.3g}, below the float64 resolution {np.spacing(scale[j]):.3g} there; "
            f"use max_depth <= {max(ok - 1, 0)}"
        )


def check_box(lower: Any, upper: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` as float64 vectors of one length ``d >= 1`` with ``lower < upper``.

    Raises ``ValueError`` naming the parameter, or the first coordinate where
    ``lower >= upper``.
    """
    lower = float_vector(lower, "lower")
    d = lower.shape[0]
    if d < 1:
        raise ValueError("lower must have at least one entry (the dimension d >= 1), got 0")
    upper = float_vector(upper, "upper", d, "d=len(lower)")
    bad = np.flatnonzero(lower >= upper)
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            f"lower must be < upper in every coordinate, got lower[{j}]={float(lower[j])!r} >= "
            f"upper[{j}]={float(upper[j])!r}"
        )
    return lower, upper


def majoring_points(
    f: Callable[[np.ndarray], Any],
    lower: ArrayLike | Sequence[float],
    upper: ArrayLike | Sequence[float],
    *,
    delta: float,
    max_depth: int,
    directions: ArrayLike | Sequence[float] | None = None,
    batch_size: int = 65536,
) -> MajoringPoints:
    """Adaptive dyadic refinement of a box for a monotone ``f`` and its majoring points.

    Gauffriau, Malgouyres, Ducoffe (arXiv:2101.11717): starting from the box, a cell is
    split into its ``2^d`` children (halving every side) while ``f(top) - f(anchor) >
    delta`` and its depth is below ``max_depth``, level by level. Every ``x`` of the box
    lies in a leaf cell with ``f(x) <= f_top`` (monotonicity), so a ``g`` monotone in the
    same orientation with ``g(points) >= values`` is ``>= f`` on the whole box.

    Parameters
    ----------
    f : callable
        ``f(x)`` for ``x`` a float64 numpy array of shape ``(B, d)``, ``B <= batch_size``,
        returning ``B`` values (shape ``(B,)`` or ``(B, 1)``; numpy or JAX). Calls run with
        ``jax_enable_x64`` on, so a JAX ``f`` computes in float64. A batch may repeat
        points (padding to a power of two, so a jitted ``f`` compiles for few shapes).
        ``f`` must be monotone in the orientation ``directions``; this is checked on every
        sampled cell (``f(top) >= f(anchor)``), not everywhere.
    lower, upper : (d,) array-like
        The box, ``lower[j] < upper[j]``, finite.
    delta : float
        Oscillation threshold, ``> 0``: leaves not stopped by ``max_depth`` satisfy
        ``f_top - f(x) <= delta`` on the cell.
    max_depth : int
        Depth limit, ``>= 0`` (small enough that the finest cells are resolved in
        float64). Memory and time grow with the number of cells: a discontinuous ``f``
        in ``d`` dimensions has about ``2^((d-1) k)`` cells of depth ``k`` along a jump.
    directions : (d,) array-like of +1/-1, optional
        ``+1`` where ``f`` is non-decreasing in that coordinate, ``-1`` where it is
        non-increasing. Default: all ``+1``.
    batch_size : int
        Most points per call of ``f``; at least the ``2^d`` children of one split.

    Returns
    -------
    MajoringPoints
        Leaf cells (natural corners, anchors, tops, their values and depths) and the
        majoring points ``(points, values)`` left by :func:`prune_implied`.

    Raises
    ------
    ValueError
        Bad arguments (before any call of ``f``); ``f`` returning a wrong shape or
        non-finite values; ``f(top) < f(anchor)`` on a sampled cell (``f`` is not
        monotone in the orientation ``directions``; the message names the cell).

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.overestimate import majoring_points
    >>> mp = majoring_points(lambda x: x[:, 0], [0.0], [1.0], delta=0.25, max_depth=4)
    >>> len(mp.points)  # f(u) - f(l) <= 1/4 on each cell: 4 cells of width 1/4
    4
    """
    if not callable(f):
        raise ValueError(f"f must be callable (x of shape (B, d) -> (B,)), got {f!r}")
    lower, upper = check_box(lower, upper)
    d = lower.shape[0]
    delta = positive_number(delta, "delta")
    max_depth = int_at_least(max_depth, "max_depth", 0)
    dirs = _directions(directions, d)
    batch_size = positive_int(batch_size, "batch_size")
    if 2**d > batch_size:
        raise ValueError(
            f"batch_size={batch_size} is too small for d={d}: one split has 2^d = {2**d} "
            f"children; pass batch_size >= {2**d} (or reduce the dimension)"
        )
    _check_resolution(lower, upper, max_depth)

    neg = (dirs < 0).astype(np.int64)  # anchor offset of a cell in each coordinate
    pos = 1 - neg  # top offset
    offsets = np.array(list(itertools.product((0, 1), repeat=d)), dtype=np.int64)

    idx = np.zeros((1, d), dtype=np.int64)
    vals = _evaluate(f, _coords(np.stack([neg, pos]), 0, lower, upper), batch_size)
    fa, ft = vals[:1], vals[1:]
    evaluations = 2
    leaves: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
    k = 0
    while True:
        wrong = np.flatnonzero(ft < fa)
        if wrong.size:
            _not_monotone(idx[wrong[0]], k, fa[wrong[0]], ft[wrong[0]], lower, upper, dirs)
        split = (ft - fa > delta) & (k < max_depth)
        leaves.append((idx[~split], fa[~split], ft[~split], k))
        if not split.any():
            break
        parents = idx[split]
        child = (2 * parents[:, None, :] + offsets[None, :, :]).reshape(-1, d)
        # corners at depth k + 1; the parents' anchors and tops are known already
        keys = np.concatenate([2 * (parents + neg), 2 * (parents + pos), child + neg, child + pos])
        known = np.concatenate([fa[split], ft[split]])
        rows, inverse = _unique_rows(keys, k + 2)
        values = np.empty(rows.shape[0])
        have = np.zeros(rows.shape[0], dtype=bool)
        values[inverse[: known.shape[0]]] = known
        have[inverse[: known.shape[0]]] = True
        need = np.flatnonzero(~have)
        values[need] = _evaluate(f, _coords(rows[need], k + 1, lower, upper), batch_size)
        evaluations += int(need.size)
        n_child = child.shape[0]
        fa = values[inverse[known.shape[0] : known.shape[0] + n_child]]
        ft = values[inverse[known.shape[0] + n_child :]]
        idx = child
        k += 1

    cell_lower = np.concatenate([_coords(i, kk, lower, upper) for i, _, _, kk in leaves])
    cell_upper = np.concatenate([_coords(i + 1, kk, lower, upper) for i, _, _, kk in leaves])
    f_anchor = np.concatenate([a for _, a, _, _ in leaves])
    f_top = np.concatenate([t for _, _, t, _ in leaves])
    depth = np.concatenate([np.full(i.shape[0], kk, dtype=np.int64) for i, _, _, kk in leaves])
    anchors = np.where(dirs > 0, cell_lower, cell_upper)
    tops = np.where(dirs > 0, cell_upper, cell_lower)
    keep = prune_implied(anchors, f_top, directions=dirs)
    return MajoringPoints(
        cell_lower=cell_lower,
        cell_upper=cell_upper,
        anchors=anchors,
        tops=tops,
        f_anchor=f_anchor,
        f_top=f_top,
        depth=depth,
        points=anchors[keep],
        values=f_top[keep],
        directions=dirs,
        lower=lower,
        upper=upper,
        delta=delta,
        max_depth=max_depth,
        capped=int(np.sum(f_top - f_anchor > delta)),
        evaluations=evaluations,
    )


def _not_monotone(
    i: np.ndarray,
    k: int,
    fa: float,
    ft: float,
    lower: np.ndarray,
    upper: np.ndarray,
    dirs: np.ndarray,
) -> None:
    lo = _coords(i[None, :], k, lower, upper)[0]
    hi = _coords(i[None, :] + 1, k, lower, upper)[0]
    anchor, top = np.where(dirs > 0, lo, hi), np.where(dirs > 0, hi, lo)
    shown = "[" + ", ".join(f"{int(v):+d}" for v in dirs) + "]"
    if np.all(dirs > 0):
        what = "non-decreasing"
        hint = "pass directions with -1 for the coordinates where f decreases (now all +1)"
    else:
        what = f"monotone with directions={shown} (+1: non-decreasing, -1: non-increasing)"
        hint = "check directions (+1 where f increases, -1 where it decreases)"
    raise ValueError(
        f"f is not {what} on cell {_cell_str(lo, hi)}: f(top)={float(ft)!r} < "
        f"f(anchor)={float(fa)!r} with top={_fmt(top)}, anchor={_fmt(anchor)}; {hint}"
    )


def prune_implied(
    points: ArrayLike | Sequence[Sequence[float]],
    values: ArrayLike | Sequence[float],
    *,
    directions: ArrayLike | Sequence[float] | None = None,
) -> np.ndarray:
    """Boolean mask of the majoring points not implied by another one.

    ``(a, b)`` is implied by ``(a', b')`` when ``a >= a'`` in the oriented order (``a_j >=
    a'_j`` where ``directions[j] = +1``, ``a_j <= a'_j`` where ``-1``) and ``b <= b'``: a
    ``g`` monotone in that orientation with ``g(a') >= b'`` has ``g(a) >= b``. The mask keeps
    exactly the points not implied by a different point, and the first (lowest index)
    of exact duplicates; every removed point is implied by a kept one (the relation is
    transitive), so the kept points carry the same guarantee (Gauffriau, Malgouyres,
    Ducoffe, arXiv:2101.11717).

    The points are sorted by value (descending), then lexicographically in the oriented
    order, a linear extension of "implied by": a point is implied by another iff an
    earlier point lies below it in every oriented coordinate. That is decided with
    vectorised numpy in two ways: chunks tested against the points kept so far
    (``O(m K d)`` for ``K`` kept points, fast while ``K`` is small), and for ``d <= 3``,
    once more points are kept, a divide and conquer over the sequence (``O(m log^d m)``;
    ``d = 1`` is a running minimum). About a second for ``10^5`` points in ``d <= 3`` on
    one CPU core (a few seconds for random points in ``d = 3``, most of them kept).

    Parameters
    ----------
    points : (m, d) array-like
        Anchors ``a``, finite.
    values : (m,) array-like
        Values ``b``, finite.
    directions : (d,) array-like of +1/-1, optional
        The orientation; default all ``+1``.

    Returns
    -------
    (m,) numpy bool array
        ``True`` for the points to keep.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.overestimate import prune_implied
    >>> # (0.5, 0.5) is implied by (0, 1): f <= 1 on [0, 1] already
    >>> prune_implied(np.array([[0.0], [0.5]]), np.array([1.0, 0.5])).tolist()
    [True, False]
    """
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.dtype.kind not in "iuf":
        raise ValueError(
            f"points must be a 2-D array (m, d) of real numbers, got shape {pts.shape} "
            f"and dtype {pts.dtype}"
        )
    m, d = pts.shape
    pts = finite(pts.astype(np.float64), "points")
    vals = float_vector(values, "values", m, "m=points.shape[0]")
    dirs = _directions(directions, d)
    if m == 0:
        return np.zeros(0, dtype=bool)
    q = pts * dirs
    order = np.lexsort(tuple(q[:, j] for j in reversed(range(d))) + (-vals,))
    qs = q[order]
    # chunks are fast while few points are kept; divide and conquer takes over beyond
    # (d <= 3, O(m log^d m)), testing the remaining points against the kept ones and each other
    keep_sorted, done = _undominated_by_chunks(qs, _CHUNK_LIMIT.get(d))
    if done < m:
        sub = np.concatenate([np.flatnonzero(keep_sorted[:done]), np.arange(done, m)])
        ranks = [np.unique(qs[sub, j], return_inverse=True)[1].reshape(-1) for j in range(d)]
        rest = sub >= done
        implied = _dominated(
            np.zeros(sub.shape[0], dtype=np.int64), ranks, np.ones_like(rest), rest
        )
        keep_sorted[done:] = ~implied[rest]
    keep = np.zeros(m, dtype=bool)
    keep[order] = keep_sorted
    return keep


_CHUNK_LIMIT = {1: 0, 2: 256, 3: 2048}
"""Kept points beyond which :func:`prune_implied` switches from chunks to divide and conquer."""


def _dominated(
    group: np.ndarray, coords: list[np.ndarray], source: np.ndarray, query: np.ndarray
) -> np.ndarray:
    """Whether an earlier source of its group lies below each query in every coordinate.

    ``group`` is non-decreasing along the sequence; ``coords`` are non-negative integer
    ranks (ties allowed, compared with ``<=``). Divide and conquer over the sequence
    (CDQ): at level ``s`` each group is cut into blocks of ``2 s``, and the sources of
    each first half are tested against the queries of its second half, a static problem
    with one coordinate less (sorting by the first coordinate, sources first on ties,
    turns it into "earlier in the sequence" again). Every pair earlier/later is separated
    at exactly one level. One coordinate is a segmented running minimum; ``k``
    coordinates cost ``O(n log^k n)``, all in vectorised numpy.
    """
    n = group.shape[0]
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    if len(coords) == 1:
        c = coords[0]
        big = int(c.max()) + 1  # larger than every rank: a non-source never dominates
        width = big + 1
        n_groups = int(group[-1]) + 1
        # the offset makes every value of a group smaller than any of the groups before
        # it, so a running minimum restarts at each group
        v = np.where(source, c, big) + (n_groups - group) * width
        running = np.minimum.accumulate(v)
        before = running[:-1] - (n_groups - group[1:]) * width  # > big across groups
        out[1:] = query[1:] & (before <= c[1:])
        return out
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    sizes = np.diff(np.concatenate([starts, [n]]))
    pos = np.arange(n) - np.repeat(starts, sizes)  # position within the group
    s = 1
    while s < sizes.max():
        block = pos // (2 * s)
        first = (pos % (2 * s)) < s
        src = source & first
        qry = query & ~first
        if src.any() and qry.any():
            change = (block[1:] != block[:-1]) | (group[1:] != group[:-1])
            seg = np.concatenate([[0], np.cumsum(change)])
            idx = np.flatnonzero(src | qry)
            sub = idx[np.lexsort((qry[idx], coords[0][idx], seg[idx]))]
            out[sub] |= _dominated(seg[sub], [c[sub] for c in coords[1:]], src[sub], qry[sub])
        s *= 2
    return out


def _undominated_by_chunks(qs: np.ndarray, max_kept: int | None) -> tuple[np.ndarray, int]:
    """Rows of ``qs`` below which no earlier row lies in every coordinate (chunked tests).

    ``O(m K d)`` comparisons for ``K`` undominated rows: chunks of rows are tested against
    the undominated rows found so far and against the earlier rows of the chunk. Stops
    once ``max_kept`` rows are kept (``None``: never); returns the mask and the
    number of rows decided.
    """
    m, d = qs.shape
    keep = np.zeros(m, dtype=bool)
    kept = np.empty((0, d))
    start = 0
    while start < m and (max_kept is None or kept.shape[0] < max_kept):
        size = int(np.clip(2**22 // max(kept.shape[0] * d, 1), 64, 1024))
        c = qs[start : start + size]
        n = c.shape[0]
        inner = np.tri(n, k=-1, dtype=bool)  # [i, j]: j earlier than i
        for j in range(d):
            inner &= c[None, :, j] <= c[:, None, j]
        implied = inner.any(axis=1)
        if kept.shape[0]:
            outer = np.ones((n, kept.shape[0]), dtype=bool)
            for j in range(d):
                outer &= kept[None, :, j] <= c[:, None, j]
            implied |= outer.any(axis=1)
        keep[start : start + n] = ~implied
        kept = np.concatenate([kept, c[~implied]])
        start += n
    return keep, start
