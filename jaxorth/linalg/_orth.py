"""Matrix orthogonalisation: Bjorck iterations, Cayley transform, exponential of a skew matrix.

These maps turn an unconstrained parameter into an orthogonal (or orthonormal-rows /
orthonormal-columns) matrix. They are the building blocks of the exact orthogonal
convolution layers (:mod:`jaxorth.orthconv`) and of the orthogonal RNN cells.

All functions accept leading batch dimensions: ``w`` of shape ``(..., m, n)``.
Inputs must be real floating-point arrays, checked always, and finite (no NaN or inf),
checked before compute when the values are concrete; under ``jit`` / ``vmap`` / ``grad``
that check is skipped and a non-finite input gives a non-finite output (the library's
NaN policy, :mod:`jaxorth._checks`).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.scipy.linalg import expm
from jaxtyping import Array, Float

from jaxorth._checks import finite, int_at_least

__all__ = ["bjorck", "cayley", "expm_skew", "skew", "skew_expm"]


def _check_matrix(name: str, w: Array, square: bool = False) -> None:
    if w.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (..., m, n), got shape {w.shape}")
    if square and w.shape[-1] != w.shape[-2]:
        raise ValueError(f"{name} must be square in its last two dimensions, got shape {w.shape}")
    if not jnp.issubdtype(w.dtype, jnp.floating):
        raise ValueError(f"{name} must be a floating-point array, got dtype {w.dtype}")
    finite(w, name)


def _mT(x: Array) -> Array:
    return jnp.swapaxes(x, -1, -2)


def _bjorck_coefficients(order: int) -> tuple[float, ...]:
    # Taylor coefficients of (1 - x)^(-1/2) = sum_j binom(2j, j) / 4^j x^j.
    return tuple(math.comb(2 * j, j) / 4.0**j for j in range(order + 1))


def bjorck(
    w: Float[Array, "*batch m n"], n_iter: int = 25, order: int = 1
) -> Float[Array, "*batch m n"]:
    r"""Orthonormalise a matrix by Bjorck-Bowie iterations (the orthogonal polar factor).

    With ``A = W^T W`` (the smaller Gram matrix is used), each iteration is

    .. math:: W \leftarrow W \sum_{j=0}^{p} \binom{2j}{j} 4^{-j} (I - W^T W)^j,

    the order-``p`` truncation of ``W (W^T W)^{-1/2}`` (Bjorck and Bowie, SIAM J. Numer.
    Anal. 8(2), 1971, eq. (2.3); ``order=1`` is ``W <- 1.5 W - 0.5 W W^T W``, the form
    used by Anil et al. 2019 and by QORNN, Foucault et al. 2024). The iterations keep the
    singular vectors of ``W`` and drive each singular value to 1, so the limit is the
    orthogonal polar factor ``U V^T`` of the thin SVD ``W = U S V^T``
    (:func:`scipy.linalg.polar`).

    Before iterating, ``W`` is divided by ``||W^T W||_F^{1/2} >= ||W||_2``, which puts
    every singular value in ``(0, 1]``, where every order converges monotonically
    (a singular value ``s`` grows by the factor ``sum_j c_j`` while small, then converges
    with order ``p + 1``). With the defaults, singular values down to about ``1e-3`` times
    the largest one converge to machine precision: the result is orthonormal to
    rounding error. A rank-deficient ``w`` has no orthonormal polar factor; its null
    directions stay null.

    Parameters
    ----------
    w : Float[Array, "*batch m n"]
        Matrix (or batch of matrices) to orthonormalise.
    n_iter : int
        Number of iterations (static), ``>= 0``.
    order : int
        Truncation order ``p >= 1`` of the series of ``(W^T W)^{-1/2}``.

    Returns
    -------
    Float[Array, "*batch m n"]
        Same shape and dtype as ``w``: orthonormal rows if ``m <= n`` (``Q Q^T = I_m``),
        orthonormal columns if ``m >= n`` (``Q^T Q = I_n``).

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.linalg import bjorck
    >>> w = jnp.eye(3) + 0.1 * jax.random.normal(jax.random.key(0), (3, 3))
    >>> q = bjorck(w)
    >>> bool(jnp.allclose(q @ q.T, jnp.eye(3), atol=1e-5))
    True
    """
    w = jnp.asarray(w)
    _check_matrix("w", w)
    n_iter = int_at_least(n_iter, "n_iter", 0)
    order = int_at_least(order, "order", 1)
    return _bjorck(w, n_iter, order)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _bjorck(w: Array, n_iter: int, order: int) -> Array:
    with jax.default_matmul_precision("float32"):  # no TF32/bf16 passes on accelerators
        return _bjorck_body(w, n_iter, order)


def _bjorck_body(w: Array, n_iter: int, order: int) -> Array:
    wide = w.shape[-2] < w.shape[-1]
    x = _mT(w) if wide else w  # tall: (..., m, n) with m >= n; Gram is n x n
    n = x.shape[-1]
    eye = jnp.broadcast_to(jnp.eye(n, dtype=x.dtype), x.shape[:-2] + (n, n))
    coeffs = _bjorck_coefficients(order)

    gram = _mT(x) @ x
    fro = jnp.sqrt(jnp.sum(gram * gram, axis=(-2, -1), keepdims=True))
    tiny = jnp.asarray(jnp.finfo(x.dtype).tiny, x.dtype)
    x = x / jnp.sqrt(jnp.maximum(fro, tiny))

    def step(_, x):
        d = eye - _mT(x) @ x
        poly = coeffs[-1] * eye
        for c in reversed(coeffs[:-1]):  # Horner: c_0 + d (c_1 + d (...))
            poly = c * eye + d @ poly
        return x @ poly

    # unrolled on accelerators (no per-iteration loop control), a compact loop on CPU
    unroll = jax.default_backend() != "cpu"
    x = jax.lax.fori_loop(0, n_iter, step, x, unroll=unroll)
    return _mT(x) if wide else x


def _skew_part(a: Array) -> Array:
    return 0.5 * (a - _mT(a))


def skew(a: Float[Array, "*batch n n"]) -> Float[Array, "*batch n n"]:
    r"""Skew-symmetric part of a square matrix: :math:`(a - a^T) / 2`.

    The orthogonal projection (in Frobenius norm) of ``a`` onto the skew-symmetric
    matrices, the Lie algebra of O(n); :func:`skew_expm` and :func:`cayley` map it to
    an orthogonal matrix.

    Parameters
    ----------
    a : Float[Array, "*batch n n"]
        Square matrix (or batch).

    Returns
    -------
    Float[Array, "*batch n n"]
        Skew-symmetric (``S^T = -S``), same shape and dtype as ``a``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.linalg import skew
    >>> skew(jnp.array([[1.0, 2.0], [0.0, 1.0]])).tolist()
    [[0.0, 1.0], [-1.0, 0.0]]
    """
    a = jnp.asarray(a)
    _check_matrix("a", a, square=True)
    return _skew_part(a)


def cayley(a: Float[Array, "*batch n n"]) -> Float[Array, "*batch n n"]:
    r"""Cayley transform of a skew-symmetric matrix: an orthogonal matrix.

    .. math:: Q = (I + A)^{-1} (I - A), \qquad A = (a - a^T) / 2.

    Only the skew-symmetric part of ``a`` is used, so any square ``a`` is a valid
    unconstrained parameter; for a skew ``a`` this is the classical Cayley transform
    (Cayley 1846; used for orthogonal RNNs by Helfrich et al. 2018, scoRNN, and for
    orthogonal layers by Trockman and Kolter 2021). ``I + A`` is always invertible
    (its eigenvalues are ``1 + i t``), and ``Q`` is orthogonal with determinant ``+1``
    and no eigenvalue ``-1``.

    Parameters
    ----------
    a : Float[Array, "*batch n n"]
        Square matrix (or batch); its skew-symmetric part is transformed.

    Returns
    -------
    Float[Array, "*batch n n"]
        Orthogonal matrix, same shape and dtype as ``a``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.linalg import cayley
    >>> q = cayley(jax.random.normal(jax.random.key(0), (4, 4)))  # of the skew part
    >>> bool(jnp.allclose(q.T @ q, jnp.eye(4), atol=1e-5))
    True
    """
    a = jnp.asarray(a)
    _check_matrix("a", a, square=True)
    return _cayley(a)


@jax.jit
def _cayley(a: Array) -> Array:
    s = _skew_part(a)
    eye = jnp.broadcast_to(jnp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    with jax.default_matmul_precision("float32"):
        return jnp.linalg.solve(eye + s, eye - s)


def skew_expm(a: Float[Array, "*batch n n"]) -> Float[Array, "*batch n n"]:
    r"""Matrix exponential of a skew-symmetric matrix: an orthogonal matrix.

    .. math:: Q = \exp(A), \qquad A = (a - a^T) / 2.

    Only the skew-symmetric part of ``a`` is used (so any square ``a`` is a valid
    unconstrained parameter); ``exp`` maps the skew matrices onto the special orthogonal
    group (expRNN, Lezcano-Casado and Martinez-Rubio, ICML 2019, eq. (3)). Computed by
    :func:`jax.scipy.linalg.expm` (scaling and squaring with a Pade approximant).

    Parameters
    ----------
    a : Float[Array, "*batch n n"]
        Square matrix (or batch); its skew-symmetric part is exponentiated.

    Returns
    -------
    Float[Array, "*batch n n"]
        Orthogonal matrix with determinant ``+1``, same shape and dtype as ``a``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.linalg import skew_expm
    >>> a = jnp.array([[0.0, -jnp.pi / 2], [jnp.pi / 2, 0.0]])  # a quarter turn
    >>> skew_expm(a).round(4).tolist()
    [[0.0, -1.0], [1.0, 0.0]]
    """
    a = jnp.asarray(a)
    _check_matrix("a", a, square=True)
    return _skew_expm(a)


@jax.jit
def _skew_expm(a: Array) -> Array:
    with jax.default_matmul_precision("float32"):
        return expm(_skew_part(a))


#: Another name of :func:`skew_expm`.
expm_skew = skew_expm
