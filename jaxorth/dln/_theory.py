"""Landscape theory of deep linear networks as code.

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

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._model import Weights, check_shapes, criticality_residual, product

CLASSES = ("not_critical", "global_minimum", "strict_saddle", "non_strict_saddle")


class DataSpectrum(NamedTuple):
    """Second-order statistics of ``(X, Y)`` and the eigen-structure of ``Sigma``.

    Attributes
    ----------
    sigma_xx : Float[Array, "d_x d_x"]
    sigma_yx : Float[Array, "d_y d_x"]
    sigma_yy : Float[Array, "d_y d_y"]
    sigma : Float[Array, "d_y d_y"]
        ``S_yx S_xx^{-1} S_xy``.
    eigenvalues : Float[Array, " d_y"]
        ``l_1 > ... > l_{d_y}`` (descending).
    eigenvectors : Float[Array, "d_y d_y"]
        ``U``, columns matching ``eigenvalues``.
    """

    sigma_xx: Array
    sigma_yx: Array
    sigma_yy: Array
    sigma: Array
    eigenvalues: Array
    eigenvectors: Array


def _check_data(X: Array, Y: Array) -> None:
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


def spectrum(X: Array, Y: Array) -> DataSpectrum:
    """Eigen-structure of ``Sigma = S_yx S_xx^{-1} S_xy`` (AMG24, Assumption H).

    Parameters
    ----------
    X : Float[Array, "d_x m"]
        Inputs as columns, ``m >= d_x`` and ``S_xx`` invertible.
    Y : Float[Array, "d_y m"]
        Targets, ``d_y <= d_x``.

    Returns
    -------
    DataSpectrum
    """
    _check_data(X, Y)
    Sxx, Syx, Syy = X @ X.T, Y @ X.T, Y @ Y.T
    Sigma = Syx @ jnp.linalg.solve(Sxx, Syx.T)
    Sigma = 0.5 * (Sigma + Sigma.T)
    lam, U = jnp.linalg.eigh(Sigma)
    return DataSpectrum(Sxx, Syx, Syy, Sigma, lam[::-1], U[:, ::-1])


def _check_subset(S: Sequence[int], dy: int) -> tuple[int, ...]:
    S = tuple(sorted(int(i) for i in S))
    if len(set(S)) != len(S) or any(i < 0 or i >= dy for i in S):
        raise ValueError(f"S must be distinct 0-based eigen-indices in [0, {dy}), got {S}")
    return S


def critical_value(X: Array, Y: Array, S: Sequence[int]) -> Float[Array, ""]:  # noqa: F722
    """Loss at any critical point with eigen-index set ``S``: ``tr(S_yy) - sum_{i in S} l_i``.

    AMG24, Proposition 3 (Baldi & Hornik 1989 for ``H = 2``). ``S`` is 0-based.
    """
    spec = spectrum(X, Y)
    S = _check_subset(S, Y.shape[0])
    idx = jnp.asarray(S, dtype=jnp.int32)
    return jnp.trace(spec.sigma_yy) - jnp.sum(spec.eigenvalues[idx])


def global_minimum_value(X: Array, Y: Array, widths: Sequence[int]) -> Float[Array, ""]:  # noqa: F722
    """Global minimum ``tr(S_yy) - sum_{i <= r_max} l_i``, ``r_max = min(widths)``.

    ``widths`` is ``(d_0, ..., d_H)`` (AMG24, Section 3; Eckart-Young for the product).
    """
    r_max = min(int(d) for d in widths)
    return critical_value(X, Y, range(min(r_max, Y.shape[0])))


def plateau_values(X: Array, Y: Array, widths: Sequence[int]) -> Float[Array, " r"]:  # noqa: F722
    """Critical values ``tr(S_yy) - (l_1 + ... + l_k)`` for ``k = 0..r_max``.

    The plateaus of gradient flow from a small initialisation (Saxe et al. 2014).
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
    dtype: jnp.dtype = jnp.float32,
) -> tuple[Array, Array]:
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
    X : Float[Array, "d_x m"]
    Y : Float[Array, "d_y m"]
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
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    X = rng.standard_normal((d_x, m))
    w, V = np.linalg.eigh(X @ X.T)
    Z = (V / np.sqrt(w)) @ V.T @ X
    U = np.linalg.qr(rng.standard_normal((d_y, d_y)))[0]
    Vx = np.linalg.qr(rng.standard_normal((d_x, d_y)))[0]
    N = rng.standard_normal((d_y, m))
    N = noise * (N - (N @ Z.T) @ Z)
    Y = (U * np.sqrt(lam)) @ Vx.T @ Z + N
    return jnp.asarray(X, dtype), jnp.asarray(Y, dtype)


# --------------------------------------------------------------------------------------
# Construction of critical points
# --------------------------------------------------------------------------------------


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
    X: Array,
    Y: Array,
    widths: Sequence[int],
    S: Sequence[int],
    *,
    ranks: Sequence[int] | None = None,
    cut: int | None = None,
    gauge_spread: float = 0.5,
) -> list[Array]:
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
    X : Float[Array, "d_0 m"]
    Y : Float[Array, "d_H m"]
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
    list of Float[Array, "d_h d_{h-1}"]
        ``[W_1, ..., W_H]`` in ``X.dtype``.

    Raises
    ------
    ValueError
        Bad widths / S / ranks, or ranks this construction cannot reach (checked on the
        result).
    """
    _check_data(X, Y)
    widths = tuple(int(d) for d in widths)
    H = len(widths) - 1
    if H < 2 or widths[0] != X.shape[0] or widths[-1] != Y.shape[0]:
        raise ValueError(
            f"widths must be (d_0=X.shape[0]={X.shape[0]}, ..., d_H=Y.shape[0]={Y.shape[0]}) "
            f"with H >= 2, got {widths}"
        )
    if min(widths) < 1:
        raise ValueError(f"widths must be >= 1, got {widths}")
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
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
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
    lam, U = np.linalg.eigh(Syx @ np.linalg.solve(Sxx, Syx.T))
    U = U[:, ::-1]
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


# --------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------


def _default_rtol(dtype) -> float:
    return float(np.sqrt(np.finfo(dtype).eps))


def _classify_impl(weights, X, Y, rtol: float, xp):
    """Theory-only classification; ``xp`` is ``numpy`` (host) or ``jax.numpy`` (jit)."""
    H = len(weights)
    widths = [X.shape[0]] + [W.shape[0] for W in weights]
    Sxx, Syx = X @ X.T, Y @ X.T
    Sigma = Syx @ xp.linalg.solve(Sxx, Syx.T)
    lam, U = xp.linalg.eigh(0.5 * (Sigma + Sigma.T))
    lam, U = lam[::-1], U[:, ::-1]
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


def classify_code(weights: Weights, X: Array, Y: Array, *, rtol: float | None = None) -> jax.Array:
    """Jittable/vmappable version of :func:`classify`: an index into :data:`CLASSES`.

    Same computation as :func:`classify` in ``jax.numpy`` (in the inputs' dtype).

    Returns
    -------
    Int[Array, ""]
        ``0`` not critical, ``1`` global minimum, ``2`` strict saddle, ``3`` non-strict.
    """
    check_shapes(weights, X, Y)
    rtol = _default_rtol(X.dtype) if rtol is None else float(rtol)
    weights = [jnp.asarray(W) for W in weights]
    return _classify_impl(weights, jnp.asarray(X), jnp.asarray(Y), rtol, jnp)


def classify(weights: Weights, X: Array, Y: Array, *, rtol: float | None = None) -> str:
    """Classify a point of a DLN from the theory alone (no Hessian).

    Parameters
    ----------
    weights : sequence of Float[Array, "d_h d_{h-1}"]
        ``[W_1, ..., W_H]``.
    X : Float[Array, "d_0 m"]
    Y : Float[Array, "d_H m"]
        ``d_H <= d_0 <= m`` and ``Sigma`` with distinct eigenvalues (AMG24, Assumption H).
    rtol : float, optional
        Relative tolerance for the criticality residual and the numerical ranks (default
        ``sqrt(eps)`` of the inputs' dtype). The computation runs on the host in float64
        (no compilation); :func:`classify_code` is the jittable twin.

    Returns
    -------
    str
        ``"not_critical"``, ``"global_minimum"``, ``"strict_saddle"`` or
        ``"non_strict_saddle"`` (AMG24, Theorems 2-4; see the module docstring).
    """
    check_shapes(weights, X, Y)
    _check_data(X, Y)
    rtol = _default_rtol(X.dtype) if rtol is None else float(rtol)
    weights = [np.asarray(W, np.float64) for W in weights]
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    return CLASSES[int(_classify_impl(weights, X, Y, rtol, np))]


def random_critical_points(
    key: PRNGKeyArray,
    X: Array,
    Y: Array,
    widths: Sequence[int],
    num: int,
    *,
    p_leading: float = 0.7,
    p_min_rank: float = 0.5,
    max_tries: int = 20,
) -> tuple[list[Array], list[dict]]:
    """Sample ``num`` critical points of one shape family, stacked along a leading axis.

    Each case draws ``r = |S|`` uniformly in ``[0, r_max]``, ``S`` leading (``{1..r}``)
    with probability ``p_leading`` else a random subset, and each layer rank equal to
    ``r`` with probability ``p_min_rank`` else uniform in ``[r, min(d_h, d_{h-1})]``,
    then calls :func:`critical_point` (re-drawing unreachable rank patterns).

    Returns
    -------
    weights : list of Float[Array, "num d_h d_{h-1}"]
        Stacked ``[W_1, ..., W_H]``, ready for ``jax.vmap``.
    meta : list of dict
        Per case: ``S``, ``ranks``, ``cut``.
    """
    widths = tuple(int(d) for d in widths)
    H = len(widths) - 1
    dy = Y.shape[0]
    r_max = min(widths)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
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
