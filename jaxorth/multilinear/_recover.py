r"""Factors of a convolution chain from its product: recovery and the error up to scale.

Malgouyres & Landsberg, "Multilinear compressive sensing and an application to
convolutional linear networks" (SIAM J. Math. Data Sci. 2019, arXiv 1703.08044): the
factors ``h_1, ..., h_K`` of ``X = h_1 * ... * h_K`` can at best be recovered up to the
rescalings ``h_k -> lambda_k h_k`` with ``prod lambda_k = 1``. :func:`recover` fits them
to ``X`` by damped Gauss-Newton (Levenberg-Marquardt) from several random starts;
:func:`scale_distance` measures the error modulo those rescalings.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxorth._checks import positive_int
from jaxorth._precision import float64
from jaxorth._random import numpy_rng

from ._chain import check_supports, conv_chain, product_shape, static_supports

__all__ = ["Recovery", "recover", "scale_distance"]


def scale_distance(h: Sequence[Any], g: Sequence[Any]) -> float:
    r"""Relative distance between two factorizations, modulo ``h_k -> lambda_k h_k``.

    Each factor is normalised to unit norm and oriented to agree with the other's
    (``s_k = sign <h_k, g_k>``; when ``prod s_k = -1`` the factor whose orientation is
    least determined is flipped, since only sign patterns with product 1 are
    rescalings); the distance is ``sqrt(sum_k ||h_k/|h_k| - s_k g_k/|g_k| ||^2) + |N_h -
    N_g| / N_h`` with ``N = prod_k |h_k|`` the scale of the rank-one tensor. It is 0
    exactly when ``g`` is a rescaling of ``h``.

    Examples
    --------
    >>> from jaxorth.multilinear import scale_distance
    >>> scale_distance([[1.0, 2.0], [3.0, 1.0]], [[2.0, 4.0], [1.5, 0.5]])  # lambda = 2, 1/2
    0.0
    """
    if len(h) != len(g):
        raise ValueError(f"h and g must have the same number of factors, got {len(h)} and {len(g)}")
    hs = [np.asarray(a, np.float64).ravel() for a in h]
    gs = [np.asarray(b, np.float64).ravel() for b in g]
    for k, (a, b) in enumerate(zip(hs, gs)):
        if a.shape != b.shape:
            raise ValueError(
                f"h[{k}] and g[{k}] must have the same shape, got {a.shape} and {b.shape}"
            )
    nh = np.array([np.linalg.norm(a) for a in hs])
    ng = np.array([np.linalg.norm(b) for b in gs])
    if (nh == 0).any() or (ng == 0).any():
        raise ValueError("every factor of h and g must be nonzero (a zero factor has no scale)")
    cos = np.array([a @ b for a, b in zip(hs, gs)]) / (nh * ng)
    sign = np.where(cos >= 0, 1.0, -1.0)
    if np.prod(sign) < 0:
        k = int(np.argmin(np.abs(cos)))
        sign[k] = -sign[k]
    err = np.sqrt(
        sum(np.sum((a / na - s * b / nb) ** 2) for a, b, na, nb, s in zip(hs, gs, nh, ng, sign))
    )
    return float(err + abs(np.prod(nh) - np.prod(ng)) / np.prod(nh))


@dataclasses.dataclass(frozen=True)
class Recovery:
    """What :func:`recover` found.

    ``factors``: the best start's factors (numpy float64); ``residual``: its relative
    residual ``||conv_chain(factors) - X|| / ||X||``; ``residuals``: that of every start;
    ``iterations``: the damped Gauss-Newton steps run.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.multilinear import conv_chain, recover
    >>> supports = [[0, 1], [0, 2]]
    >>> result = recover(conv_chain([[1.0, 1.0], [1.0, 2.0]], supports), supports,
    ...                  key=jax.random.key(0), starts=2, iterations=50)
    >>> len(result.factors), len(result.residuals), bool(result.residual < 1e-8)
    (2, 2, True)
    """

    factors: list[np.ndarray]
    residual: float
    residuals: tuple[float, ...]
    iterations: int


@functools.partial(jax.jit, static_argnames=("sizes", "supports", "iterations"))
def _levenberg_marquardt(theta, target, sizes, supports, iterations):
    sup = [np.asarray(s) for s in supports]
    cuts = np.cumsum(sizes)[:-1]

    def residual(t):
        return (conv_chain(jnp.split(t, cuts), sup) - target).reshape(-1)

    def step(carry, _):
        t, mu = carry
        r = residual(t)
        jac = jax.jacfwd(residual)(t)
        jtj, g = jac.T @ jac, jac.T @ r
        delta = jnp.linalg.solve(jtj + mu * (jnp.trace(jtj) / len(t) + 1e-30) * jnp.eye(len(t)), -g)
        better = jnp.sum(residual(t + delta) ** 2) < jnp.sum(r**2)
        t = jnp.where(better, t + delta, t)
        mu = jnp.where(better, mu / 3, mu * 4)
        return (t, jnp.clip(mu, 1e-12, 1e8)), jnp.sum(r**2)

    (theta, _), losses = jax.lax.scan(
        step, (theta, jnp.asarray(1e-3, theta.dtype)), None, iterations
    )
    return theta, losses


def recover(
    product: Any,
    supports: Any,
    *,
    key: jax.Array,
    starts: int = 8,
    iterations: int = 200,
) -> Recovery:
    """Factors ``h_1, ..., h_K`` on ``supports`` with ``conv_chain(h) ~ product``.

    Levenberg-Marquardt on ``||conv_chain(h) - product||^2`` in float64 (the
    ``sum |S_k|`` parameters are few: the Jacobian is formed), ``iterations`` damped
    Gauss-Newton steps from each of ``starts`` standard normal initialisations drawn
    from ``key``; the start with the smallest residual wins. On an identifiable
    topology (:func:`~jaxorth.multilinear.conv_chain_identifiable`) a noiseless product
    gives the factors up to scale (:func:`scale_distance`) when a start reaches the
    global minimum.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.multilinear import conv_chain, recover, scale_distance
    >>> h = [[1.0, 1.0], [1.0, 2.0]]  # (1 + z)(1 + 2 z^2): an identifiable topology
    >>> supports = [[0, 1], [0, 2]]
    >>> result = recover(conv_chain(h, supports), supports, key=jax.random.key(0), starts=2,
    ...                  iterations=50)
    >>> bool(scale_distance(result.factors, h) < 1e-6)  # the factors, up to scale
    True
    """
    sup = check_supports(supports)
    starts = positive_int(starts, "starts")
    iterations = positive_int(iterations, "iterations")
    shape = product_shape(supports)
    target = np.asarray(product, np.float64)
    if target.shape != shape:
        raise ValueError(
            f"product must have shape {shape} (the chain's product filter), got {target.shape}"
        )
    if not np.isfinite(target).all():
        raise ValueError("product has non-finite entries")
    sizes, frozen = static_supports(sup)
    rng = numpy_rng(key)
    best, results = None, []
    scale = float(np.linalg.norm(target)) or 1.0
    with float64():
        for _ in range(starts):
            theta0 = jnp.asarray(rng.normal(size=sum(sizes)))
            theta, losses = _levenberg_marquardt(
                theta0, jnp.asarray(target), sizes, frozen, iterations
            )
            theta = np.asarray(theta)
            factors = np.split(theta, np.cumsum(sizes)[:-1])
            res = float(np.linalg.norm(np.asarray(conv_chain(factors, frozen)) - target)) / scale
            results.append(res)
            if best is None or res < best[1]:
                best = (factors, res, int(np.sum(np.isfinite(np.asarray(losses)))))
    return Recovery(factors=best[0], residual=best[1], residuals=tuple(results), iterations=best[2])
