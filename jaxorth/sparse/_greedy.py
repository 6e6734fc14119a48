"""Greedy peers of SEA: OMP, OLS and ELS (OMP followed by exhaustive single swaps)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._common import (
    SparseResult,
    after,
    finish,
    ls_on_support,
    prepare,
    top_k_support,
    validate_problem,
)


def _tiny(dtype) -> float:
    return float(jnp.finfo(dtype).eps)


def gs_append(Q: Array, t: Array | int, a: Array) -> Array:
    """Append column ``a`` to the orthonormal basis ``Q`` in slot ``t`` (the QR append update).

    Classical Gram-Schmidt applied twice ("twice is enough": orthogonality to working
    precision while the columns stay numerically independent), O(m k) instead of a
    fresh O(m k^2) factorisation. Columns of ``Q`` from slot ``t`` on must be zero; a
    column already in the span (``a - Q Q^T a = 0``) leaves a zero slot.
    """
    v = a - Q @ (Q.T @ a)
    v = v - Q @ (Q.T @ v)
    nv = jnp.linalg.norm(v)
    return Q.at[:, t].set(jnp.where(nv > 0, v / jnp.where(nv > 0, nv, 1.0), 0.0))


def _greedy_core(A: Array, y: Array, k: int, rule: str) -> tuple[Array, Array]:
    """Forward selection of k columns: the support (in selection order) and its basis Q.

    A growing orthonormal basis ``Q`` of the selected columns is kept (:func:`gs_append`,
    the O(m k) append update of a QR, no fresh factorisation per step); unfilled columns
    of ``Q`` are zero so that the projection ``Q Q^T`` only acts on the selected span.
    """
    m, n = A.shape
    eps = _tiny(A.dtype)
    col2 = jnp.sum(A * A, axis=0)

    def body(t, carry):
        Q, r, B, b2, support, selected = carry
        corr = A.T @ r
        if rule == "omp":
            score = jnp.abs(corr)
        else:  # ols: residual decrease (r^T b_j)^2 / ||b_j||^2, b_j = P_perp a_j
            ok = b2 > 1e3 * eps * col2
            score = jnp.where(ok, corr**2 / jnp.where(ok, b2, 1.0), 0.0)
        score = jnp.where(selected, -jnp.inf, score)
        j = jnp.argmax(score)
        Q = gs_append(Q, t, A[:, j])
        q = Q[:, t]
        r = r - q * (q @ r)
        if rule == "ols":
            B = B - jnp.outer(q, q @ B)
            b2 = jnp.sum(B * B, axis=0)
        return Q, r, B, b2, support.at[t].set(j.astype(jnp.int32)), selected.at[j].set(True)

    init = (
        jnp.zeros((m, k), A.dtype),
        y,
        A if rule == "ols" else jnp.zeros((0, n), A.dtype),
        col2,
        jnp.zeros(k, jnp.int32),
        jnp.zeros(n, bool),
    )
    Q, _, _, _, support, _ = jax.lax.fori_loop(0, k, body, init)
    return support, Q


def ls_from_basis(A: Array, y: Array, support: Array, Q: Array) -> Array:
    """Least squares on ``support`` from its orthonormal basis ``Q`` (built by :func:`gs_append`).

    ``A_S = Q R`` with ``R = Q^T A_S`` upper triangular (Gram-Schmidt in support
    order), so ``x_S = R^{-1} Q^T y``: one triangular solve, no new QR. A column that
    added no direction (``R_tt = 0``: a zero column, picked only once the residual is
    exactly 0) gets the coefficient 0.
    """
    As = jnp.take(A, support, axis=1)
    R = jnp.triu(Q.T @ As)
    d = jnp.diagonal(R)
    ok = d != 0
    R = R + jnp.diag(jnp.where(ok, 0.0, 1.0).astype(A.dtype))
    coef = jax.scipy.linalg.solve_triangular(R, jnp.where(ok, Q.T @ y, 0.0), lower=False)
    return jnp.zeros(A.shape[1], A.dtype).at[support].set(coef)


@functools.partial(jax.jit, static_argnames=("k", "rule"))
def _greedy(A, y, k, rule):
    support, Q = _greedy_core(A, y, k, rule)
    return finish(A, y, ls_from_basis(A, y, support, Q), support)


def omp(A: Float[Array, "m n"], y: Float[Array, " m"], k: int) -> SparseResult:
    """Orthogonal Matching Pursuit (Pati, Rezaiifar, Krishnaprasad 1993).

    k steps of: ``j = argmax_{j not in S} |a_j^T r|``, ``S <- S + {j}``,
    ``r = y - P_S y``; the coefficients are the least squares on S (QR). Columns are
    assumed to have unit norm (the selection is not normalised, as in scikit-learn's
    ``orthogonal_mp``). A peer of SEA in Mohamed et al. 2024 (Sec. 5).

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix, unit-norm columns.
    y : Float[Array, "m"]
        Observation.
    k : int
        Sparsity (static), ``1 <= k <= min(m, n)``.

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
    >>> sorted(sparse.omp(A, A @ x, k=2).support.tolist())
    [3, 17]
    """
    A, y, k, _ = validate_problem(A, y, k, "omp")
    return _greedy(A, y, k, "omp")


def ols(A: Float[Array, "m n"], y: Float[Array, " m"], k: int) -> SparseResult:
    """Orthogonal Least Squares (Chen, Billings, Luo 1989; a.k.a. ORMP, forward selection).

    k steps selecting the column that most decreases the least-squares residual:
    ``j = argmax (r^T a_j)^2 / ||P_S^perp a_j||^2`` (Soussen et al. 2013, eq. (4)).

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix.
    y : Float[Array, "m"]
        Observation.
    k : int
        Sparsity (static), ``1 <= k <= min(m, n)``.

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
    >>> result = sparse.ols(A, A @ x, k=2)
    >>> result.support.tolist(), bool(result.residual < 1e-4)
    ([3, 17], True)
    """
    A, y, k, _ = validate_problem(A, y, k, "ols")
    return _greedy(A, y, k, "ols")


def _swap_scores(A, y, support):
    r"""Residual^2 after every single swap ``S[i] -> j`` (k x n), in closed form.

    With ``u_i`` the unit component of ``a_{S_i}`` orthogonal to ``S \ {i}``,
    ``P_S = P_{S\i} + u_i u_i^T``. For ``r = P_S^perp y``, ``b_j = P_S^perp a_j``:
    ``||r_{S\i+j}||^2 = ||r||^2 + (u_i^T y)^2 - (a_j^T r + (u_i^T y)(u_i^T a_j))^2
    / (||b_j||^2 + (u_i^T a_j)^2)``. ``u_i`` is the i-th column of ``Q R^{-T}``
    normalised (the dual basis of ``A_S``).
    """
    n = A.shape[1]
    eps = _tiny(A.dtype)
    Q, R = jnp.linalg.qr(jnp.take(A, support, axis=1), mode="reduced")
    R = after(R, Q)  # orgqr (Q) before trsm (below): see `after`
    V = jax.scipy.linalg.solve_triangular(R.T, jnp.eye(R.shape[0], dtype=A.dtype), lower=True)
    V = V / jnp.linalg.norm(V, axis=0, keepdims=True)  # columns: u_i in the Q basis
    P = Q.T @ A  # (k, n)
    qy = Q.T @ y
    r = y - Q @ qy
    res2 = r @ r
    col2 = jnp.sum(A * A, axis=0)
    b2 = jnp.maximum(col2 - jnp.sum(P * P, axis=0), 0.0)
    C = V.T @ P  # (k, n): u_i^T a_j
    d = V.T @ qy  # (k,): u_i^T y
    g = A.T @ r  # (n,)
    num = (g[None, :] + d[:, None] * C) ** 2
    den = b2[None, :] + C**2
    in_s = jnp.zeros(n, bool).at[support].set(True)
    ok = (den > 1e3 * eps * col2[None, :]) & ~in_s[None, :]
    scores = res2 + d[:, None] ** 2 - num / jnp.where(ok, den, 1.0)
    return jnp.where(ok, scores, jnp.inf), jnp.sqrt(res2)


def _els_core(A, y, support, n_iter):
    """Best-improvement single-swap local search from ``support`` (at most n_iter swaps)."""
    tol = 100 * _tiny(A.dtype) * (y @ y)

    def body(_, carry):
        support, res, active = carry
        scores, _ = _swap_scores(A, y, support)
        flat = jnp.argmin(scores)
        i, j = jnp.unravel_index(flat, scores.shape)
        cand = support.at[i].set(j.astype(support.dtype))
        _, cand_res = ls_on_support(A, y, cand)
        improved = active & (scores[i, j] < res**2 - tol) & (cand_res < res)
        return (
            jnp.where(improved, cand, support),
            jnp.where(improved, cand_res, res),
            improved,
        )

    # fixed length: a step without an improving swap is a no-op (vmap-friendly)
    _, res0 = ls_on_support(A, y, support)
    support, _, _ = jax.lax.fori_loop(0, n_iter, body, (support, res0, jnp.array(True)))
    return support


@functools.partial(jax.jit, static_argnames=("k", "n_iter", "warm"))
def _els(A, y, k, n_iter, x0, warm):
    support = top_k_support(x0, k) if warm else _greedy_core(A, y, k, "omp")[0]
    if k < A.shape[1]:
        support = _els_core(A, y, support, n_iter)
    x, _ = ls_on_support(A, y, support)
    return finish(A, y, x, support)


def els(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    k: int,
    n_iter: int = 100,
    x0: Float[Array, " n"] | None = None,
) -> SparseResult:
    """Exhaustive Local Search: OMP, then best single swaps until none improves.

    Each step evaluates the least-squares residual of all ``k (n - k)`` supports
    obtained by swapping one selected column for an unselected one (closed form,
    O(m k n) per step, see ``_swap_scores``) and performs the best swap if it strictly
    decreases the residual (Axiotis & Sviridenko 2020; the ELS peer of Mohamed et al.
    2024, Sec. 5).

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix.
    y : Float[Array, "m"]
        Observation.
    k : int
        Sparsity (static), ``1 <= k <= min(m, n)``.
    n_iter : int
        Maximum number of swaps (static).
    x0 : Float[Array, "n"], optional
        Start from the support ``top_k(|x0|)`` instead of OMP's.

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
    >>> result = sparse.els(A, A @ x, k=2)
    >>> result.support.tolist(), bool(result.residual < 1e-4)
    ([3, 17], True)
    """
    warm = x0 is not None
    A, y, k, x0, n_iter = prepare(A, y, k, "els", n_iter=n_iter, x0=x0)
    return _els(A, y, k, n_iter, x0, warm)
