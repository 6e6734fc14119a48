"""Exact spectrum of circular strided convolutions by polyphase FFT (no dense matrix)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float

from jaxorth._checks import positive_int

from ._conv import _check_kernel, _check_sizes_vs_stride, _check_values, _spatial_sizes
from ._polyphase import polyphase_kernel

__all__ = ["OrthogonalityErrors", "orthogonality_errors", "singular_values", "symbol"]

# Frequencies handled per LAPACK batch when ``batch_size`` is not given: keeps the
# complex stack of one batch near 64 MiB (and at least one matrix).
_TARGET_BATCH_BYTES = 64 * 2**20


class OrthogonalityErrors(NamedTuple):
    """Orthogonality errors of a layer on one input size (Achour et al. 2022, scalability results).

    Attributes
    ----------
    err_F : Float[Array, ""]
        ``||A A^T - I||_F`` (RO, ``M <= C S^d``) or ``||A^T A - I||_F`` (CO).
    err_s : Float[Array, ""]
        The same residual in spectral norm: ``max_i |sigma_i^2 - 1|``.
    isometry_deviation : Float[Array, ""]
        ``max_i |sigma_i - 1|`` over the ``min(M, C S^d) N^d`` singular values.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import orthogonality_errors
    >>> identity = jnp.zeros((2, 2, 3, 3)).at[:, :, 1, 1].set(jnp.eye(2))
    >>> errors = orthogonality_errors(identity, 4)  # the identity layer is orthogonal
    >>> errors._fields, [float(e) for e in errors]
    (('err_F', 'err_s', 'isometry_deviation'), [0.0, 0.0, 0.0])
    """

    err_F: Float[Array, ""]
    err_s: Float[Array, ""]
    isometry_deviation: Float[Array, ""]


def _validate(
    kernel: ArrayLike, input_size: int | np.integer | Sequence[int], stride: int | np.integer
):
    stride = positive_int(stride, "stride")
    shape = np.shape(kernel)
    d = _check_kernel(shape)
    sizes = _spatial_sizes(input_size, d)
    out_sizes = _check_sizes_vs_stride(sizes, stride, "input_size")
    _check_values(kernel, "kernel")
    kernel = jnp.asarray(kernel)
    if not jnp.issubdtype(kernel.dtype, jnp.floating):
        kernel = kernel.astype(jnp.float32)
    return kernel, stride, out_sizes


def _fold(kernel: Array, out_sizes: tuple) -> Array:
    """Sum taps that coincide modulo ``N`` (kernels wider than the polyphase input)."""
    for j, n in enumerate(out_sizes):
        axis = 2 + j
        k = kernel.shape[axis]
        if k > n:
            reps = -(-k // n)
            kernel = jnp.pad(
                kernel, [(0, 0)] * axis + [(0, reps * n - k)] + [(0, 0)] * (kernel.ndim - axis - 1)
            )
            new_shape = kernel.shape[:axis] + (reps, n) + kernel.shape[axis + 1 :]
            kernel = kernel.reshape(new_shape).sum(axis=axis)
    return kernel


def _half_symbol(kernel: Array, stride: int, out_sizes: tuple) -> Array:
    """Polyphase symbol on the rfft half-grid: ``(N_1, ..., N_d // 2 + 1, M, C S^d)``."""
    d = len(out_sizes)
    kp = _fold(polyphase_kernel(kernel, stride), out_sizes)
    axes = tuple(range(2, 2 + d))
    sym = jnp.fft.rfftn(kp, s=out_sizes, axes=axes)
    return jnp.moveaxis(sym, (0, 1), (-2, -1))


def _unfold_half(values: Array, last: int) -> Array:
    """Complete half-grid values (axis ``-2`` = last frequency axis) with the conjugates.

    A real kernel's symbol satisfies ``K^(-f) = conj(K^(f))``: the rfft half-grid holds
    frequencies ``0..N//2`` of the last axis, and those with ``0 < f < N/2`` stand for two.
    """
    extra = values[..., 1 : (last + 1) // 2, :]
    return jnp.concatenate([values, extra], axis=-2)


def _batched(fn, stack: Array, batch_size: int | None) -> Array:
    """``fn`` over the leading axis of ``stack`` (``lax.map`` in batches when large)."""
    count = stack.shape[0]
    if batch_size is None:
        per = max(1, math.prod(stack.shape[1:]) * stack.dtype.itemsize)
        batch_size = max(1, _TARGET_BATCH_BYTES // per)
    if batch_size >= count:
        return fn(stack)
    return lax.map(fn, stack, batch_size=batch_size)


@functools.partial(jax.jit, static_argnames=("stride", "out_sizes", "batch_size"))
def _singular_values(kernel, stride, out_sizes, batch_size):
    sym = _half_symbol(kernel, stride, out_sizes)
    lead = sym.shape[:-2]
    stack = sym.reshape((-1,) + sym.shape[-2:])
    sv = _batched(lambda a: jnp.linalg.svd(a, compute_uv=False), stack, batch_size)
    sv = _unfold_half(sv.reshape(lead + sv.shape[-1:]), out_sizes[-1])
    return -jnp.sort(-sv.reshape(-1))


@functools.partial(jax.jit, static_argnames=("stride", "out_sizes", "batch_size", "method"))
def _errors(kernel, stride, out_sizes, batch_size, method):
    sym = _half_symbol(kernel, stride, out_sizes)
    lead = sym.shape[:-2]
    stack = sym.reshape((-1,) + sym.shape[-2:])
    m, cs = stack.shape[-2:]
    if method == "svd":
        sv = _batched(lambda a: jnp.linalg.svd(a, compute_uv=False), stack, batch_size)
        sq = sv * sv
    else:  # eigenvalues of the smaller Gram matrix: sigma^2 directly

        def gram_eigs(a):
            ah = jnp.conj(jnp.swapaxes(a, -1, -2))
            g = a @ ah if m <= cs else ah @ a
            return jnp.linalg.eigvalsh(g)

        sq = _batched(gram_eigs, stack, batch_size)
        sv = jnp.sqrt(jnp.maximum(sq, 0))
    dev_sq = _unfold_half((sq - 1).reshape(lead + sq.shape[-1:]), out_sizes[-1])
    dev = _unfold_half((sv - 1).reshape(lead + sv.shape[-1:]), out_sizes[-1])
    return OrthogonalityErrors(
        err_F=jnp.sqrt(jnp.sum(dev_sq * dev_sq)),
        err_s=jnp.max(jnp.abs(dev_sq)),
        isometry_deviation=jnp.max(jnp.abs(dev)),
    )


def symbol(
    kernel: Float[ArrayLike, "M C *k"],
    input_size: int | np.integer | Sequence[int],
    stride: int = 1,
) -> Array:
    """The polyphase symbol: the ``N^d`` matrices ``M x C S^d`` that block-diagonalise ``A``.

    ``K^(f) = sum_a K'[:, :, a] exp(-2 i pi <f, a> / N)`` with ``K'`` the polyphase kernel
    (``K'[m, (c, r), a] = K[m, c, S a + r]``, Achour et al. 2022; Sedghi et al.
    ICLR 2019 for ``S = 1``). The layer matrix is unitarily equivalent to
    ``blockdiag_f K^(f)``, so its singular values are those of all the ``K^(f)``.

    Parameters
    ----------
    kernel : Float[Array, "M C k_1 ... k_d"]
        Real kernel.
    input_size : int or sequence of int
        Input spatial size ``S N`` (per axis).
    stride : int
        Stride ``S``.

    Returns
    -------
    Complex[Array, "N_1 ... N_d M CS^d"]
        The full frequency grid (not halved).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import symbol
    >>> symbol(jnp.ones((8, 2, 3, 3)), 8, 2).shape  # N^d matrices of shape (M, C S^d)
    (4, 4, 8, 8)
    """
    kernel, stride, out_sizes = _validate(kernel, input_size, stride)
    d = len(out_sizes)
    kp = _fold(polyphase_kernel(kernel, stride), out_sizes)
    sym = jnp.fft.fftn(kp, s=out_sizes, axes=tuple(range(2, 2 + d)))
    return jnp.moveaxis(sym, (0, 1), (-2, -1))


def singular_values(
    kernel: Float[ArrayLike, "M C *k"],
    input_size: int | np.integer | Sequence[int],
    stride: int | np.integer = 1,
    *,
    batch_size: int | None = None,
) -> Float[Array, " R"]:
    """All singular values of the circular strided convolution layer, without its matrix.

    Sedghi, Gupta, Long (ICLR 2019) for stride 1, extended to stride ``S`` by the polyphase
    decomposition (Achour, Malgouyres, Mamalet 2022): the singular values of the
    ``(M N^d) x (C S^d N^d)`` layer matrix are the union over the ``N^d`` frequencies of
    those of the ``M x C S^d`` matrices of :func:`symbol`. A real kernel's symbol is
    conjugate-symmetric, so only the rfft half-grid is decomposed (about half the work).

    Parameters
    ----------
    kernel : Float[Array, "M C k_1 ... k_d"]
        Real kernel (float32 gives complex64 work, float64 complex128).
    input_size : int or sequence of int
        Spatial size of the *input*, ``n = S N`` per axis (static).
    stride : int
        Stride ``S`` (static), ``S <= n`` and ``S`` divides ``n``.
    batch_size : int, optional
        Frequencies per batched SVD call (default: ~64 MiB of matrices per call).

    Returns
    -------
    Float[Array, " R"]
        The ``R = min(M, C S^d) N^d`` singular values, in decreasing order.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import singular_values
    >>> identity = jnp.zeros((2, 2, 3, 3)).at[:, :, 1, 1].set(jnp.eye(2))
    >>> s = singular_values(identity, 4)  # on 4 x 4 inputs: 2 * 16 singular values
    >>> s.shape, bool(jnp.allclose(s, 1.0))
    ((32,), True)
    """
    kernel, stride, out_sizes = _validate(kernel, input_size, stride)
    return _singular_values(kernel, stride, out_sizes, batch_size)


def orthogonality_errors(
    kernel: Float[ArrayLike, "M C *k"],
    input_size: int | np.integer | Sequence[int],
    stride: int = 1,
    *,
    method: Literal["svd", "gram"] = "svd",
    batch_size: int | None = None,
) -> OrthogonalityErrors:
    """``err_F``, ``err_s`` and the isometry deviation of the layer on one input size.

    Achour, Malgouyres, Mamalet (JMLR 2022), scalability results: with ``A`` the layer matrix on
    inputs of size ``input_size = S N``, ``err_F^N = ||A A^T - I||_F`` and
    ``err_s^N = ||A A^T - I||_2`` in the row-orthogonal case ``M <= C S^d``, and the same
    with ``A^T A`` in the column-orthogonal case. Both are computed from the per-frequency
    ``sigma^2`` (the extra zero eigenvalues of the larger Gram do not count), so
    ``err_F^2 = sum (sigma^2 - 1)^2``, ``err_s = max |sigma^2 - 1|``; also
    ``isometry_deviation = max |sigma - 1|``. For ``N >= 2 floor((k-1)/S) + 1``,
    ``err_F^2 = N^d lorth(K)`` (their L_orth identity).

    Parameters
    ----------
    kernel : Float[Array, "M C k_1 ... k_d"]
        Real kernel.
    input_size : int or sequence of int
        Input spatial size ``S N`` (static).
    stride : int
        Stride ``S`` (static).
    method : {"svd", "gram"}
        ``"svd"`` (default): per-frequency singular values, accurate to machine precision
        for all three numbers. ``"gram"``: eigenvalues of the smaller per-frequency Gram
        matrix, about twice as fast and as accurate for ``err_F`` and ``err_s`` (they are
        functions of ``sigma^2``), but ``sigma = sqrt(eigenvalue)`` then carries an
        absolute error up to ``sqrt(eps) ||A||`` for singular values near 0, which affects
        ``isometry_deviation`` only when some ``sigma`` is close to 0.
    batch_size : int, optional
        Frequencies per batched decomposition call.

    Returns
    -------
    OrthogonalityErrors
        ``(err_F, err_s, isometry_deviation)``, scalars.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import orthogonality_errors
    >>> identity = jnp.zeros((2, 2, 3, 3)).at[:, :, 1, 1].set(jnp.eye(2))
    >>> errors = orthogonality_errors(1.1 * identity, 4)
    >>> round(float(errors.err_s), 4)  # sigma = 1.1 everywhere: |1.1^2 - 1|
    0.21
    """
    if method not in ("gram", "svd"):
        raise ValueError(f"method must be 'svd' or 'gram', got {method!r}")
    kernel, stride, out_sizes = _validate(kernel, input_size, stride)
    return _errors(kernel, stride, out_sizes, batch_size, method)
