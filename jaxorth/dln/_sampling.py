"""Sampling of DLN critical points: many cases of one shape family, stacked for vmap."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike, PRNGKeyArray

from jaxorth._random import numpy_rng

from ._critical import critical_point


def random_critical_points(
    key: PRNGKeyArray,
    X: ArrayLike,
    Y: ArrayLike,
    widths: Sequence[int],
    num: int,
    *,
    p_leading: float = 0.7,
    p_min_rank: float = 0.5,
    max_tries: int = 20,
) -> tuple[list[ArrayLike], list[dict]]:
    """Sample ``num`` critical points of one shape family, stacked along a leading axis.

    Each case draws ``r = |S|`` uniformly in ``[0, r_max]``, ``S`` leading (``{1..r}``)
    with probability ``p_leading`` else a random subset, and each layer rank equal to
    ``r`` with probability ``p_min_rank`` else uniform in ``[r, min(d_h, d_{h-1})]``,
    then calls :func:`critical_point` (re-drawing unreachable rank patterns).

    Returns
    -------
    weights : list of Float[ArrayLike, "num d_h d_{h-1}"]
        Stacked ``[W_1, ..., W_H]``, ready for ``jax.vmap``.
    meta : list of dict
        Per case: ``S``, ``ranks``, ``cut``.

    Examples
    --------
    >>> import jax
    >>> from jaxorth import dln
    >>> X, Y = dln.make_data(jax.random.key(0), 3, 2, 20, eigenvalues=[4.0, 1.0])
    >>> weights, meta = dln.random_critical_points(jax.random.key(1), X, Y, [3, 2, 2], 4)
    >>> [w.shape for w in weights], len(meta), sorted(meta[0])  # stacked for jax.vmap
    ([(4, 2, 3), (4, 2, 2)], 4, ['S', 'cut', 'ranks'])
    """
    widths = tuple(int(d) for d in widths)
    H = len(widths) - 1
    dy = Y.shape[0]
    r_max = min(widths)
    rng = numpy_rng(key)
    cases, meta = [], []
    for _ in range(num):
        for _attempt in range(max_tries):
            r = int(rng.integers(0, r_max + 1))
            if rng.random() < p_leading:
                S = tuple(range(r))
            else:
                S = tuple(int(i) for i in sorted(rng.choice(dy, r, replace=False)))
            ranks = [
                r
                if rng.random() < p_min_rank
                else int(rng.integers(r, min(widths[h], widths[h - 1]) + 1))
                for h in range(1, H + 1)
            ]
            if r not in ranks:
                ranks[int(rng.integers(0, H))] = r
            cut = int(rng.choice([h for h in range(1, H + 1) if ranks[h - 1] == r]))
            sub = jax.random.PRNGKey(int(rng.integers(0, 2**31 - 1)))
            try:
                ws = critical_point(sub, X, Y, widths, S, ranks=ranks, cut=cut)
            except ValueError:
                continue
            cases.append(ws)
            meta.append({"S": S, "ranks": tuple(ranks), "cut": cut})
            break
        else:
            raise ValueError(f"no reachable rank pattern found in {max_tries} tries for {widths}")
    stacked = [jnp.stack([c[h] for c in cases]) for h in range(H)]
    return stacked, meta
