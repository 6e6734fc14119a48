r"""The stability constant of a convolution chain's lifting, estimated numerically.

Malgouyres & Landsberg, "Multilinear compressive sensing and an application to
convolutional linear networks" (SIAM J. Math. Data Sci. 2019, arXiv 1703.08044): the
factors are stably recovered from ``X = A(h_1 x ... x h_K)`` when

.. math::

    \sigma = \inf_{T = \otimes_k a_k - \otimes_k b_k \neq 0} \frac{\|A T\|}{\|T\|} > 0

(their deep null space property): then ``||T|| <= ||A T|| / sigma`` bounds the distance
between two factorizations' tensors by the distance between their products.
:func:`stability_constant` estimates ``sigma`` from above by minimising the ratio over
pairs ``(a, b)`` from several random starts (Adam in float64; ``||T||^2 = prod |a_k|^2 +
prod |b_k|^2 - 2 prod <a_k, b_k>`` needs no tensor), and adds the pairs of basis tensors
whose offset tuples collide (:func:`~jaxorth.multilinear.conv_chain_identifiable`: their
difference is in ``ker A``, ratio 0). For a convolution chain whose sums are all
distinct, ``A`` maps distinct basis tensors to distinct unit filters: it is an isometry
and ``sigma = 1``; with a collision ``sigma = 0``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxorth._checks import positive_int
from jaxorth._precision import float64
from jaxorth._random import numpy_rng

from ._chain import check_supports, conv_chain, conv_chain_identifiable, static_supports

__all__ = ["StabilityEstimate", "stability_constant"]


@dataclasses.dataclass(frozen=True)
class StabilityEstimate:
    """What :func:`stability_constant` found.

    ``value``: the smallest ratio ``||A T|| / ||T||`` found (an upper bound of
    ``sigma``); ``pair``: the factors ``(a, b)`` reaching it (numpy float64 lists);
    ``start_values``: the ratio reached from each random start; ``from_collision``:
    whether the best pair is a colliding pair of basis tensors.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.multilinear import stability_constant
    >>> est = stability_constant([[0, 1], [0, 1]], key=jax.random.key(0), starts=1, steps=10)
    >>> est.value, est.from_collision  # 0 + 1 = 1 + 0: a colliding pair of basis tensors
    (0.0, True)
    """

    value: float
    pair: tuple[list[np.ndarray], list[np.ndarray]]
    start_values: tuple[float, ...]
    from_collision: bool


def _ratio(a: list, b: list, supports: list) -> jax.Array:
    diff = conv_chain(a, supports) - conv_chain(b, supports)
    na = jnp.prod(jnp.stack([jnp.sum(x * x) for x in a]))
    nb = jnp.prod(jnp.stack([jnp.sum(x * x) for x in b]))
    ab = jnp.prod(jnp.stack([jnp.sum(x * y) for x, y in zip(a, b)]))
    return jnp.sqrt(jnp.sum(diff**2) / jnp.maximum(na + nb - 2 * ab, 1e-300))


@functools.partial(jax.jit, static_argnames=("sizes", "supports", "steps"))
def _minimise(theta, sizes, supports, steps, lr):
    sup = [np.asarray(s) for s in supports]
    cuts = np.cumsum(sizes + sizes)[:-1]

    def loss(t):
        parts = jnp.split(t, cuts)
        return _ratio(parts[: len(sizes)], parts[len(sizes) :], sup)

    tx = optax.adam(lr)

    def step(carry, _):
        t, state, best_t, best = carry
        value, grad = jax.value_and_grad(loss)(t)
        better = value < best
        best_t, best = jnp.where(better, t, best_t), jnp.where(better, value, best)
        updates, state = tx.update(grad, state, t)
        return (optax.apply_updates(t, updates), state, best_t, best), None

    init = (theta, tx.init(theta), theta, jnp.asarray(jnp.inf, theta.dtype))
    (_, _, best_t, best), _ = jax.lax.scan(step, init, None, steps)
    return best_t, best


def stability_constant(
    supports: Any,
    *,
    key: jax.Array,
    starts: int = 8,
    steps: int = 500,
    learning_rate: float = 0.05,
) -> StabilityEstimate:
    """An estimate (from above) of ``inf ||A T|| / ||T||`` over differences of rank-one tensors.

    ``starts`` random pairs of standard normal factors (from ``key``), each improved by
    ``steps`` Adam steps on the ratio, plus the colliding basis-tensor pairs of the
    topology; the smallest ratio wins. Positive (1 for a convolution chain) on an
    identifiable topology, 0 on a non-identifiable one.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.multilinear import stability_constant
    >>> key = jax.random.key(0)
    >>> stability_constant([[0, 1], [0, 1]], key=key, starts=1, steps=10).value  # not identifiable
    0.0
    >>> bool(stability_constant([[0, 1], [0, 2]], key=key, starts=1, steps=10).value > 0.1)
    True
    """
    sup = check_supports(supports)
    starts = positive_int(starts, "starts")
    steps = positive_int(steps, "steps")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    sizes, frozen = static_supports(sup)
    rng = numpy_rng(key)
    cuts = np.cumsum(sizes + sizes)[:-1]
    values, best = [], None
    with float64():
        for _ in range(starts):
            theta, value = _minimise(
                jnp.asarray(rng.normal(size=2 * sum(sizes))), sizes, frozen, steps, learning_rate
            )
            parts = np.split(np.asarray(theta), cuts)
            values.append(float(value))
            if best is None or float(value) < best[0]:
                best = (float(value), (parts[: len(sizes)], parts[len(sizes) :]), False)
        for tuple_a, tuple_b in conv_chain_identifiable(supports).collisions[:1]:
            a, b = [], []
            for s, oa, ob in zip(sup, tuple_a, tuple_b):
                ea, eb = np.zeros(len(s)), np.zeros(len(s))
                ea[np.flatnonzero((s == np.atleast_1d(oa)).all(axis=1))[0]] = 1.0
                eb[np.flatnonzero((s == np.atleast_1d(ob)).all(axis=1))[0]] = 1.0
                a.append(ea)
                b.append(eb)
            value = float(_ratio([jnp.asarray(x) for x in a], [jnp.asarray(x) for x in b], sup))
            if value < best[0]:
                best = (value, (a, b), True)
    return StabilityEstimate(
        value=best[0], pair=best[1], start_values=tuple(values), from_collision=best[2]
    )
