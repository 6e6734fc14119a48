"""The exact orthogonality regularizer L_orth (Achour, Malgouyres, Mamalet 2022)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float

from jaxorth._checks import positive_int

from ._conv import _check_kernel, _check_values
from ._polyphase import polyphase_kernel

__all__ = ["lorth"]


def _self_gram(
    k: Float[Array, "B I *k"], reach: tuple, stride: int, precision: lax.PrecisionLike
) -> Float[Array, "B B *t"]:
    """``G[b, b', t] = sum_{i, a} k[b', i, a] k[b, i, a + S (t - reach)]`` (zero outside).

    ``conv(K, K, zero padding P = S reach, stride S)``: ``K`` as a batch of images and as a
    filter bank; output spatial size ``2 reach + 1`` per axis.
    """
    d = k.ndim - 2
    return lax.conv_general_dilated(
        k,
        k,
        window_strides=(stride,) * d,
        padding=[(stride * r, stride * r) for r in reach],
        precision=precision,
    )


def _gram_residual_sq(gram: Float[Array, "B B *t"]) -> Float[Array, ""]:
    """``|| gram - I_0 ||_F^2`` where ``I_0`` is the identity at the centre tap."""
    b = gram.shape[0]
    centre = (slice(None), slice(None)) + tuple(t // 2 for t in gram.shape[2:])
    residual = gram.at[centre].add(-jnp.eye(b, dtype=gram.dtype))
    return jnp.sum(residual * residual)


def lorth(
    kernel: Float[ArrayLike, "M C *k"],
    stride: int = 1,
    *,
    precision: lax.PrecisionLike = lax.Precision.HIGHEST,
) -> Float[Array, ""]:
    """Exact orthogonality regularizer of a circular strided convolution.

    Achour, Malgouyres, Mamalet (JMLR 2022), the exact orthogonality regularizer (from Wang et al.,
    CVPR 2020): with ``r = floor((k - 1) / S)`` and ``P = r S``,

    ``L_orth(K) = || conv(K, K, zero padding P, stride S) - I_r0 ||_F^2 - max(0, M - C S^d)``

    where ``conv(K, K)`` treats ``K`` as a batch of ``M`` images with ``C`` channels and as
    the filter bank (output ``M x M x (2r+1)^d``) and ``I_r0`` is ``I_M`` at the centre tap.
    It satisfies ``err_F(N)^2 = N^d L_orth(K)`` for every ``N >= 2r + 1`` (their identity),
    so it is zero iff the layer is orthogonal (RO if ``M <= C S^d``, CO otherwise), for every
    input size. Even ``k`` and per-axis kernel sizes are supported.

    In the column-orthogonal case ``M > C S^d`` the same number is computed through the
    column Gram of the polyphase kernel (``C S^d`` channels, ``ceil(k/S)`` taps, stride 1):
    ``|| conv(K'^T, K'^T, padding ceil(k/S) - 1) - I ||_F^2``. It is equal, non-negative by
    construction and free of the cancellation ``- (M - C S^d)`` that would dominate the
    float32 error near an orthogonal kernel.

    Parameters
    ----------
    kernel : Float[Array, "M C k_1 ... k_d"]
        Convolution kernel (``d >= 1``).
    stride : int
        Stride ``S >= 1`` (static).
    precision : jax.lax.PrecisionLike
        Precision of the self-convolution (default highest: exactness on accelerators).

    Returns
    -------
    Float[Array, ""]
        The scalar ``L_orth(K)``; jit-able and differentiable in ``kernel``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import lorth
    >>> identity = jnp.zeros((4, 4, 3, 3)).at[:, :, 1, 1].set(jnp.eye(4))
    >>> float(lorth(identity))
    0.0
    >>> float(lorth(2 * identity))  # ||4 I - I||_F^2 at the centre tap: 4 * 3^2
    36.0
    """
    stride = positive_int(stride, "stride")
    _check_kernel(np.shape(kernel))
    _check_values(kernel, "kernel")
    kernel = jnp.asarray(kernel)
    if not jnp.issubdtype(kernel.dtype, jnp.floating):
        kernel = kernel.astype(jnp.float32)
    return _lorth(kernel, stride, precision)


@functools.partial(jax.jit, static_argnames=("stride", "precision"))
def _lorth(kernel: Array, stride: int, precision: lax.PrecisionLike) -> Array:
    d = kernel.ndim - 2
    m, c = kernel.shape[:2]
    ks = kernel.shape[2:]
    full = c * stride**d
    if m <= full:  # row-orthogonal: the paper's formula, max(0, M - C S^d) = 0
        reach = tuple((k - 1) // stride for k in ks)
        gram = _self_gram(kernel, reach, stride, precision)
        return _gram_residual_sq(gram)
    # column-orthogonal: the column Gram of the polyphase kernel
    kp = jnp.swapaxes(polyphase_kernel(kernel, stride), 0, 1)  # (C S^d, M, k')
    reach = tuple(s - 1 for s in kp.shape[2:])
    gram = _self_gram(kp, reach, 1, precision)
    return _gram_residual_sq(gram)
