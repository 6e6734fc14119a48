"""Thick-restart Lanczos with full reorthogonalisation, as one compiled loop.

The engine behind :func:`jaxorth.hessian.eigsh` and :func:`jaxorth.hessian.eigenvalues`.
It works on flat vectors (``x -> A x`` on ``R^n``) and returns the ``k`` algebraically
largest Ritz pairs; the callers negate the operator for the smallest ones.

Method
------
Lanczos (1950) builds an orthonormal basis ``V`` (the rows of a preallocated
``(m, n)`` array) of a Krylov space and the projected matrix ``T = V A V^T``. When the
``m`` rows are full, the basis is *thick restarted* (Wu & Simon 2000, "Thick-restart
Lanczos method for large symmetric eigenvalue problems", SIAM J. Matrix Anal. Appl.
22(2), 602-616 [section to confirm in the paper]; for a symmetric matrix the same
restart as Stewart's Krylov-Schur method, SIAM J. Matrix Anal. Appl. 23(3), 2001):
the ``l`` leading Ritz vectors ``y_i = V^T s_i`` become the first ``l`` rows, ``T``
becomes ``diag(theta_1..l)`` bordered by the couplings ``beta s_{m,i}`` to the last
residual direction (an arrowhead), and the iteration continues from that direction.
Memory is therefore ``m * n`` numbers whatever the number of matvecs.

Reorthogonalisation, per step ``j`` with ``w = A v_j``:

1. the local recurrence ``w -= alpha_j v_j + c v_{j-1}`` (``c`` the known coupling,
   ``alpha_j = v_j^T w``): the large components, from two rows only;
2. one classical Gram-Schmidt pass against the whole basis, as two block products
   ``h = V w`` and ``w -= h^T V`` (rows not yet filled in this cycle are masked out);
3. a second such pass when the first removed too much (``||w'|| < ||w|| / sqrt(2)``:
   the criterion of Daniel, Gragg, Kaufman & Stewart 1976, Math. Comp. 30(136); a
   third is not needed, "twice is enough", Parlett 1998, Section 6.9 [to confirm in
   the book]) and always at the first step after a restart (whose couplings to the
   ``l`` kept Ritz vectors are not local). When even the second pass removes that
   much, the new direction is taken as zero: a breakdown (as ARPACK does, Lehoucq,
   Sorensen & Yang 1998, *ARPACK Users' Guide* [to confirm in the guide]).

Each block pass reads the basis once; classical Gram-Schmidt applied twice to the
full ``A v_j`` would read it four times per step.

Stopping rule: the residual of a Ritz pair ``(theta_i, y_i)`` of the current basis is
``||A y_i - theta_i y_i|| = |beta_j s_{j,i}|`` (``beta_j`` the norm of the new residual
direction, ``s_{j,i}`` the last entry of the eigenvector ``s_i`` of ``T``; Parlett 1998,
*The Symmetric Eigenvalue Problem*, Chapter 13 [section to confirm in the book]), exact
while the basis is orthonormal, which the full reorthogonalisation keeps to rounding
level. The loop stops as soon as the ``k`` wanted pairs all have
``|beta_j s_{j,i}| <= tol * max_i |theta_i|`` (the maximum over all Ritz values of
the basis, an estimate of ``||A||``), or when the budget of matvecs is spent. The
convergence test costs one ``eigh`` of the ``m x m`` projected matrix per step.

A breakdown (``beta_j`` at rounding level: the basis spans an invariant subspace) is
continued from a pseudo-random direction orthogonalised against the basis, with a zero
coupling, so that eigenvalues that the starting vector misses (further copies of a
repeated eigenvalue: a Krylov space holds one copy of each) can still be found. The
loop stops at a breakdown only if the largest Ritz value of the block that ended is not
above the ``k``-th wanted one, and otherwise only once the leading Ritz pair of the
new block has converged too. Without a breakdown, a copy that the starting vector
misses appears only through rounding errors: single-vector Lanczos may then return
one copy fewer of an exactly repeated eigenvalue (a block method would not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array

_ETA = 0.7071067811865476  # 1 / sqrt(2): the DGKS reorthogonalisation criterion


class LanczosOut(NamedTuple):
    """Flat output of :func:`thick_restart`: ``k`` Ritz pairs, descending."""

    theta: Array  # (k,)
    vectors: Array  # (k, n), unit rows
    estimates: Array  # (k,) Lanczos residual estimates |beta s_{j,i}|
    scale: Array  # max |theta| over the current Ritz values
    matvecs: Array  # number of products with A
    restarts: Array  # number of thick restarts


class _State(NamedTuple):
    V: Array  # (m, n) basis rows; rows >= j are stale in this cycle
    T: Array  # (m, m) projected matrix; zero outside the first j rows and columns
    r: Array  # (n,) next direction, orthogonal to V[:j]
    rnorm: Array  # ||r|| (> 0)
    beta: Array  # coupling of V[j - 1] to r (0 after a breakdown)
    j: Array  # filled rows
    matvecs: Array
    restarts: Array
    force: Array  # a second full pass at the next step (first step after a restart)
    block: Array  # (m,) rows of the Krylov block grown since the last breakdown
    done: Array  # the k wanted Ritz pairs meet the tolerance
    theta: Array  # (m,) Ritz values of the first j rows, descending (then sentinels)
    S: Array  # (m, m) their eigenvectors in T
    est: Array  # (k,) residual estimates of the k leading pairs
    scale: Array  # max |theta| over the first j rows


def ritz(T: Array, size: Array | int) -> tuple[Array, Array]:
    """Eigenpairs of the leading ``size x size`` block of ``T``, descending (``size`` traced).

    The rows and columns past ``size`` are replaced by a diagonal below every
    eigenvalue of the block (its Gershgorin lower bound minus its norm): the first
    ``size`` eigenpairs returned are those of the block (eigenvectors zero past
    ``size``), and ``||T||`` at most triples, so ``eigh`` keeps its accuracy.
    """
    m = T.shape[0]
    act = jnp.arange(m) < size
    A = jnp.where(act[:, None] & act[None, :], T, 0)
    d = jnp.diagonal(A)
    off = jnp.sum(jnp.abs(A), axis=1) - jnp.abs(d)
    lower = jnp.min(jnp.where(act, d - off, jnp.inf))
    norm = jnp.maximum(jnp.max(jnp.where(act, jnp.abs(d) + off, 0)), jnp.finfo(T.dtype).tiny)
    A = A + jnp.diag(jnp.where(act, 0, lower - norm))
    theta, S = jnp.linalg.eigh(A)
    return theta[::-1], S[:, ::-1]


def _pseudo_random(n: int, seed: Array, dtype) -> Array:
    """A deterministic pseudo-random vector in ``[-1/2, 1/2)^n`` (murmur3's finaliser).

    For the restart after a breakdown: any direction with a generic component outside
    the basis does, and a hash of the index compiles to a few elementwise operations
    (a ``jax.random`` draw inside the loop took about a second more to compile).
    """
    x = jnp.arange(n, dtype=jnp.uint32) + (seed.astype(jnp.uint32) + 1) * jnp.uint32(0x9E3779B9)
    x = (x ^ (x >> 16)) * jnp.uint32(0x85EBCA6B)
    x = (x ^ (x >> 13)) * jnp.uint32(0xC2B2AE35)
    x = x ^ (x >> 16)
    return (x >> 8).astype(dtype) / 2**24 - 0.5


def _project_out(V: Array, w: Array, mask: Array) -> tuple[Array, Array]:
    """One classical Gram-Schmidt pass in two block products: ``w - V^T h``, ``h = V w``."""
    h = jnp.where(mask, V @ w, 0)
    return h, w - h @ V


def thick_restart(
    mv: Callable[[Array], Array],
    v0: Array,
    tol: float | Array,
    max_matvecs: int | Array,
    *,
    k: int,
    basis_size: int,
    keep: int,
) -> LanczosOut:
    """The ``k`` largest Ritz pairs of ``x -> mv(x)`` by thick-restart Lanczos.

    ``basis_size`` (``m``) rows are allocated once; ``keep`` (``l < m``, and ``l >= k``
    unless ``k = m``) Ritz vectors survive a restart; the loop runs at most ``max_matvecs`` products
    and stops once the ``k`` residual estimates are ``<= tol * max|theta|``.
    Traceable: one ``lax.while_loop`` over the cycles around one over the steps;
    ``tol`` and ``max_matvecs`` may be traced (one compiled program serves them all).
    """
    n = v0.shape[0]
    m, l = basis_size, keep
    dtype = v0.dtype
    eps = jnp.finfo(dtype).eps
    rows = jnp.arange(m)

    def check(T, size, beta, block):
        """Ritz pairs of the leading ``size`` rows and whether the wanted ones converged.

        ``block`` marks the Krylov block grown since the last breakdown. Besides the
        ``k`` wanted pairs, that block's leading Ritz pair must have converged: only
        then does the block say what the largest eigenvalue outside the earlier
        (invariant) blocks is. Also returns that leading Ritz value.
        """
        theta, S = ritz(T, size)
        active = rows < size
        est_all = jnp.abs(beta * S[jnp.maximum(size - 1, 0)])
        scale = jnp.max(jnp.where(active, jnp.abs(theta), 0))
        ok = (size >= k) & jnp.all(est_all[:k] <= tol * scale)
        in_block = active & (jnp.sum(jnp.where(block[:, None], S**2, 0), axis=0) > 0.5)
        lead = jnp.argmax(jnp.where(in_block, theta, -jnp.inf))
        ok &= ~jnp.any(in_block) | (est_all[lead] <= tol * scale)
        lead_theta = jnp.where(jnp.any(in_block), theta[lead], -jnp.inf)
        return ok, theta, S, est_all[:k], scale, lead_theta

    def step(s: _State) -> _State:
        j = s.j
        v = s.r / s.rnorm
        # a plain dynamic-update-slice: in place (``.at[j].set`` with a traced j adds a
        # bounds select that XLA fuses into a rewrite of the whole basis every step)
        V = jax.lax.dynamic_update_index_in_dim(s.V, v, j, 0)
        w = mv(v)
        alpha = jnp.vdot(v, w)
        jp = jnp.maximum(j - 1, 0)
        c = jnp.where(j > 0, s.T[jp, j], 0)
        w1 = w - alpha * v - c * V[jp]
        mask = rows <= j
        h, w2 = _project_out(V, w1, mask)
        n1, n2 = jnp.linalg.norm(w1), jnp.linalg.norm(w2)
        # ||A v_j|| by Pythagoras (w1 is orthogonal to v_j and v_{j-1}): one read less
        wnorm = jnp.sqrt(alpha**2 + c**2 + n1**2)

        def second_pass():
            """The rare branch: a second pass, and a fresh direction after a breakdown."""
            h2, w3 = _project_out(V, w2, mask)
            beta = jnp.linalg.norm(w3)
            # a breakdown: the rows span an invariant subspace up to rounding: the new
            # direction is at rounding level, or the second pass removed too much
            # again (the rule of ARPACK's dsaitr: Lehoucq, Sorensen & Yang 1998)
            broke = (beta <= 10 * eps * wnorm) | (beta < _ETA * n2)
            u = _pseudo_random(n, s.matvecs, dtype)
            u = _project_out(V, _project_out(V, u, mask)[1], mask)[1]
            coupling = jnp.where(broke, 0, beta).astype(dtype)
            unorm = jnp.linalg.norm(u)
            # the norm of the next direction; 1 when it is zero (no room left: the
            # basis spans the whole space, the loop ends at this step)
            rnorm = jnp.where(broke, jnp.where(unorm > 0, unorm, 1), beta).astype(dtype)
            return h2, jnp.where(broke, u, w3), coupling, rnorm, broke

        def one_pass():
            return jnp.zeros_like(h), w2, n2, n2, jnp.bool_(False)

        # one pass is enough unless it removed too much (DGKS), the step follows a
        # restart, or the new direction is at rounding level
        again = s.force | (n2 < _ETA * n1) | (n2 <= 10 * eps * wnorm)
        h2, r, coupling, rnorm, broke = jax.lax.cond(again, second_pass, one_pass)
        # the column of T: what the local step and the passes removed (the couplings to
        # the kept Ritz vectors after a restart are recomputed here by the passes)
        col = (h + h2).at[jp].add(c).at[j].add(alpha)
        T = s.T.at[:, j].set(col).at[j, :].set(col)
        nxt = jnp.minimum(j + 1, m - 1)
        inside = j + 1 < m
        T = T.at[j, nxt].set(jnp.where(inside, coupling, T[j, nxt]))
        T = T.at[nxt, j].set(jnp.where(inside, coupling, T[nxt, j]))
        ok, theta, S, est, scale, lead = check(T, j + 1, coupling, s.block)
        # At a breakdown the block that just ended is invariant and its leading Ritz
        # value is the largest eigenvalue in what the earlier blocks left out: when it
        # is among the k wanted ones, a further copy of it may hide in what this block
        # leaves out too, so the search goes on from a fresh direction. (Without this,
        # the second copy of a repeated eigenvalue was missed.)
        done = ok & (~broke | (lead <= theta[k - 1] + tol * scale) | (j + 1 >= n))
        block = jnp.where(broke, rows > j, s.block)
        return _State(
            V,
            T,
            r,
            rnorm,
            coupling,
            j + 1,
            s.matvecs + 1,
            s.restarts,
            jnp.bool_(False),
            block,
            done,
            theta,
            S,
            est,
            scale,
        )

    def restart(s: _State) -> _State:
        theta, S = s.theta, s.S  # of the full basis: the last step filled row m - 1
        Y = S[:, :l].T @ s.V
        V = jax.lax.dynamic_update_slice(s.V, Y, (0, 0))
        arrow = s.beta * S[m - 1, :l]
        T = jnp.zeros_like(s.T)
        T = T.at[jnp.arange(l), jnp.arange(l)].set(theta[:l])
        T = T.at[:l, l].set(arrow).at[l, :l].set(arrow)
        # a kept Ritz vector belongs to the current block if it lies mostly in it
        kept = jnp.sum(jnp.where(s.block[:, None], S[:, :l] ** 2, 0), axis=0) > 0.5
        block = (rows >= l) | ((rows < l) & jnp.pad(kept, (0, m - l)))
        return s._replace(
            V=V,
            T=T,
            j=jnp.asarray(l, s.j.dtype),
            restarts=s.restarts + 1,
            force=jnp.bool_(True),
            block=block,
        )

    def inner_cond(s):
        return (s.j < m) & ~s.done & (s.matvecs < max_matvecs)

    def outer_cond(s):
        return ~s.done & (s.matvecs < max_matvecs)

    def outer_body(s):
        s = jax.lax.cond(s.j >= m, restart, lambda s: s, s)
        return jax.lax.while_loop(inner_cond, step, s)

    norm0 = jnp.linalg.norm(v0)
    r0 = jnp.where(norm0 > 0, v0, _pseudo_random(n, jnp.zeros((), jnp.int32), dtype))
    int_ = jnp.int32
    s = _State(
        V=jnp.zeros((m, n), dtype),
        T=jnp.zeros((m, m), dtype),
        r=r0,
        rnorm=jnp.linalg.norm(r0),
        beta=jnp.zeros((), dtype),
        j=jnp.zeros((), int_),
        matvecs=jnp.zeros((), int_),
        restarts=jnp.zeros((), int_),
        force=jnp.bool_(False),
        block=jnp.ones((m,), bool),
        done=jnp.bool_(False),
        theta=jnp.zeros((m,), dtype),
        S=jnp.zeros((m, m), dtype),
        est=jnp.zeros((k,), dtype),
        scale=jnp.zeros((), dtype),
    )
    s = jax.lax.while_loop(outer_cond, outer_body, s)
    vectors = s.S[:, :k].T @ s.V
    return LanczosOut(s.theta[:k], vectors, s.est, s.scale, s.matvecs, s.restarts)
