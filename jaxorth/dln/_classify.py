"""Classification of DLN points from the landscape theory alone (no Hessian).

Achour, Malgouyres & Gerchinovitz, "The loss landscape of deep linear neural networks:
a second-order analysis", JMLR 25(242), 2024 (cited below as AMG24). Notation:
``S_xx = X X^T``, ``S_yx = Y X^T``, ``S_yy = Y Y^T`` and
``Sigma = S_yx S_xx^{-1} S_xy`` with eigenvalues ``l_1 > ... > l_{d_y}`` (eigenvectors
``U``). Eigen-index sets ``S`` are **0-based** here: ``S = (0, 1)`` means ``{l_1, l_2}``.

Facts used (AMG24, Section 3; Baldi & Hornik 1989; Kawaguchi 2016):

- at a critical point ``P = W_H ... W_1 = U_S U_S^T S_yx S_xx^{-1}`` with ``|S| = rank P``,
  and ``L = tr(S_yy) - sum_{i in S} l_i``;
- ``S = {1..r_max}`` (``r_max = min_h d_h``) are the global minima, any ``S`` that is not
  a leading block ``{1..|S|}`` is a strict saddle;
- ``S = {1..r}``, ``r < r_max``: strict saddle iff some ``a < b`` has
  ``K_ab = W_{H:b+1}^T (S_yx - P S_xx) W_{a-1:1}^T != 0`` and
  ``rank W_{b-1:a+1} > min(rank W_{b-1:1}, rank W_{H:a+1})``. Sufficiency: with
  ``M = W_{b-1:a+1}``, if ``rank M > rank W_{H:b} M`` pick ``q`` in
  ``ker W_{H:a+1}`` minus ``ker M``, ``delta_a = q y^T / s``, ``delta_b = s x p^T`` with
  ``p^T M q != 0`` and ``x^T K_ab y > 0``: the second-order term is
  ``s^2 ||.||^2 - 2 (p^T M q)(x^T K_ab y) < 0`` for small ``s`` (the other case is the
  mirror image). Necessity is cross-validated against the float64 Hessian in the tests
  and in the ``dln_landscape`` study.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Float

from ._data import _check_assumption_h, _check_data, _sigma_eigh
from ._model import Weights, check_shapes, criticality_residual, product

#: The labels :func:`classify` returns.
CLASSES = ("not_critical", "global_minimum", "strict_saddle", "non_strict_saddle")


def _default_rtol(dtype) -> float:
    return float(np.sqrt(np.finfo(dtype).eps))


def _classify_impl(weights, X, Y, rtol: float, xp):
    """Theory-only classification; ``xp`` is ``numpy`` (host) or ``jax.numpy`` (jit)."""
    H = len(weights)
    widths = [X.shape[0]] + [W.shape[0] for W in weights]
    Sxx, Syx = X @ X.T, Y @ X.T
    _, lam, U = _sigma_eigh(Sxx, Syx, xp)
    P = product(weights)
    res = criticality_residual(weights, X, Y)
    c = xp.einsum("ji,jk,kl,li->i", U, P, Syx.T, U) / lam
    in_S = c > 0.5
    consistent = xp.max(xp.abs(c - in_S.astype(c.dtype))) < 0.25
    critical = (res <= rtol) & consistent
    r = xp.sum(in_S)
    leading = xp.all(in_S == (xp.arange(lam.shape[0]) < r))
    r_max = min(widths)

    E = Syx - P @ Sxx
    # every matrix whose spectral norm or rank is needed, in one batched SVD (zero
    # padding to a common square size keeps the singular values)
    mats = [E, *weights]
    pairs = [(a, b) for a in range(1, H + 1) for b in range(a + 1, H + 1)]
    for a, b in pairs:
        mats.append(product(weights, b + 1, H).T @ E @ product(weights, 1, a - 1).T)
        mats.append(product(weights, a + 1, b - 1))
        mats.append(product(weights, 1, b - 1))
        mats.append(product(weights, a + 1, H))
    D = max(max(M.shape) for M in mats)
    stack = xp.stack([xp.pad(M, ((0, D - M.shape[0]), (0, D - M.shape[1]))) for M in mats])
    sv = xp.linalg.svd(stack, compute_uv=False)  # (len, D), descending
    e_norm = sv[0, 0]
    norms = [sv[h, 0] for h in range(1, H + 1)]

    def scale(lo: int, hi: int):  # product of ||W_h||_2, h = lo..hi: rounding scale
        out = xp.ones((), X.dtype)
        for h in range(lo, hi + 1):
            out = out * norms[h - 1]
        return out

    def rank(i: int, lo: int, hi: int):
        return xp.sum(sv[i] > rtol * scale(lo, hi))

    strict_pair = xp.zeros((), bool)
    for j, (a, b) in enumerate(pairs):
        i = H + 1 + 4 * j
        k_nz = sv[i, 0] > rtol * scale(b + 1, H) * e_norm * scale(1, a - 1)
        rM, r1, r2 = rank(i + 1, a + 1, b - 1), rank(i + 2, 1, b - 1), rank(i + 3, a + 1, H)
        strict_pair = strict_pair | (k_nz & (rM > xp.minimum(r1, r2)))
    kind = xp.where(~leading, 2, xp.where(r >= r_max, 1, xp.where(strict_pair, 2, 3)))
    return xp.where(critical, kind, 0).astype(xp.int32)


def classify_code(
    weights: Weights, X: ArrayLike, Y: ArrayLike, *, rtol: float | None = None
) -> jax.Array:
    """Jittable/vmappable version of :func:`classify`: an index into :data:`CLASSES`.

    Same computation as :func:`classify` in ``jax.numpy`` (in the inputs' dtype).
    Assumption H is not checked here (it needs the host): check the data once with
    :func:`classify`, or :func:`spectrum`'s eigenvalues, before mapping this over points.
    NaN / inf inputs are rejected when concrete; under ``jit`` they give code ``0``.

    Returns
    -------
    Int[ArrayLike, ""]
        ``0`` not critical, ``1`` global minimum, ``2`` strict saddle, ``3`` non-strict.

    Examples
    --------
    >>> import jax
    >>> from jaxorth import dln
    >>> X, Y = dln.make_data(jax.random.key(0), 3, 2, 20, eigenvalues=[4.0, 1.0])
    >>> W = dln.critical_point(jax.random.key(1), X, Y, [3, 2, 2], [1])  # S = {2}: a saddle
    >>> code = int(jax.jit(dln.classify_code)(W, X, Y))  # one compiled program
    >>> code, dln.CLASSES[code]
    (2, 'strict_saddle')
    """
    check_shapes(weights, X, Y)
    rtol = _default_rtol(X.dtype) if rtol is None else float(rtol)
    weights = [jnp.asarray(W) for W in weights]
    return _classify_impl(weights, jnp.asarray(X), jnp.asarray(Y), rtol, jnp)


def classify(weights: Weights, X: ArrayLike, Y: ArrayLike, *, rtol: float | None = None) -> str:
    """Classify a point of a DLN from the theory alone (no Hessian).

    Parameters
    ----------
    weights : sequence of Float[ArrayLike, "d_h d_{h-1}"]
        ``[W_1, ..., W_H]``.
    X : Float[ArrayLike, "d_0 m"]
    Y : Float[ArrayLike, "d_H m"]
        ``d_H <= d_0 <= m`` and ``Sigma`` with distinct eigenvalues (AMG24, Assumption H).
        Checked before compute: non-finite data, a singular ``S_xx``, a rank-deficient
        ``S_yx`` or two eigenvalues of ``Sigma`` equal to ``rtol`` (relative to ``l_1``)
        raise ``ValueError`` naming the failing part (for equal eigenvalues, the two).
    rtol : float, optional
        Relative tolerance for the criticality residual and the numerical ranks (default
        ``sqrt(eps)`` of the inputs' dtype). The computation runs on the host in float64
        (no compilation); :func:`classify_code` is the jittable twin.

    Returns
    -------
    str
        ``"not_critical"``, ``"global_minimum"``, ``"strict_saddle"`` or
        ``"non_strict_saddle"`` (AMG24, Theorems 2-4; see the module docstring).

    Examples
    --------
    >>> import jax
    >>> from jaxorth import dln
    >>> X, Y = dln.make_data(jax.random.key(0), 3, 2, 20, eigenvalues=[4.0, 1.0])
    >>> W = dln.critical_point(jax.random.key(1), X, Y, [3, 2, 2], [0, 1])
    >>> dln.classify(W, X, Y)
    'global_minimum'
    """
    check_shapes(weights, X, Y)
    _check_data(X, Y)
    rtol = _default_rtol(X.dtype) if rtol is None else float(rtol)
    _check_assumption_h(X, Y, rtol, "classify")
    weights = [np.asarray(W, np.float64) for W in weights]
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    return CLASSES[int(_classify_impl(weights, X, Y, rtol, np))]


class HessianTest(NamedTuple):
    """The float64 Hessian's verdict on points of a DLN (see :func:`hessian_test`).

    Attributes
    ----------
    rel_min : Float[ArrayLike, "..."]
        ``lambda_min / s`` with the scale ``s = max(|lambda|_max, ||S_yx||_2)``.
    strict : Bool[ArrayLike, "..."]
        ``rel_min < -strict_tol``: a direction of negative curvature (strict saddle).
    nonnegative : Bool[ArrayLike, "..."]
        ``rel_min > -zero_tol``: positive semi-definite up to rounding.
    scale : Float[ArrayLike, "..."]
        ``s``, per point.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth import dln
    >>> eigenvalues = np.array([[-1.0, 2.0], [0.0, 3.0]])  # of two points
    >>> test = dln.hessian_test(eigenvalues, np.eye(2), np.eye(2))
    >>> test.rel_min.tolist(), test.scale.tolist()  # lambda_min / max(|lambda|_max, ||S_yx||_2)
    ([-0.5, 0.0], [2.0, 3.0])
    """

    rel_min: ArrayLike
    strict: ArrayLike
    nonnegative: ArrayLike
    scale: ArrayLike


def hessian_test(
    eigenvalues: Float[ArrayLike, "... n"],  # noqa: F722
    X: ArrayLike,
    Y: ArrayLike,
    *,
    strict_tol: float = 1e-8,
    zero_tol: float = 1e-11,
) -> HessianTest:
    """Second-order test of points of a DLN from their Hessian spectra (host, numpy).

    The smallest eigenvalue is compared on the scale ``s = max(|lambda|_max, ||S_yx||_2)``
    (``S_yx = Y X^T``): ``lambda_min < -strict_tol * s`` is a strict saddle (AMG24,
    Definition 1: a direction of negative curvature), ``lambda_min > -zero_tol * s``
    a non-negative Hessian (a global minimum or a non-strict saddle at a critical point);
    in between the spectrum is ambiguous at this precision (neither flag is set).

    Parameters
    ----------
    eigenvalues : Float[ArrayLike, "... n"]
        Ascending Hessian eigenvalues per point (e.g. ``numpy.linalg.eigvalsh`` of
        :func:`loss_hessian`).
    X : Float[ArrayLike, "d_0 m"]
    Y : Float[ArrayLike, "d_H m"]
    strict_tol, zero_tol : float
        ``0 < zero_tol < strict_tol``.

    Returns
    -------
    HessianTest

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth import dln
    >>> test = dln.hessian_test(np.array([[-1.0, 2.0], [0.0, 3.0]]), np.eye(2), np.eye(2))
    >>> test.strict.tolist(), test.nonnegative.tolist()  # a strict saddle, then a PSD Hessian
    ([True, False], [False, True])
    """
    if not 0 < zero_tol < strict_tol:
        raise ValueError(f"need 0 < zero_tol < strict_tol, got {zero_tol}, {strict_tol}")
    ev = np.asarray(eigenvalues)
    s = np.maximum(np.abs(ev).max(axis=-1), np.linalg.norm(np.asarray(Y @ X.T), 2))
    rel = ev[..., 0] / s
    return HessianTest(rel, rel < -strict_tol, rel > -zero_tol, s)


def agrees_with_hessian(kind: str, strict: bool | np.bool_, nonnegative: bool | np.bool_) -> bool:
    """Whether a theory class (:data:`CLASSES`) matches the Hessian's verdict.

    A strict saddle must show negative curvature; a global minimum or a non-strict
    saddle a non-negative Hessian (AMG24, Theorems 2-4); ``"not_critical"`` never agrees.

    Examples
    --------
    >>> from jaxorth import dln
    >>> dln.agrees_with_hessian("strict_saddle", strict=True, nonnegative=False)
    True
    >>> dln.agrees_with_hessian("global_minimum", strict=True, nonnegative=False)
    False
    """
    if kind not in CLASSES:
        raise ValueError(f"kind must be one of {CLASSES}, got {kind!r}")
    if kind == "strict_saddle":
        return bool(strict)
    return kind in ("global_minimum", "non_strict_saddle") and bool(nonnegative)
