"""Thresholding peers of SEA: IHT, NIHT, HTP, CoSaMP and Subspace Pursuit."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._common import (
    SparseResult,
    finish,
    ls_coefficients,
    ls_on_support,
    masked_ls,
    prepare,
    top_k_support,
)


def _hard_threshold(v: Array, k: int) -> tuple[Array, Array]:
    """``H_k(v)``: keep the k largest ``|v_i|``; returns (thresholded v, its support)."""
    s = top_k_support(v, k)
    return jnp.zeros_like(v).at[s].set(v[s]), s


def _mask(support: Array, n: int) -> Array:
    return jnp.zeros(n, bool).at[support].set(True)


def spectral_norm_sq(A: Float[Array, "m n"]) -> Float[Array, ""]:
    """``||A||_2^2``, the Lipschitz constant of ``x -> A^T (A x - y)``.

    The largest eigenvalue of the smaller Gram matrix ``G`` (``A A^T`` or ``A^T A``, p x
    p) by the power method on ``G^(2^j)`` (repeated squaring, each normalised to unit
    trace): ``P_j = G^(2^j) / tr`` tends to the projector onto the top eigenspace, the
    squarings stop when ``tr(P_j^2)`` (the sum of the squared eigenvalue weights) no
    longer changes to working precision, and the value is the Rayleigh quotient of the
    largest column of ``P_j``. A handful of batched p x p matmuls (8 to 14 for Gaussian
    64 x 256, at most ``nmant + 8``), accurate to a few ulps like LAPACK's ``syevd``,
    which it replaces: batched over ``vmap`` on a loaded 2-core machine, ``eigvalsh``
    of 200 64 x 64 matrices took 0.4 to 3 s (OpenBLAS threads), longer than SEA's or
    IHT's whole loop.
    """
    m, n = A.shape
    G = A @ A.T if m <= n else A.T @ A
    eps = jnp.finfo(G.dtype).eps
    max_iter = jnp.finfo(G.dtype).nmant + 8

    def unit_trace(P):
        t = jnp.trace(P)
        return P / jnp.where(t > 0, t, 1.0), t

    def cond(state):
        _, prev, cur, it = state
        return (it < max_iter) & (jnp.abs(cur - prev) > eps * cur)

    def body(state):
        P, _, cur, it = state
        P, t = unit_trace(P @ P)  # t = tr(P_j^2) of the previous P_j
        return P, cur, t, it + 1

    P0, _ = unit_trace(G)
    one = jnp.ones((), G.dtype)
    P, _, _, _ = jax.lax.while_loop(cond, body, (P0, -one, one, 0))
    v = P[:, jnp.argmax(jnp.diagonal(P))]
    vv = v @ v
    return jnp.where(vv > 0, (v @ (G @ v)) / jnp.where(vv > 0, vv, 1.0), 0.0)


@functools.partial(jax.jit, static_argnames=("k", "n_iter"))
def _iht(A, y, k, n_iter, x0, step):
    step = 1.0 / spectral_norm_sq(A) if step is None else step
    x0, s0 = _hard_threshold(x0, k)

    def body(_, carry):
        x, _ = carry
        return _hard_threshold(x + step * (A.T @ (y - A @ x)), k)

    x, s = jax.lax.fori_loop(0, n_iter, body, (x0, s0))
    return finish(A, y, x, s)


def iht(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    k: int,
    n_iter: int = 500,
    x0: Float[Array, " n"] | None = None,
    step: float | None = None,
) -> SparseResult:
    """Iterative Hard Thresholding (Blumensath & Davies 2009, eq. (9)).

    ``x <- H_k(x + step A^T (y - A x))`` with the safe step ``1 / ||A||_2^2`` by default
    (the objective then decreases monotonically). Returns the last iterate.

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix.
    y : Float[Array, "m"]
        Observation.
    k : int
        Sparsity (static), ``1 <= k <= min(m, n)``.
    n_iter : int
        Number of iterations (static).
    x0 : Float[Array, "n"], optional
        Starting point (hard-thresholded), default 0.
    step : float, optional
        Gradient step, default ``1 / ||A||_2^2``.

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
    >>> result = sparse.iht(A, A @ x, k=2, step=1.0)  # unit-norm columns: step 1
    >>> result.support.tolist(), bool(result.residual < 1e-4)
    ([3, 17], True)
    """
    A, y, k, x0, n_iter = prepare(A, y, k, "iht", n_iter=n_iter, x0=x0, step=step)
    return _iht(A, y, k, n_iter, x0, step)


@functools.partial(jax.jit, static_argnames=("k", "n_iter", "max_backtrack"))
def _niht(A, y, k, n_iter, x0, c, kappa, max_backtrack):
    n = A.shape[1]
    x0, _ = _hard_threshold(x0, k)
    start = jnp.where(jnp.any(x0 != 0), x0, A.T @ y)
    gamma0 = _mask(top_k_support(start, k), n)

    def body(_, carry):
        x, gamma = carry
        g = A.T @ (y - A @ x)
        g_s = jnp.where(gamma, g, 0.0)
        ag = A @ g_s
        mu = jnp.where(ag @ ag > 0, (g_s @ g_s) / jnp.where(ag @ ag > 0, ag @ ag, 1.0), 0.0)

        def propose(mu):
            x_new, s_new = _hard_threshold(x + mu * g, k)
            d = x_new - x
            ad = A @ d
            omega = (1 - c) * (d @ d) / jnp.where(ad @ ad > 0, ad @ ad, 1.0)
            same = jnp.all(_mask(s_new, n) == gamma)
            return x_new, s_new, same | (mu <= omega)

        def cond(state):
            i, mu, _, _, ok = state
            return (~ok) & (i < max_backtrack)

        def shrink(state):
            i, mu, _, _, _ = state
            mu = mu / (kappa * (1 - c))
            x_new, s_new, ok = propose(mu)
            return i + 1, mu, x_new, s_new, ok

        x_new, s_new, ok = propose(mu)
        _, _, x_new, s_new, _ = jax.lax.while_loop(cond, shrink, (0, mu, x_new, s_new, ok))
        return x_new, _mask(s_new, n)

    x, gamma = jax.lax.fori_loop(0, n_iter, body, (x0, gamma0))
    return finish(A, y, x, top_k_support(jnp.where(gamma, jnp.abs(x) + 1.0, 0.0), k))


def niht(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    k: int,
    n_iter: int = 500,
    x0: Float[Array, " n"] | None = None,
    c: float = 0.01,
    kappa: float = 2.0,
) -> SparseResult:
    """Normalized IHT (Blumensath & Davies 2010, Algorithm 2).

    The step is ``mu = ||g_G||^2 / ||A_G g_G||^2`` (G the current support, g the
    gradient); when the support changes, ``mu`` is divided by ``kappa (1 - c)`` until
    ``mu <= (1 - c) ||x_new - x||^2 / ||A (x_new - x)||^2`` (at most 30 times).

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix.
    y : Float[Array, "m"]
        Observation.
    k : int
        Sparsity (static), ``1 <= k <= min(m, n)``.
    n_iter : int
        Number of iterations (static).
    x0 : Float[Array, "n"], optional
        Starting point, default 0 (then G = top-k of ``|A^T y|``).
    c, kappa : float
        Backtracking constants, ``0 < c < 1``, ``kappa > 1 / (1 - c)``.

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
    >>> result = sparse.niht(A, A @ x, k=2)
    >>> result.support.tolist(), bool(result.residual < 1e-3)
    ([3, 17], True)
    """
    A, y, k, x0, n_iter = prepare(A, y, k, "niht", n_iter=n_iter, x0=x0, step=None)
    if not (0 < c < 1):
        raise ValueError(f"niht: c must lie in (0, 1), got c={c}")
    if not kappa > 1 / (1 - c):
        raise ValueError(f"niht: kappa must exceed 1/(1-c) = {1 / (1 - c):.4f}, got {kappa}")
    return _niht(A, y, k, n_iter, x0, c, kappa, 30)


@functools.partial(jax.jit, static_argnames=("k", "n_iter"))
def _htp(A, y, k, n_iter, x0, step):
    step = 1.0 if step is None else step
    n = A.shape[1]
    s0 = top_k_support(jnp.where(jnp.any(x0 != 0), x0, A.T @ y), k)

    def solve(s):
        # least squares on s; its residual y - A x = y - A_S c reuses the gathered columns
        As = jnp.take(A, s, axis=1)
        coef, _ = ls_coefficients(As, y)
        return jnp.zeros(n, A.dtype).at[s].set(coef), y - As @ coef

    def body(_, carry):
        x, _, r = carry
        s = top_k_support(x + step * (A.T @ r), k)
        x, r = solve(s)
        return x, s, r

    x0, r0 = solve(s0)
    x, s, _ = jax.lax.fori_loop(0, n_iter, body, (x0, s0, r0))
    return finish(A, y, x, s)


def htp(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    k: int,
    n_iter: int = 100,
    x0: Float[Array, " n"] | None = None,
    step: float | None = None,
) -> SparseResult:
    """Hard Thresholding Pursuit (Foucart 2011, Algorithm (HTP)).

    ``S <- top_k |x + step A^T (y - A x)|``, ``x <- argmin_{supp(x) in S} ||A x - y||``.
    Started from the least squares on ``top_k |A^T y|`` (or on ``top_k |x0|``).

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix.
    y : Float[Array, "m"]
        Observation.
    k : int
        Sparsity (static), ``1 <= k <= min(m, n)``.
    n_iter : int
        Number of iterations (static).
    x0 : Float[Array, "n"], optional
        Warm start.
    step : float, optional
        Gradient step, default 1 (Foucart's choice for unit-norm columns).

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
    >>> result = sparse.htp(A, A @ x, k=2)
    >>> result.support.tolist(), bool(result.residual < 1e-4)
    ([3, 17], True)
    """
    A, y, k, x0, n_iter = prepare(A, y, k, "htp", n_iter=n_iter, x0=x0, step=step)
    return _htp(A, y, k, n_iter, x0, step)


@functools.partial(jax.jit, static_argnames=("k", "n_iter", "mode"))
def _pursuit(A, y, k, n_iter, x0, mode):
    """CoSaMP (mode="cosamp") or Subspace Pursuit (mode="sp")."""
    n = A.shape[1]
    n_new = min(2 * k if mode == "cosamp" else k, n)
    p = min(k + n_new, n)
    if mode == "sp":
        s0 = top_k_support(jnp.where(jnp.any(x0 != 0), x0, A.T @ y), k)
        x0, _ = ls_on_support(A, y, s0)
    else:
        x0, s0 = _hard_threshold(x0, k)

    def body(_, carry):
        x, s, res = carry
        r = y - A @ x
        proxy = A.T @ r
        merged = _mask(s, n) | _mask(top_k_support(proxy, n_new), n)
        idx = jax.lax.top_k(merged.astype(A.dtype), p)[1]
        b = masked_ls(A, y, idx, merged[idx])
        x_new, s_new = _hard_threshold(b, k)
        if mode == "sp":
            x_new, _ = ls_on_support(A, y, s_new)
        res_new = jnp.linalg.norm(A @ x_new - y)
        if mode == "sp":  # SP stops when the residual stops decreasing
            keep = res_new >= res
            return (
                jnp.where(keep, x, x_new),
                jnp.where(keep, s, s_new),
                jnp.where(keep, res, res_new),
            )
        return x_new, s_new, res_new

    res0 = jnp.linalg.norm(A @ x0 - y)
    x, s, _ = jax.lax.fori_loop(0, n_iter, body, (x0, s0, res0))
    return finish(A, y, x, s)


def cosamp(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    k: int,
    n_iter: int = 50,
    x0: Float[Array, " n"] | None = None,
) -> SparseResult:
    """Compressive Sampling Matching Pursuit (Needell & Tropp 2009, Algorithm 1).

    ``T = supp(x) U top_{2k} |A^T (y - A x)|``, ``b = argmin_{supp(b) in T} ||A b - y||``,
    ``x = H_k(b)``. The least squares on the up-to-3k merged columns is a QR with a
    tiny ridge (``eps ||A_T||_F^2``), so ``3k > m`` is allowed (rank-deficient merge).

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix.
    y : Float[Array, "m"]
        Observation.
    k : int
        Sparsity (static), ``1 <= k <= min(m, n)``.
    n_iter : int
        Number of iterations (static).
    x0 : Float[Array, "n"], optional
        Warm start, default 0.

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
    >>> result = sparse.cosamp(A, A @ x, k=2)
    >>> result.support.tolist(), bool(result.residual < 1e-4)
    ([3, 17], True)
    """
    A, y, k, x0, n_iter = prepare(A, y, k, "cosamp", n_iter=n_iter, x0=x0, step=None)
    return _pursuit(A, y, k, n_iter, x0, "cosamp")


def sp(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    k: int,
    n_iter: int = 50,
    x0: Float[Array, " n"] | None = None,
) -> SparseResult:
    """Subspace Pursuit (Dai & Milenkovic 2009, Algorithm 1).

    ``T = S U top_k |A^T r|``, ``S' = top_k`` of the least squares on T, ``x' = `` least
    squares on ``S'``; stops (keeps S) as soon as the residual does not decrease.

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix.
    y : Float[Array, "m"]
        Observation.
    k : int
        Sparsity (static), ``1 <= k <= min(m, n)``.
    n_iter : int
        Maximum number of iterations (static).
    x0 : Float[Array, "n"], optional
        Warm start (its top-k support), default ``top_k |A^T y|``.

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
    >>> result = sparse.sp(A, A @ x, k=2)
    >>> result.support.tolist(), bool(result.residual < 1e-4)
    ([3, 17], True)
    """
    A, y, k, x0, n_iter = prepare(A, y, k, "sp", n_iter=n_iter, x0=x0, step=None)
    return _pursuit(A, y, k, n_iter, x0, "sp")
