"""Polyphase reshaping: a stride-S convolution as a stride-1 one on C S^d channels."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float


def polyphase_kernel(kernel: Float[Array, "M C *k"], stride: int) -> Float[Array, "M CS *kp"]:
    """``K'[m, (c, r_1..r_d), a_1..a_d] = K[m, c, S a_1 + r_1, ..., S a_d + r_d]``.

    The kernel is zero-padded to ``k' S`` taps per axis, ``k' = ceil(k / S)``; the channel
    index ``(c, r_1, ..., r_d)`` is flattened in row-major order. With this kernel, the
    stride-``S`` layer on ``C x (S N)^d`` inputs equals (up to a permutation of the input
    coordinates) the stride-1 layer on ``C S^d x N^d`` inputs (Achour et al. 2022;
    Sedghi et al. 2019 for stride 1).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.orthconv import polyphase_kernel
    >>> polyphase_kernel(jnp.ones((8, 2, 3, 3)), 2).shape  # (M, C S^d, ceil(k / S), ...)
    (8, 8, 2, 2)
    """
    m, c = kernel.shape[:2]
    ks = kernel.shape[2:]
    d = len(ks)
    if stride == 1:
        return kernel
    kps = tuple(-(-k // stride) for k in ks)
    kernel = jnp.pad(kernel, [(0, 0), (0, 0)] + [(0, kp * stride - k) for k, kp in zip(ks, kps)])
    split = [m, c]
    for kp in kps:
        split += [kp, stride]
    kernel = kernel.reshape(split)
    # axes: 0 m, 1 c, then (2 + 2j) a_j, (3 + 2j) r_j
    perm = [0, 1] + [3 + 2 * j for j in range(d)] + [2 + 2 * j for j in range(d)]
    return kernel.transpose(perm).reshape((m, c * stride**d) + kps)
