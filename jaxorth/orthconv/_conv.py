"""Circular strided convolutions, their exact adjoint and their dense matrix.

Conventions (shared by the whole :mod:`jaxorth.orthconv` package)
------------------------------------------------------------------
Inputs are channels-first, ``x: (B, C, n_1, ..., n_d)``; kernels are
``(M out, C in, k_1, ..., k_d)``; the stride ``S`` is the same on every spatial axis and
divides every ``n_j``; the output is ``(B, M, N_1, ..., N_d)`` with ``N_j = n_j / S``.
Padding is circular, and the tap convention is (per spatial axis, indices mod ``n_j``)::

    y[b, m, i] = sum_{c, a} K[m, c, a] * x[b, c, (S*i + a - p) mod n],   p = (k - 1) // 2

i.e. a cross-correlation (no kernel flip) whose tap ``a = p`` is the "centre" (odd ``k``:
the true centre, even ``k``: the left one of the two middle taps, the same choice as
PyTorch's ``padding="same"``). The offset ``p`` only permutes the input coordinates, so it
changes neither singular values nor orthogonality (Achour, Malgouyres, Mamalet 2022,
notation of the paper).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float

from jaxorth._checks import finite, positive_int, real

__all__ = ["conv", "conv_transpose", "conv_matrix"]


# ----------------------------------------------------------------------------- checks
def _check_values(value: Any, name: str, *, real_only: bool = True) -> None:
    """Reject a complex ``value`` (also under jit) and, when concrete, a non-finite one.

    The library's NaN policy (:func:`jaxorth._checks.finite`); ``real_only=False`` for
    operands, which may be complex.
    """
    if real_only:
        real(value, name)
    finite(value, name)


def _check_kernel(kernel_shape: Sequence[int], name: str = "kernel") -> int:
    """Return d, the number of spatial axes, after checking the kernel's shape."""
    if len(kernel_shape) < 3:
        raise ValueError(
            f"{name} must have shape (M, C, k_1, ..., k_d) with d >= 1, "
            f"got shape {tuple(kernel_shape)}"
        )
    if any(s < 1 for s in kernel_shape):
        raise ValueError(f"{name} has an empty axis: shape {tuple(kernel_shape)}")
    return len(kernel_shape) - 2


def _check_operand(
    name: str,
    shape: Sequence[int],
    kernel_shape: Sequence[int],
    letters: tuple[str, str],
    kernel_axis: int,
    kernel_says: str,
) -> None:
    """Check an input (``x``) or output (``y``) operand's rank and channels against a kernel.

    ``letters``: the channel and size letters of the operand (``("C", "n")``, ``("M", "N")``);
    ``kernel_axis``: the kernel axis its channels must match; ``kernel_says``: the end of
    the mismatch sentence, formatted with that kernel dimension.
    """
    d = _check_kernel(kernel_shape)
    channel, size = letters
    if len(shape) != d + 2:
        raise ValueError(
            f"{name} must have shape (B, {channel}, {size}_1, ..., {size}_{d}) to match a "
            f"kernel with {d} spatial axes {tuple(kernel_shape)}, got {name}.shape={tuple(shape)}"
        )
    if shape[1] != kernel_shape[kernel_axis]:
        raise ValueError(
            f"channel mismatch: {name} has {channel}={shape[1]} channels (axis 1) but the "
            f"kernel {kernel_says.format(kernel_shape[kernel_axis])} "
            f"(kernel.shape={tuple(kernel_shape)})"
        )


def _spatial_sizes(
    input_size: int | np.integer | Sequence[int], d: int, name: str = "input_size"
) -> tuple:
    if isinstance(input_size, int | np.integer) and not isinstance(input_size, bool):
        sizes = (int(input_size),) * d
    else:
        try:
            sizes = tuple(int(s) for s in input_size)  # type: ignore[union-attr]
        except TypeError:
            raise ValueError(
                f"{name} must be an int or a sequence of {d} ints, got {input_size!r}"
            ) from None
        if len(sizes) != d:
            raise ValueError(
                f"{name} must have one entry per spatial axis of the kernel (d={d}), "
                f"got {input_size!r}"
            )
    if any(s < 1 for s in sizes):
        raise ValueError(f"{name} must be positive, got {sizes}")
    return sizes


def _check_sizes_vs_stride(sizes: Sequence[int], stride: int, name: str) -> tuple:
    """Check that the stride fits the (input) spatial sizes; return the output sizes."""
    for j, n in enumerate(sizes):
        if stride > n:
            raise ValueError(
                f"stride={stride} is larger than the input's spatial size {n} "
                f"({name}, axis {j}): need stride <= input size"
            )
        if n % stride:
            raise ValueError(
                f"{name}: spatial size {n} (axis {j}) is not a multiple of stride={stride}; "
                f"circular strided convolutions need input size = stride * N"
            )
    return tuple(n // stride for n in sizes)


def _offsets(kernel_sizes: Sequence[int]) -> tuple:
    """The tap offset ``p = (k - 1) // 2`` of each spatial axis."""
    return tuple((k - 1) // 2 for k in kernel_sizes)


# ----------------------------------------------------------------------------- helpers
def _periodic_slice(x: Array, axis: int, start: int, length: int) -> Array:
    """``x`` seen as periodic along ``axis``, restricted to ``[start, start + length)``.

    Built from contiguous slices and one concatenation (no gather), so it is cheap and its
    transpose (for gradients) is cheap too.
    """
    n = x.shape[axis]
    if start == 0 and length == n:
        return x
    pieces = []
    pos, end = start, start + length
    while pos < end:
        lo = pos % n
        take = min(n - lo, end - pos)
        pieces.append(lax.slice_in_dim(x, lo, lo + take, axis=axis))
        pos += take
    return pieces[0] if len(pieces) == 1 else jnp.concatenate(pieces, axis=axis)


def _common_dtype(*arrays: ArrayLike):
    dtype = jnp.result_type(*arrays)
    if not jnp.issubdtype(dtype, jnp.inexact):
        dtype = jnp.result_type(dtype, jnp.float32)
    return dtype


# ----------------------------------------------------------------------------- public
def conv(
    x: Float[ArrayLike, "B C *n"],
    kernel: Float[ArrayLike, "M C *k"],
    stride: int = 1,
    *,
    precision: lax.PrecisionLike = None,
) -> Float[Array, "B M *N"]:
    """Circular strided convolution (cross-correlation) in any dimension ``d``.

    ``y[b, m, i] = sum_{c, a} K[m, c, a] x[b, c, (S i + a - p) mod (S N)]`` per spatial
    axis, with ``p = (k - 1) // 2`` (the setting of Achour, Malgouyres, Mamalet 2022: the
    layer matrix has shape ``(M N^d, C S^d N^d)``).

    Parameters
    ----------
    x : Float[Array, "B C n_1 ... n_d"]
        Channels-first input; every ``n_j`` is a multiple of ``stride``.
    kernel : Float[Array, "M C k_1 ... k_d"]
        Kernel. ``k_j`` may exceed ``n_j`` (the taps then wrap around).
    stride : int
        Stride ``S`` on every spatial axis, ``1 <= S <= n_j``.
    precision : jax.lax.PrecisionLike
        Passed to :func:`jax.lax.conv_general_dilated` (use ``"highest"`` on accelerators
        with reduced-precision default matmuls when exactness matters).

    Returns
    -------
    Float[Array, "B M N_1 ... N_d"]
        ``N_j = n_j / S``.

    Raises
    ------
    ValueError
        If the ranks or channel counts of ``x`` and ``kernel`` do not match, or a spatial
        size is smaller than, or not a multiple of, the stride; if ``kernel`` is complex;
        if ``x`` or ``kernel`` holds a NaN or inf (checked when the values are concrete,
        not under ``jit``).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import conv
    >>> x = jnp.arange(8.0).reshape(1, 1, 8)
    >>> shift = jnp.array([[[0.0, 0.0, 1.0]]])  # 1-D kernel (1, 1, 3): reads x[i + 1]
    >>> conv(x, shift)[0, 0].tolist()  # circular padding: the last output wraps around
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.0]
    """
    stride = positive_int(stride, "stride")
    x_shape = np.shape(x)
    _check_operand("x", x_shape, np.shape(kernel), ("C", "n"), 1, "expects C={}")
    _check_sizes_vs_stride(tuple(x_shape[2:]), stride, "x")
    _check_values(kernel, "kernel")
    _check_values(x, "x", real_only=False)
    dtype = _common_dtype(x, kernel)
    return _conv(jnp.asarray(x, dtype), jnp.asarray(kernel, dtype), stride, precision)


def _conv_layout(
    x: Float[ArrayLike, "B ..."],
    kernel: Float[ArrayLike, "M C *k"],
    stride: int,
    channels_last: bool,
    name: str,
    precision: lax.PrecisionLike = None,
) -> Float[Array, "B ..."]:
    """:func:`conv` with the channels of ``x`` and of the output first or last.

    ``channels_last=True``: ``x`` is ``(B, n_1, ..., n_d, C)`` and the output
    ``(B, N_1, ..., N_d, M)``, with the same numbers as :func:`conv` on the transposed
    input (the kernel stays ``(M, C, k_1, ..., k_d)``); XLA runs it with the matching
    dimension numbers, no transposes. ``name`` (the caller's name) prefixes the messages.
    """
    if not channels_last:
        return conv(x, kernel, stride, precision=precision)
    stride = positive_int(stride, "stride")
    x_shape, k_shape = np.shape(x), np.shape(kernel)
    d = _check_kernel(k_shape)
    if len(x_shape) != d + 2 or x_shape[-1] != k_shape[1]:
        raise ValueError(
            f"{name} with channels_last=True expects x of shape (B, n_1, ..., n_{d}, "
            f"C={k_shape[1]}) (channels last, C on the last axis), got x.shape={tuple(x_shape)}"
        )
    _check_sizes_vs_stride(tuple(x_shape[1:-1]), stride, "x")
    _check_values(kernel, "kernel")
    _check_values(x, "x", real_only=False)
    dtype = _common_dtype(x, kernel)
    return _conv(jnp.asarray(x, dtype), jnp.asarray(kernel, dtype), stride, precision, True)


@functools.partial(jax.jit, static_argnames=("stride", "precision", "channels_last"))
def _conv(
    x: Array,
    kernel: Array,
    stride: int,
    precision: lax.PrecisionLike,
    channels_last: bool = False,
) -> Array:
    d = kernel.ndim - 2
    ks = kernel.shape[2:]
    first = 1 if channels_last else 2  # the first spatial axis of x
    out_sizes = tuple(n // stride for n in x.shape[first : first + d])
    # Circular pre-padding, one sample wider on each side than needed, trimmed again by a
    # padding of -1: the same numbers as a 'VALID' convolution, but XLA:CPU runs a
    # stride-1 convolution with zero padding (0, 0) on a ~4x slower path.
    for j, (k, p, big_n) in enumerate(zip(ks, _offsets(ks), out_sizes)):
        x = _periodic_slice(x, first + j, -p - 1, stride * (big_n - 1) + k + 2)
    spatial = tuple(range(first, first + d))
    io_spec = (0, d + 1) + spatial if channels_last else (0, 1) + spatial
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=(stride,) * d,
        padding=[(-1, -1)] * d,
        dimension_numbers=lax.ConvDimensionNumbers(
            lhs_spec=io_spec, rhs_spec=tuple(range(d + 2)), out_spec=io_spec
        ),
        precision=precision,
    )


def conv_transpose(
    y: Float[ArrayLike, "B M *N"],
    kernel: Float[ArrayLike, "M C *k"],
    stride: int = 1,
    *,
    precision: lax.PrecisionLike = None,
) -> Float[Array, "B C *n"]:
    """Exact adjoint of :func:`conv`: ``<conv(x, K, S), y> = <x, conv_transpose(y, K, S)>``.

    ``x[b, c, j] = sum_{m, i, a : S i + a - p = j (mod S N)} K[m, c, a] y[b, m, i]``; it is
    the layer matrix transposed, ``A^T`` (so ``conv_transpose(conv(x))`` is ``A^T A x``).

    Parameters
    ----------
    y : Float[Array, "B M N_1 ... N_d"]
        Channels-first output-space array.
    kernel : Float[Array, "M C k_1 ... k_d"]
        The kernel of the forward convolution.
    stride : int
        Stride ``S`` of the forward convolution.
    precision : jax.lax.PrecisionLike
        Passed to :func:`jax.lax.conv_general_dilated`.

    Returns
    -------
    Float[Array, "B C n_1 ... n_d"]
        ``n_j = S N_j``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import conv, conv_transpose
    >>> k = jax.random.normal(jax.random.key(0), (2, 3, 3, 3))
    >>> x = jax.random.normal(jax.random.key(1), (1, 3, 4, 4))
    >>> y = jax.random.normal(jax.random.key(2), (1, 2, 4, 4))
    >>> bool(jnp.allclose(jnp.vdot(conv(x, k), y), jnp.vdot(x, conv_transpose(y, k)), rtol=1e-4))
    True
    """
    stride = positive_int(stride, "stride")
    _check_operand("y", np.shape(y), np.shape(kernel), ("M", "N"), 0, "has M={} output channels")
    _check_values(kernel, "kernel")
    _check_values(y, "y", real_only=False)
    dtype = _common_dtype(y, kernel)
    return _conv_transpose(jnp.asarray(y, dtype), jnp.asarray(kernel, dtype), stride, precision)


@functools.partial(jax.jit, static_argnames=("stride", "precision"))
def _conv_transpose(y: Array, kernel: Array, stride: int, precision: lax.PrecisionLike) -> Array:
    # The transpose of the linear map x -> conv(x): XLA's transposed convolution (padded,
    # lhs-dilated by S) followed by the transpose of the circular padding (the wrapped
    # borders are added back). Exact adjoint by construction, and the fastest variant
    # measured on CPU (an explicit flipped-kernel convolution was 1.5-5x slower).
    x_shape = y.shape[:1] + kernel.shape[1:2] + tuple(stride * n for n in y.shape[2:])
    spec = jax.ShapeDtypeStruct(x_shape, y.dtype)
    (x,) = jax.linear_transpose(lambda z: _conv(z, kernel, stride, precision), spec)(y)
    return x


def conv_matrix(
    kernel: Float[ArrayLike, "M C *k"],
    input_size: int | np.integer | Sequence[int],
    stride: int = 1,
) -> np.ndarray:
    """The dense layer matrix of :func:`conv` (numpy float64; for tests and small checks).

    Rows are indexed by ``(m, i_1, ..., i_d)`` and columns by ``(c, j_1, ..., j_d)``, both
    in C (row-major) order, so that for one input ``x`` of shape ``(C, n_1, ..., n_d)``::

        conv(x[None], K, S)[0].ravel() == conv_matrix(K, n, S) @ x.ravel()

    Parameters
    ----------
    kernel : Float[Array, "M C k_1 ... k_d"]
        Kernel (converted to float64).
    input_size : int or sequence of int
        Input spatial size ``n = S N`` (an int applies to every axis).
    stride : int
        Stride ``S``.

    Returns
    -------
    numpy.ndarray
        Shape ``(M prod(N_j), C prod(n_j))``, float64 (Achour et al. 2022's layer matrix).

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.orthconv import conv_matrix
    >>> A = conv_matrix(np.ones((1, 1, 3)), 4)  # 1-D, input size 4
    >>> A.shape
    (4, 4)
    >>> A.sum(axis=1).tolist()  # every output sums three inputs
    [3.0, 3.0, 3.0, 3.0]
    """
    stride = positive_int(stride, "stride")
    _check_values(kernel, "kernel")
    kernel = np.asarray(kernel, dtype=np.float64)
    d = _check_kernel(kernel.shape)
    sizes = _spatial_sizes(input_size, d)
    out_sizes = _check_sizes_vs_stride(sizes, stride, "input_size")
    n_rows = kernel.shape[0] * math.prod(out_sizes)
    n_cols = kernel.shape[1] * math.prod(sizes)
    if n_rows * n_cols > 2**28:
        raise ValueError(
            f"conv_matrix would have {n_rows} x {n_cols} entries (> 2^28); it is meant for "
            f"small sizes — use singular_values / conv for large layers"
        )
    m_out, c_in = kernel.shape[:2]
    ks = kernel.shape[2:]
    a_mat = np.zeros((m_out, *out_sizes, c_in, *sizes))
    grids = np.meshgrid(*[np.arange(n_) for n_ in out_sizes], indexing="ij")
    m_idx = np.arange(m_out).reshape((m_out,) + (1,) * d + (1,))
    c_idx = np.arange(c_in).reshape((1,) * (d + 1) + (c_in,))
    for tap in np.ndindex(*ks):
        cols = [
            ((stride * g + a - p) % n)[None, ..., None]
            for g, a, p, n in zip(grids, tap, _offsets(ks), sizes)
        ]
        rows = [g[None, ..., None] for g in grids]
        vals = kernel[(slice(None), slice(None)) + tap].reshape(
            (m_out,) + (1,) * d + (c_in,)
        )  # (M, 1.., C)
        np.add.at(
            a_mat, (m_idx, *rows, c_idx, *cols), np.broadcast_to(vals, (m_out, *out_sizes, c_in))
        )
    return a_mat.reshape(n_rows, n_cols)
