"""The Support Exploration Algorithm (Mohamed, Malgouyres, Emiya, Chaux, ICML 2024)."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ._common import (
    SparseResult,
    finish,
    ls_coefficients,
    prepare,
    top_k_support,
)
from ._greedy import els, omp
from ._thresholding import spectral_norm_sq


class SeaPath(NamedTuple):
    """The iterates visited by SEA (see :func:`sea_path`).

    Attributes
    ----------
    supports : Int[Array, "T k"]
        ``S^t = top_k |X^t|`` at every iteration, sorted.
    residuals : Float[Array, "T"]
        ``||A x^t - y||`` of the least squares ``x^t`` on ``S^t``.
    X : Float[Array, "n"]
        The exploratory vector after the last iteration.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import sparse
    >>> A = sparse.gaussian_matrix(jax.random.key(0), 20, 40)
    >>> x = jnp.zeros(40).at[jnp.array([3, 17])].set(jnp.array([1.0, -2.0]))
    >>> path = sparse.sea_path(A, A @ x, k=2, n_iter=50)
    >>> path.supports.shape, path.residuals.shape, path.X.shape
    ((50, 2), (50,), (40,))
    """

    supports: Int[Array, "T k"]
    residuals: Float[Array, " T"]
    X: Float[Array, " n"]


def _power_of_two_step(A: Array) -> Array:
    """``2^-e`` with ``2^(e-1) <= ||A||_F^2 < 2^e``: a step ``<= 1 / ||A||_F^2 <= 1 / ||A||_2^2``.

    Scaling by a power of two is exact in binary floating point, so from ``X^0 = 0`` the
    iterates with this step are those of any other power-of-two step, bit for bit.
    """
    _, e = jnp.frexp(jnp.sum(A * A))
    return jnp.ldexp(jnp.ones((), A.dtype), -e)


@functools.partial(jax.jit, static_argnames=("k", "n_iter", "keep_path", "from_zero"))
def _sea(A, y, k, n_iter, X0, step, keep_path, from_zero=False):
    """SEA's loop. ``from_zero``: ``X0 = 0`` and no step given (the step-free case).

    From ``X^0 = 0`` the iterates do not depend on the step (``X^t = step Z^t``), so the
    loop runs with a power-of-two step and skips the eigenvalue problem of the default
    step ``1 / ||A||_2^2``; the path's ``X`` is rescaled to the default step at the end.
    """
    n = A.shape[1]
    if from_zero:
        run_step = _power_of_two_step(A)
    elif step is None:
        run_step = 1.0 / spectral_norm_sq(A)
    else:
        run_step = step
    # Zero columns rank last: X^0 = 0 ties every |X_j| and a zero column would otherwise
    # enter the first support, making the least squares on it singular (NaN / inf). They
    # can never help (A x does not depend on their coefficients), and SEA's update never
    # moves X on them (their gradient A_j^T r is 0).
    live = jnp.any(A != 0, axis=0)

    def body(carry, _):
        X, best_s, best_res = carry
        s = top_k_support(X, k, live)
        As = jnp.take(A, s, axis=1)
        coef, res = ls_coefficients(As, y)
        better = res < best_res
        best = (jnp.where(better, s, best_s), jnp.where(better, res, best_res))
        X = X - run_step * (A.T @ (As @ coef - y))  # STE update: gradient at the sparse x^t
        out = (jnp.sort(s), res) if keep_path else None
        return (X, *best), out

    init = (X0, top_k_support(X0, k, live), jnp.array(jnp.inf, A.dtype))
    (X, best_s, _), path = jax.lax.scan(body, init, None, length=n_iter)
    if keep_path:
        if from_zero:  # the X of the default step 1 / ||A||_2^2
            X = X * ((1.0 / spectral_norm_sq(A)) / run_step)
        return SeaPath(supports=path[0], residuals=path[1], X=X)
    # the best iterate's coefficients: the same least squares on the same columns
    best_c, _ = ls_coefficients(jnp.take(A, best_s, axis=1), y)
    return finish(A, y, jnp.zeros(n, A.dtype).at[best_s].set(best_c), best_s)


def sea(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    k: int,
    n_iter: int = 1000,
    x0: Float[Array, " n"] | None = None,
    step: float | None = None,
) -> SparseResult:
    """Support Exploration Algorithm (Mohamed et al. 2024, Algorithm 1).

    From the exploratory vector ``X^0 = x0`` (default 0), repeat ``n_iter`` times::

        S^t = top_k |X^t|                                   (largest_k)
        x^t = argmin_{supp(x) in S^t} ||A x - y||           (least squares, QR)
        X^{t+1} = X^t - step * A^T (A x^t - y)              (straight-through update)

    and return the visited ``x^t`` with the smallest residual. The gradient vanishes on
    ``S^t`` (normal equations), so X only moves off the current support; from
    ``X^0 = 0``, ``X^t`` is proportional to ``step`` and the iterates do not depend on it.
    Ties in ``top_k`` (e.g. ``X^0 = 0``) go to the smaller indices. Zero columns of
    ``A`` rank below every other column (they cannot reduce the residual and would make
    the least squares singular).

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix (unit-norm columns in the paper's experiments).
    y : Float[Array, "m"]
        Observation.
    k : int
        Sparsity (static), ``1 <= k <= min(m, n)``.
    n_iter : int
        Number of iterations T (static).
    x0 : Float[Array, "n"], optional
        Initial exploratory vector ``X^0`` (warm start, e.g. OMP's solution).
    step : float, optional
        Step ``eta``, default ``1 / ||A||_2^2``. Without ``x0`` the iterates do not
        depend on the step, and the default then runs with the power of two
        ``2^-e <= 1 / ||A||_F^2`` instead: the same iterates (bit for bit those of
        ``step=1``) without the eigenvalue problem of ``||A||_2``.

    Returns
    -------
    SparseResult
        The best visited ``x: (n,)``, its ``support: (k,)`` sorted, ``residual``.

    Notes
    -----
    Validation of shapes and ``k`` happens in this (non-jitted) wrapper; NaN/inf in the
    inputs are reported only when they are concrete (not under ``jit``/``vmap``).
    The function is ``vmap``-able over ``A``, ``y`` and ``x0``.

    Every iteration solves its least squares afresh (one Householder QR) rather than
    updating the previous factorisation: SEA's support seldom changes by a single
    index (Gaussian 64 x 256, k = 12: about 30% of the iterations keep the support, 8%
    swap one index, 62% two or more), and under ``vmap`` a fallback to a fresh solve is
    computed for every problem of the batch whenever one needs it.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import sparse
    >>> A = sparse.gaussian_matrix(jax.random.key(0), 20, 40)
    >>> x = jnp.zeros(40).at[jnp.array([3, 17])].set(jnp.array([1.0, -2.0]))
    >>> result = sparse.sea(A, A @ x, k=2, n_iter=50)
    >>> sorted(result.support.tolist())
    [3, 17]
    """
    from_zero = x0 is None and step is None
    A, y, k, x0, n_iter = prepare(A, y, k, "sea", n_iter=n_iter, x0=x0, step=step, min_iter=1)
    return _sea(A, y, k, n_iter, x0, step, False, from_zero)


def sea_path(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    k: int,
    n_iter: int = 1000,
    x0: Float[Array, " n"] | None = None,
    step: float | None = None,
) -> SeaPath:
    """All supports and residuals visited by :func:`sea` (same arguments).

    Returns
    -------
    SeaPath
        ``supports: (n_iter, k)``, ``residuals: (n_iter,)``, final ``X: (n,)``. Without
        ``x0`` and ``step``, the iterates are those of :func:`sea` (a power-of-two step)
        and ``X`` is rescaled to the default step ``1 / ||A||_2^2``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import sparse
    >>> A = sparse.gaussian_matrix(jax.random.key(0), 20, 40)
    >>> x = jnp.zeros(40).at[jnp.array([3, 17])].set(jnp.array([1.0, -2.0]))
    >>> path = sparse.sea_path(A, A @ x, k=2, n_iter=50)
    >>> best = int(path.residuals.argmin())  # sea returns the best support visited
    >>> path.supports[best].tolist(), bool(path.residuals[best] < 1e-4)
    ([3, 17], True)
    """
    from_zero = x0 is None and step is None
    A, y, k, x0, n_iter = prepare(A, y, k, "sea_path", n_iter=n_iter, x0=x0, step=step, min_iter=1)
    return _sea(A, y, k, n_iter, x0, step, True, from_zero)


def sea_omp(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    k: int,
    n_iter: int = 1000,
    step: float | None = None,
) -> SparseResult:
    """SEA warm-started from OMP: ``X^0`` = OMP's k-sparse solution (Mohamed et al. 2024, SEA_OMP).

    The first visited support is OMP's, so the result's residual is never larger than
    OMP's. Arguments as in :func:`sea`.

    Returns
    -------
    SparseResult
        ``x: (n,)``, ``support: (k,)`` sorted, ``residual``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import sparse
    >>> A = sparse.gaussian_matrix(jax.random.key(0), 20, 40)
    >>> x = jnp.zeros(40).at[jnp.array([3, 17])].set(jnp.array([1.0, -2.0]))
    >>> result = sparse.sea_omp(A, A @ x, k=2, n_iter=50)
    >>> result.support.tolist(), bool(result.residual <= sparse.omp(A, A @ x, k=2).residual + 1e-6)
    ([3, 17], True)
    """
    A, y, k, _, n_iter = prepare(A, y, k, "sea_omp", n_iter=n_iter, x0=None, step=step, min_iter=1)
    return _sea(A, y, k, n_iter, omp(A, y, k).x, step, False)


def sea_els(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    k: int,
    n_iter: int = 1000,
    step: float | None = None,
    els_iter: int = 100,
) -> SparseResult:
    """SEA warm-started from ELS: ``X^0`` = ELS's solution (Mohamed et al. 2024, SEA_ELS).

    The result's residual is never larger than ELS's. Arguments as in :func:`sea`;
    ``els_iter`` bounds the number of ELS swaps.

    Returns
    -------
    SparseResult
        ``x: (n,)``, ``support: (k,)`` sorted, ``residual``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import sparse
    >>> A = sparse.gaussian_matrix(jax.random.key(0), 20, 40)
    >>> x = jnp.zeros(40).at[jnp.array([3, 17])].set(jnp.array([1.0, -2.0]))
    >>> result = sparse.sea_els(A, A @ x, k=2, n_iter=50)
    >>> result.support.tolist(), bool(result.residual < 1e-4)
    ([3, 17], True)
    """
    A, y, k, _, n_iter = prepare(A, y, k, "sea_els", n_iter=n_iter, x0=None, step=step, min_iter=1)
    return _sea(A, y, k, n_iter, els(A, y, k, els_iter).x, step, False)
