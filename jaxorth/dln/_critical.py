"""Construction of DLN critical points with a prescribed eigen-index set and layer ranks.

The canonical form of AMG24 (Achour, Malgouyres & Gerchinovitz, JMLR 2024, Section 3),
hidden behind random invertible gauges; see :func:`critical_point`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray

from jaxorth._checks import positive_int
from jaxorth._random import numpy_rng

from ._data import _check_data, _check_subset, _sigma_eigh


def _null(A: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """Orthonormal basis (columns) of ker A."""
    if A.shape[1] == 0:
        return np.zeros((0, 0))
    if A.shape[0] == 0:
        return np.eye(A.shape[1])
    _, s, Vt = np.linalg.svd(A)
    rank = int(np.sum(s > tol * max(1.0, s[0] if s.size else 0.0)))
    return Vt[rank:].T


def _lowrank(rng, m: int, n: int, k: int) -> np.ndarray:
    return rng.standard_normal((m, k)) @ rng.standard_normal((k, n)) / np.sqrt(max(k, 1))


def _gauge(rng, d: int, spread: float) -> np.ndarray:
    q1 = np.linalg.qr(rng.standard_normal((d, d)))[0]
    q2 = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (q1 * np.exp(rng.uniform(-spread, spread, d))) @ q2


def _constrained_factor(rng, rho, chain, F, n_out):
    """``C = L M`` of rank ``rho`` (``n_rows x n_out``) with ``chain @ C @ F^T = 0``.

    Columns of ``L`` in ``ker(chain)`` carry free rows of ``M``; the others carry rows of
    ``M`` in ``ker(F)``.
    """
    n_rows = chain.shape[1]
    K = _null(chain)
    kF = _null(F)
    k1 = min(rho, K.shape[1])
    k2 = rho - k1
    L = np.concatenate(
        [K @ rng.standard_normal((K.shape[1], k1)), rng.standard_normal((n_rows, k2))], axis=1
    )
    M = np.concatenate(
        [rng.standard_normal((k1, n_out)), rng.standard_normal((k2, kF.shape[1])) @ kF.T], axis=0
    )
    return L @ M


def critical_point(
    key: PRNGKeyArray,
    X: ArrayLike,
    Y: ArrayLike,
    widths: Sequence[int],
    S: Sequence[int],
    *,
    ranks: Sequence[int] | None = None,
    cut: int | None = None,
    gauge_spread: float = 0.5,
) -> list[ArrayLike]:
    """Construct a critical point with eigen-index set ``S`` and prescribed layer ranks.

    Canonical form (AMG24, Section 3): hidden coordinates split into a signal block of
    size ``r = |S|`` and an extra block. ``W_1 = [[A], [C]]`` with
    ``A = U_S^T S_yx S_xx^{-1}``, ``W_h = diag(I_r, B_h)``, ``W_H = [U_S, D]``, so
    ``P = U_S A`` when the extra chain ``D B_{H-1} ... B_2 C`` vanishes. The chain is cut
    at layer ``cut`` (its extra block is zero, so ``rank W_cut = r``) and the blocks on
    one side of the cut are chosen in the kernel of the single remaining criticality
    condition ``T_c^T (I - U_S U_S^T) S_yx Z_{c-1}^T = 0``. Finally random invertible
    gauges ``W_h <- G_h W_h G_{h-1}^{-1}`` (condition numbers ``<= e^{4 spread}``) hide
    the block structure without changing ``P``, criticality or the Hessian's inertia.

    Parameters
    ----------
    key : PRNGKeyArray
    X : Float[ArrayLike, "d_0 m"]
    Y : Float[ArrayLike, "d_H m"]
    widths : sequence of int
        ``(d_0, ..., d_H)`` with ``d_0 = X.shape[0]``, ``d_H = Y.shape[0]``, ``H >= 2``.
    S : sequence of int
        0-based eigen-indices, ``|S| <= r_max = min(widths)``.
    ranks : sequence of int, optional
        ``rank W_h`` for ``h = 1..H``, each in ``[|S|, min(d_h, d_{h-1})]``, at least one
        equal to ``|S|`` (default: all ``|S|``).
    cut : int, optional
        1-based layer with ``ranks[cut-1] == |S|`` where the extra chain is cut (default:
        a random such layer).
    gauge_spread : float
        Log-singular values of the gauges are uniform in ``[-spread, spread]``.

    Returns
    -------
    list of Float[ArrayLike, "d_h d_{h-1}"]
        ``[W_1, ..., W_H]`` in ``X.dtype``.

    Raises
    ------
    ValueError
        Bad widths / S / ranks, or ranks this construction cannot reach (checked on the
        result).

    Examples
    --------
    >>> import jax
    >>> from jaxorth import dln
    >>> X, Y = dln.make_data(jax.random.key(0), 3, 2, 20, eigenvalues=[4.0, 1.0])
    >>> W = dln.critical_point(jax.random.key(1), X, Y, [3, 2, 2], [1])  # S = {2}: a saddle
    >>> [w.shape for w in W]
    [(2, 3), (2, 2)]
    >>> dln.classify(W, X, Y)
    'strict_saddle'
    """
    _check_data(X, Y)
    widths = tuple(int(d) for d in widths)
    H = len(widths) - 1
    if H < 2 or widths[0] != X.shape[0] or widths[-1] != Y.shape[0]:
        raise ValueError(
            f"widths must be (d_0=X.shape[0]={X.shape[0]}, ..., d_H=Y.shape[0]={Y.shape[0]}) "
            f"with H >= 2, got {widths}"
        )
    for i, d in enumerate(widths):
        positive_int(d, f"widths[{i}]")
    dy = Y.shape[0]
    S = _check_subset(S, dy)
    r = len(S)
    r_max = min(widths)
    if r > r_max:
        raise ValueError(f"|S|={r} exceeds r_max=min(widths)={r_max}")
    ranks = (r,) * H if ranks is None else tuple(int(k) for k in ranks)
    if len(ranks) != H:
        raise ValueError(f"ranks must have H={H} entries, got {len(ranks)}")
    for h, k in enumerate(ranks, start=1):
        if not r <= k <= min(widths[h], widths[h - 1]):
            raise ValueError(
                f"ranks[{h - 1}]={k} must lie in [|S|={r}, min(d_{h}, d_{h - 1})="
                f"{min(widths[h], widths[h - 1])}]"
            )
    rng = numpy_rng(key)
    cuts = [h for h in range(1, H + 1) if ranks[h - 1] == r]
    if not cuts:
        raise ValueError(f"at least one layer must have rank |S|={r} (the cut), got {ranks}")
    if cut is None:
        cut = int(rng.choice(cuts))
    elif cut not in cuts:
        raise ValueError(f"cut={cut} must be a 1-based layer with rank |S|={r}; options {cuts}")

    Xn = np.asarray(X, np.float64)
    Yn = np.asarray(Y, np.float64)
    Sxx, Syx = Xn @ Xn.T, Yn @ Xn.T
    _, _, U = _sigma_eigh(Sxx, Syx, np)
    US = U[:, list(S)]
    A = US.T @ Syx @ np.linalg.inv(Sxx)
    G = (np.eye(dy) - US @ US.T) @ Syx
    rho = [k - r for k in ranks]
    e = [widths[0]] + [d - r for d in widths[1:-1]] + [dy]  # extra-space dims, e[0]=d_x

    # extra blocks: blocks[h-1] maps extra space h-1 -> h (C = blocks[0], D = blocks[-1])
    blocks: list[np.ndarray | None] = [None] * H
    blocks[cut - 1] = np.zeros((e[cut], e[cut - 1]))
    for h in range(1, H + 1):
        if h == cut or (h == 1 and cut > 1) or (h == H and cut == 1):
            continue
        blocks[h - 1] = _lowrank(rng, e[h], e[h - 1], rho[h - 1])

    def chain(lo: int, hi: int, dim: int) -> np.ndarray:  # blocks hi..lo product
        out = np.eye(dim)
        for h in range(lo, hi + 1):
            out = blocks[h - 1] @ out
        return out

    if cut > 1:
        # output side is set; T_c = D B_{H-1} ... B_{c+1} (identity when cut == H)
        T = chain(cut + 1, H, e[cut])
        F = T.T @ G  # (e_c, d_x)
        Bch = chain(2, cut - 1, e[1])  # B_{c-1:2}, (e_{c-1}, e_1)
        blocks[0] = _constrained_factor(rng, rho[0], Bch, F, e[0])
    else:
        # C = 0; D B_{H-1:2} must satisfy G^T D B_{H-1:2} = 0, i.e. the transpose problem
        Bch = chain(2, H - 1, e[1]) if H > 1 else np.eye(e[0])
        blocks[-1] = _constrained_factor(rng, rho[-1], Bch.T, G.T, dy).T

    Ws: list[np.ndarray] = []
    for h in range(1, H + 1):
        Bk = blocks[h - 1]
        if h == 1:
            W = np.concatenate([A, Bk], axis=0)
        elif h == H:
            W = np.concatenate([US, Bk], axis=1)
        else:
            W = np.zeros((widths[h], widths[h - 1]))
            W[:r, :r] = np.eye(r)
            W[r:, r:] = Bk
        Ws.append(W)
    gauges = [np.eye(widths[0])]
    gauges += [_gauge(rng, d, gauge_spread) for d in widths[1:-1]] + [np.eye(dy)]
    Ws = [gauges[h] @ W @ np.linalg.inv(gauges[h - 1]) for h, W in enumerate(Ws, start=1)]

    got = tuple(int(np.linalg.matrix_rank(W, tol=1e-9 * max(1.0, np.abs(W).max()))) for W in Ws)
    if got != ranks:
        raise ValueError(
            f"ranks {ranks} are not reachable by this construction for widths={widths}, "
            f"S={S}, cut={cut} (got {got})"
        )
    return [jnp.asarray(W, X.dtype) for W in Ws]
