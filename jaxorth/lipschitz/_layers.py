r"""Lipschitz-preserving glue between orthogonal layers: invertible downsampling, pooling.

- :func:`space_to_depth` / :func:`depth_to_space`: the invertible downsampling of
  i-RevNet (Jacobsen, Smeulders & Oyallon, ICLR 2018, section 3.1), used between
  orthogonal convolutions by Li et al. (NeurIPS 2019, "Preventing gradient attenuation
  in Lipschitz constrained convolutional networks", arXiv 1911.00937; deel-lip's
  ``InvertibleDownSampling``). It only moves entries, so it is an orthogonal
  (permutation) map: norm preserving, 1-Lipschitz, with an isometric inverse.
- :func:`l2_norm_pool`: global l2-norm pooling of each channel (l2 pooling: Boureau,
  Ponce & LeCun, ICML 2010, "A theoretical analysis of feature pooling in visual
  recognition"; deel-lip's ``ScaledGlobalL2NormPooling2D``), 1-Lipschitz and, away from
  zero channels, gradient norm preserving, unlike global average pooling, whose l2
  Lipschitz constant ``1 / sqrt(H W)`` shrinks gradients.

Inputs are channels first, ``(B, C, H, W)``.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from jaxorth._checks import positive_int

__all__ = ["depth_to_space", "l2_norm_pool", "space_to_depth"]


def space_to_depth(x: Float[Array, "B C H W"], block: int) -> Float[Array, "B D h w"]:
    r"""Invertible downsampling: ``(B, C, H, W) -> (B, C b^2, H/b, W/b)``.

    Every ``b x b`` spatial block of every channel becomes ``b^2`` channels at one
    position (i-RevNet's invertible downsampling; Jacobsen et al., ICLR 2018):

    .. math::

        y[n, c b^2 + i b + j, h, w] = x[n, c, h b + i, w b + j],
        \qquad 0 \le i, j < b,

    the channel order of PyTorch's ``pixel_unshuffle`` (channel-major, then the row
    ``i`` and the column ``j`` within the block). The map is a permutation of the
    entries: orthogonal, so ``||y|| = ||x||``, 1-Lipschitz, and inverted by
    :func:`depth_to_space`.

    Parameters
    ----------
    x : Float[Array, "B C H W"]
    block : int
        ``b >= 1``, dividing both ``H`` and ``W``.

    Returns
    -------
    Float[Array, "B D h w"]
        ``D = C b^2``, ``h = H / b``, ``w = W / b``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import depth_to_space, space_to_depth
    >>> x = jnp.arange(16.0).reshape(1, 1, 4, 4)
    >>> space_to_depth(x, 2).shape
    (1, 4, 2, 2)
    >>> bool((depth_to_space(space_to_depth(x, 2), 2) == x).all())
    True
    """
    block = positive_int(block, "block")
    n, c, height, width = x.shape
    if height % block or width % block:
        raise ValueError(
            f"block must divide the spatial sizes H={height} and W={width} of x, got {block}"
        )
    h, w = height // block, width // block
    y = x.reshape(n, c, h, block, w, block).transpose(0, 1, 3, 5, 2, 4)
    return y.reshape(n, c * block * block, h, w)


def depth_to_space(x: Float[Array, "B D h w"], block: int) -> Float[Array, "B C H W"]:
    r"""The inverse of :func:`space_to_depth`: ``(B, C b^2, h, w) -> (B, C, h b, w b)``.

    ``y[n, c, h b + i, w b + j] = x[n, c b^2 + i b + j, h, w]`` (PyTorch's
    ``pixel_shuffle``): a permutation, orthogonal and norm preserving.

    Parameters
    ----------
    x : Float[Array, "B D h w"]
    block : int
        ``b >= 1``, with ``b^2`` dividing the number of channels ``D``.

    Returns
    -------
    Float[Array, "B C H W"]
        ``C = D / b^2``, ``H = h b``, ``W = w b``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import depth_to_space
    >>> depth_to_space(jnp.ones((1, 4, 2, 2)), 2).shape
    (1, 1, 4, 4)
    """
    block = positive_int(block, "block")
    n, d, h, w = x.shape
    if d % (block * block):
        raise ValueError(
            f"block**2 must divide the number of channels D={d} of x, got block={block}"
        )
    c = d // (block * block)
    y = x.reshape(n, c, block, block, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c, h * block, w * block)


def l2_norm_pool(x: Float[Array, "B C *n"]) -> Float[Array, "B C"]:
    r"""Global l2-norm pooling: ``y[b, c] = ||x[b, c]||_2`` over the spatial axes.

    Each output is the Euclidean norm of one channel's spatial map; by the reverse
    triangle inequality ``|(||u|| - ||v||)| <= ||u - v||`` on each channel, and the
    channels are disjoint blocks of coordinates, so the map is 1-Lipschitz in the l2
    norm with ``||y|| = ||x||`` (norm preserving, not injective). Its gradient
    ``x[b, c] / ||x[b, c]||`` has norm 1 per channel; at a zero channel the gradient is
    taken as 0 (a subgradient), never NaN.

    Parameters
    ----------
    x : Float[Array, "B C *n"]
        Channels first, any number of spatial axes (at least one).

    Returns
    -------
    Float[Array, "B C"]

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.lipschitz import l2_norm_pool
    >>> l2_norm_pool(jnp.full((1, 2, 2, 2), 0.5)).tolist()  # sqrt(4 * 0.25) per channel
    [[1.0, 1.0]]
    """
    if x.ndim < 3:
        raise ValueError(f"x must have shape (B, C, *spatial) with spatial axes, got {x.shape}")
    sq = jnp.sum(jnp.square(x), axis=tuple(range(2, x.ndim)))
    positive = sq > 0
    # double where: no 0 * inf in the gradient at a zero channel
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)
