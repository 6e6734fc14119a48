"""Problem data of a deep linear network: ``(X, Y)``, ``Sigma`` and the critical values.

Achour, Malgouyres & Gerchinovitz, "The loss landscape of deep linear neural networks:
a second-order analysis", JMLR 25(242), 2024 (AMG24). Notation: ``S_xx = X X^T``,
``S_yx = Y X^T``, ``S_yy = Y Y^T`` and ``Sigma = S_yx S_xx^{-1} S_xy`` with eigenvalues
``l_1 > ... > l_{d_y}`` (eigenvectors ``U``), computed once, by ``_sigma_eigh``.
Eigen-index sets ``S`` are **0-based**: ``S = (0, 1)`` means ``{l_1, l_2}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike
from jaxtyping import ArrayLike, Float, PRNGKeyArray

from jaxorth._checks import finite
from jaxorth._random import numpy_rng


class DataSpectrum(NamedTuple):
    """Second-order statistics of ``(X, Y)`` and the eigen-structure of ``Sigma``.

    Attributes
    ----------
    sigma_xx : Float[ArrayLike, "d_x d_x"]
    sigma_yx : Float[ArrayLike, "d_y d_x"]
    sigma_yy : Float[ArrayLike, "d_y d_y"]
    sigma : Float[ArrayLike, "d_y d_y"]
        ``S_yx S_xx^{-1} S_xy``.
    eigenvalues : Float[ArrayLike, " d_y"]
        ``l_1 > ... > l_{d_y}`` (descending).
    eigenvectors : Float[ArrayLike, "d_y d_y"]
        ``U``, columns matching ``eigenvalues``.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth import dln
    >>> s = dln.spectrum(np.eye(2), np.diag([2.0, 1.0]))  # S_xx = I, S_yx = diag(2, 1)
    >>> np.round(s.sigma, 4).tolist(), np.round(s.eigenvalues, 4).tolist()  # S_yx S_xx^-1 S_xy
    ([[4.0, 0.0], [0.0, 1.0]], [4.0, 1.0])
    """

    sigma_xx: ArrayLike
    sigma_yx: ArrayLike
    sigma_yy: ArrayLike
    sigma: ArrayLike
    eigenvalues: ArrayLike
    eigenvectors: ArrayLike


def _check_data(X: ArrayLike, Y: ArrayLike) -> None:
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(f"X and Y must be 2-D (features, samples), got {X.shape}, {Y.shape}")
    dx, m = X.shape
    dy = Y.shape[0]
    if Y.shape[1] != m:
        raise ValueError(f"X and Y must have the same number of samples, got {m} and {Y.shape[1]}")
    if dy > dx:
        raise ValueError(f"the theory needs d_y <= d_x (Sigma full rank), got d_y={dy} > d_x={dx}")
    if m < dx:
        raise ValueError(f"Sigma_XX = X X^T is singular: need samples m >= d_x, got m={m} < {dx}")
    finite(X, "X")
    finite(Y, "Y")


def _check_assumption_h(X: ArrayLike, Y: ArrayLike, rtol: float, fn: str) -> None:
    """Check AMG24's Assumption H on concrete data, in float64 on the host.

    ``S_xx = X X^T`` invertible, ``S_yx = Y X^T`` of full rank ``d_y`` and ``Sigma =
    S_yx S_xx^{-1} S_xy`` with distinct eigenvalues ``l_1 > ... > l_{d_y}``, each to the
    eigenvalues distinct to the relative tolerance ``rtol`` (of the largest one); the two
    invertibility conditions are checked to rounding level, ``d eps`` of the data's
    dtype. The message names the failing part (for repeated eigenvalues, the two nearly
    equal ones, 1-based).
    """
    dtype = np.asarray(X).dtype
    eps = float(np.finfo(dtype if np.issubdtype(dtype, np.floating) else np.float64).eps)
    tiny = max(X.shape) * eps
    X64, Y64 = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    Sxx, Syx = X64 @ X64.T, Y64 @ X64.T
    ev_xx = np.linalg.eigvalsh(Sxx)
    if not ev_xx[0] > tiny * ev_xx[-1]:
        raise ValueError(
            f"{fn} assumes Sigma_XX = X X^T invertible (AMG24, Assumption H), but its "
            f"eigenvalues range from {ev_xx[0]:.6g} to {ev_xx[-1]:.6g} "
            f"(ratio below {tiny:.3g}): X has (numerically) dependent rows"
        )
    _, lam, _ = _sigma_eigh(Sxx, Syx, np)
    top = float(lam[0])
    if not lam[-1] > tiny * top:
        raise ValueError(
            f"{fn} assumes Sigma_YX = Y X^T of full rank d_y={lam.shape[0]} (AMG24, "
            f"Assumption H), but the smallest eigenvalue of Sigma is {lam[-1]:.6g} "
            f"against the largest {top:.6g} (ratio below {tiny:.3g})"
        )
    gaps = lam[:-1] - lam[1:]
    if gaps.size and not gaps.min() > rtol * top:
        i = int(np.argmin(gaps))
        raise ValueError(
            f"{fn} assumes Sigma = S_yx S_xx^-1 S_xy has distinct eigenvalues (AMG24, "
            f"Assumption H), but l_{i + 1} = {lam[i]:.10g} and l_{i + 2} = {lam[i + 1]:.10g} "
            f"are equal to rtol={rtol:.3g} (gap {gaps[i]:.3g}, relative "
            f"{gaps[i] / top:.3g}); with a repeated eigenvalue the eigenvectors U, hence "
            f"the index sets S of the classification, are not unique"
        )


def _sigma_eigh(Sxx: ArrayLike, Syx: ArrayLike, xp=jnp) -> tuple[ArrayLike, ArrayLike, ArrayLike]:
    """``Sigma = S_yx S_xx^{-1} S_xy`` (AMG24, Assumption H) and its eigenpairs.

    The one place ``Sigma`` is formed. The computed product is symmetric up to rounding;
    ``eigh`` reads its lower triangle (``numpy``) or symmetrises it (``jax.numpy``), and
    the returned ``sigma`` is ``(Sigma + Sigma^T) / 2``. ``xp`` is ``jax.numpy``
    (default, jittable) or ``numpy`` (host float64).

    Returns
    -------
    sigma : Float[ArrayLike, "d_y d_y"]
    eigenvalues : Float[ArrayLike, " d_y"]
        Descending ``l_1 > ... > l_{d_y}``.
    eigenvectors : Float[ArrayLike, "d_y d_y"]
        ``U``, columns matching ``eigenvalues``.
    """
    Sigma = Syx @ xp.linalg.solve(Sxx, Syx.T)
    lam, U = xp.linalg.eigh(Sigma)
    return 0.5 * (Sigma + Sigma.T), lam[::-1], U[:, ::-1]


def spectrum(X: ArrayLike, Y: ArrayLike) -> DataSpectrum:
    """Eigen-structure of ``Sigma = S_yx S_xx^{-1} S_xy`` (AMG24, Assumption H).

    Parameters
    ----------
    X : Float[ArrayLike, "d_x m"]
        Inputs as columns, ``m >= d_x`` and ``S_xx`` invertible.
    Y : Float[ArrayLike, "d_y m"]
        Targets, ``d_y <= d_x``.

    Returns
    -------
    DataSpectrum

    Examples
    --------
    >>> import jax
    >>> from jaxorth import dln
    >>> X, Y = dln.make_data(jax.random.key(0), 3, 2, 20, eigenvalues=[4.0, 1.0])
    >>> dln.spectrum(X, Y).eigenvalues.round(3).tolist()
    [4.0, 1.0]
    """
    _check_data(X, Y)
    Sxx, Syx, Syy = X @ X.T, Y @ X.T, Y @ Y.T
    Sigma, lam, U = _sigma_eigh(Sxx, Syx, jnp)
    return DataSpectrum(Sxx, Syx, Syy, Sigma, lam, U)


def _check_subset(S: Sequence[int], dy: int) -> tuple[int, ...]:
    S = tuple(sorted(int(i) for i in S))
    if len(set(S)) != len(S) or any(i < 0 or i >= dy for i in S):
        raise ValueError(f"S must be distinct 0-based eigen-indices in [0, {dy}), got {S}")
    return S


def critical_value(X: ArrayLike, Y: ArrayLike, S: Sequence[int]) -> Float[ArrayLike, ""]:  # noqa: F722
    """Loss at any critical point with eigen-index set ``S``: ``tr(S_yy) - sum_{i in S} l_i``.

    AMG24, Proposition 3 (Baldi & Hornik 1989 for ``H = 2``). ``S`` is 0-based.

    Examples
    --------
    >>> import jax
    >>> from jaxorth import dln
    >>> X, Y = dln.make_data(jax.random.key(0), 3, 2, 20, eigenvalues=[4.0, 1.0])
    >>> l_1, l_2 = dln.spectrum(X, Y).eigenvalues.tolist()
    >>> value = float(dln.critical_value(X, Y, [0]))  # tr(S_yy) - l_1
    >>> bool(abs(value - (float(dln.critical_value(X, Y, [])) - l_1)) < 1e-4)
    True
    """
    spec = spectrum(X, Y)
    S = _check_subset(S, Y.shape[0])
    idx = jnp.asarray(S, dtype=jnp.int32)
    return jnp.trace(spec.sigma_yy) - jnp.sum(spec.eigenvalues[idx])


def global_minimum_value(X: ArrayLike, Y: ArrayLike, widths: Sequence[int]) -> Float[ArrayLike, ""]:  # noqa: F722
    """Global minimum ``tr(S_yy) - sum_{i <= r_max} l_i``, ``r_max = min(widths)``.

    ``widths`` is ``(d_0, ..., d_H)`` (AMG24, Section 3; Eckart-Young for the product).

    Examples
    --------
    >>> import jax
    >>> from jaxorth import dln
    >>> X, Y = dln.make_data(jax.random.key(0), 3, 2, 20, eigenvalues=[4.0, 1.0])
    >>> low = float(dln.global_minimum_value(X, Y, [3, 2, 2]))
    >>> bool(abs(low - float(dln.critical_value(X, Y, [0, 1]))) < 1e-4)
    True
    """
    r_max = min(int(d) for d in widths)
    return critical_value(X, Y, range(min(r_max, Y.shape[0])))


def plateau_values(X: ArrayLike, Y: ArrayLike, widths: Sequence[int]) -> Float[ArrayLike, " r"]:  # noqa: F722
    """Critical values ``tr(S_yy) - (l_1 + ... + l_k)`` for ``k = 0..r_max``.

    The plateaus of gradient flow from a small initialisation (Saxe et al. 2014).

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> from jaxorth import dln
    >>> X, Y = dln.make_data(jax.random.key(0), 3, 2, 20, eigenvalues=[4.0, 1.0])
    >>> values = np.asarray(dln.plateau_values(X, Y, [3, 2, 2]))
    >>> np.diff(values).round(3).tolist()  # each plateau drops by the next eigenvalue
    [-4.0, -1.0]
    """
    spec = spectrum(X, Y)
    r_max = min(min(int(d) for d in widths), Y.shape[0])
    cums = jnp.concatenate([jnp.zeros((1,), spec.eigenvalues.dtype), jnp.cumsum(spec.eigenvalues)])
    return jnp.trace(spec.sigma_yy) - cums[: r_max + 1]


def make_data(
    key: PRNGKeyArray,
    d_x: int,
    d_y: int,
    m: int,
    *,
    eigenvalues: Sequence[float] | None = None,
    noise: float = 0.5,
    dtype: DTypeLike = jnp.float32,
) -> tuple[ArrayLike, ArrayLike]:
    """Random ``(X, Y)`` whose ``Sigma`` has exactly the given distinct eigenvalues.

    ``X`` is Gaussian; with ``Z = S_xx^{-1/2} X`` (``Z Z^T = I``) the targets are
    ``Y = U diag(sqrt(l)) V^T Z + N`` with ``N Z^T = 0``, so ``Sigma = U diag(l) U^T``.

    Parameters
    ----------
    key : PRNGKeyArray
    d_x, d_y, m : int
        ``d_y <= d_x < m``.
    eigenvalues : sequence of float, optional
        Distinct positive ``l_i`` (default ``d_y, d_y - 1, ..., 1``).
    noise : float
        Scale of the residual ``N`` (adds to ``tr(S_yy)`` only).
    dtype : dtype
        Output dtype.

    Returns
    -------
    X : Float[ArrayLike, "d_x m"]
    Y : Float[ArrayLike, "d_y m"]

    Examples
    --------
    >>> import jax
    >>> from jaxorth import dln
    >>> X, Y = dln.make_data(jax.random.key(0), 3, 2, 20, eigenvalues=[4.0, 1.0])
    >>> X.shape, Y.shape  # samples as columns
    ((3, 20), (2, 20))
    """
    if not 1 <= d_y <= d_x < m:
        raise ValueError(f"need 1 <= d_y <= d_x < m, got d_y={d_y}, d_x={d_x}, m={m}")
    lam = (
        np.arange(d_y, 0, -1, dtype=np.float64)
        if eigenvalues is None
        else np.asarray(eigenvalues, np.float64)
    )
    if lam.shape != (d_y,) or np.any(lam <= 0) or len(np.unique(lam)) != d_y:
        raise ValueError(f"eigenvalues must be {d_y} distinct positive numbers, got {lam}")
    lam = np.sort(lam)[::-1]
    rng = numpy_rng(key)
    X = rng.standard_normal((d_x, m))
    w, V = np.linalg.eigh(X @ X.T)
    Z = (V / np.sqrt(w)) @ V.T @ X
    U = np.linalg.qr(rng.standard_normal((d_y, d_y)))[0]
    Vx = np.linalg.qr(rng.standard_normal((d_x, d_y)))[0]
    N = rng.standard_normal((d_y, m))
    N = noise * (N - (N @ Z.T) @ Z)
    Y = (U * np.sqrt(lam)) @ Vx.T @ Z + N
    return jnp.asarray(X, dtype), jnp.asarray(Y, dtype)
