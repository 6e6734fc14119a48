"""Sylvester Hadamard matrices and the fast Walsh-Hadamard transform.

``H_1 = [1]`` and ``H_{2n} = [[H_n, H_n], [H_n, -H_n]] = H_2 kron H_n`` (Sylvester 1867),
so ``H_n`` is symmetric, has entries ``+-1`` and ``H_n H_n = n I``: ``H_n / sqrt(n)`` is
orthogonal. The fast Walsh-Hadamard transform (FWHT) applies ``H_n`` to a vector in
``O(n log n)`` additions by the Kronecker factorisation ``H_n = H_r kron H_{n/r}``
(Fino and Algazi, IEEE Trans. Computers 25(11), 1976). These are the recurrent matrices of
HadamRNN and Block-HadamRNN (Foucault, Mamalet and Malgouyres, ICLR 2025).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike
from jaxtyping import Array, Num

from jaxorth._checks import finite, int_at_least, is_power_of_two, power_of_two

_SYLVESTER = "a Sylvester Hadamard matrix"

__all__ = ["block_fwht", "fwht", "is_power_of_two", "sylvester_hadamard"]


def sylvester_hadamard(n: int, dtype: DTypeLike = jnp.float32) -> Num[Array, "n n"]:
    """The Sylvester Hadamard matrix ``H_n`` (entries ``+-1``, not normalised).

    ``H_n[i, j] = (-1)^{popcount(i & j)}``, equivalently ``H_n = H_2 kron ... kron H_2``
    (Sylvester 1867). ``H_n`` is symmetric and ``H_n H_n^T = n I_n``.

    Parameters
    ----------
    n : int
        Size, a power of 2.
    dtype : dtype
        Output dtype (entries are exact in any dtype).

    Returns
    -------
    Float[Array, "n n"]

    Examples
    --------
    >>> from jaxorth.linalg import sylvester_hadamard
    >>> sylvester_hadamard(4).tolist()
    [[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0], [1.0, -1.0, -1.0, 1.0]]
    """
    power_of_two(n, "n", _SYLVESTER)
    idx = np.arange(n)
    bits = np.bitwise_and(idx[:, None], idx[None, :])
    parity = np.zeros_like(bits)
    while np.any(bits):
        parity ^= bits & 1
        bits >>= 1
    return jnp.asarray(1 - 2 * parity, dtype=dtype)


def _balanced_sizes(n: int, radix: int) -> tuple[int, ...]:
    """Split ``n = 2^k`` into the fewest factors of at most ``radix``, balanced.

    ``512`` at radix 16 is ``8 x 8 x 8`` rather than ``2 x 16 x 16``: the same number of
    passes with fewer operations per entry (24 instead of 34).
    """
    k, r = int(math.log2(n)), int(math.log2(radix))
    parts = -(-k // r)
    bits = [k // parts + (1 if j < k % parts else 0) for j in range(parts)]
    return tuple(2**e for e in bits)


# The fastest factorisation of H_n for the transform below, by n (factors in the order
# applied). Measured on this project's 2-core CPU machine (jax 0.10.2, XLA:CPU) in the
# setting of benchmarks/rnn_fwht.py: batch 128, float32, a lax.scan of 50 steps
# h <- FWHT(h) * s + d, forward and forward + backward, every split of n into 1 to 3
# factors of 4 to 64, interleaved, minimum of 7 to 15 runs (the machine was shared: load
# average 6 to 9; the choices below won or tied in both modes). Up to 64, one small
# matmul by H_n is fastest; from 128 to 2048 two factors near sqrt(n) (each factor costs
# a pass over the data: a matmul and a transpose); from 4096 three.
_FASTEST: dict[int, tuple[int, ...]] = {
    128: (16, 8),
    256: (16, 16),
    512: (32, 16),
    1024: (32, 32),
    2048: (64, 32),
    4096: (16, 16, 16),
}
_ONE_FACTOR_MAX = 64


def _factor_sizes(n: int, radix: int) -> tuple[int, ...]:
    """Kronecker factors of ``H_n`` for :func:`fwht`, all at most ``radix``.

    A single factor (one small matmul) for ``n <= min(radix, 64)``; the measured fastest
    split (``_FASTEST``) when its factors fit under ``radix``; else
    :func:`_balanced_sizes`.
    """
    if n <= min(radix, _ONE_FACTOR_MAX):
        return (n,)
    best = _FASTEST.get(n)
    if best is not None and max(best) <= radix:
        return best
    return _balanced_sizes(n, radix)


def fwht(
    x: Num[Array, "*batch n"], *, normalize: bool = False, radix: int = 2
) -> Num[Array, "*batch n"]:
    r"""Fast Walsh-Hadamard transform along the last axis: ``x H_n`` (= ``H_n x``).

    Uses ``H_n = H_{r_1} kron ... kron H_{r_s}`` (Fino and Algazi 1976): ``x`` is viewed
    as a tensor with axes of sizes ``r_1, ..., r_s`` and ``H_{r_j}`` is applied along each
    axis. ``radix=2`` is the classical butterfly (``log2 n`` passes of additions and
    subtractions, ``n log2 n`` operations, no multiplication); a larger radix applies the
    small ``r x r`` factor matrices by plain matmuls on the trailing axis, each followed
    by one transpose (``n (r_1 + ... + r_s)`` operations), which is much faster on CPUs.
    The split is the fastest one measured for ``n`` with factors at most ``radix``: one
    ``n x n`` matmul up to ``n = 64``, ``16 x 8`` at 128, ``16 x 16`` at 256, ``32 x 16``
    at 512, ``32 x 32`` at 1024, ``64 x 32`` at 2048, ``16 x 16 x 16`` at 4096 (with
    ``radix=64``); otherwise the fewest balanced factors. Beyond ``n = 64`` both forms
    are ``O(n log n)`` and no ``n x n`` matrix is formed. Linear, so reverse-mode
    differentiation gives the transform again (``H_n`` is symmetric). Integer inputs stay
    integer and exact (additions, or integer matmuls).

    Parameters
    ----------
    x : Float[Array, "*batch n"]
        Input; ``n`` a power of 2. Any leading batch dimensions.
    normalize : bool
        Divide by ``sqrt(n)`` (the orthogonal transform ``H_n / sqrt(n)``).
    radix : int
        Largest Kronecker factor (a power of 2, ``>= 2``); static. 64 allows every
        measured fastest split.

    Returns
    -------
    Float[Array, "*batch n"]
        ``x H_n`` (times ``n^{-1/2}`` if ``normalize``), same shape and dtype.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.linalg import fwht
    >>> fwht(jnp.array([1.0, 0.0, 0.0, 0.0])).tolist()  # the first column of H_4
    [1.0, 1.0, 1.0, 1.0]
    >>> fwht(jnp.array([0.0, 1.0, 0.0, 0.0]), normalize=True).tolist()
    [0.5, -0.5, 0.5, -0.5]
    """
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"x must have at least 1 dimension (..., n), got shape {x.shape}")
    n = x.shape[-1]
    power_of_two(n, "x.shape[-1]", _SYLVESTER)
    int_at_least(power_of_two(radix, "radix", "the FWHT factors"), "radix", 2)
    finite(x, "x")
    return _fwht(x, normalize, radix)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _fwht(x: Array, normalize: bool, radix: int) -> Array:
    # Jitted so that eager calls run one compiled kernel; inlined inside outer jits.
    n = x.shape[-1]
    batch = x.shape[:-1]
    if n == 1:
        return x
    if radix == 2:
        # Butterfly: view (..., n / 2h, 2, h) and combine the two halves of each block.
        h = 1
        while h < n:
            y = x.reshape(*batch, n // (2 * h), 2, h)
            a, b = y[..., 0, :], y[..., 1, :]
            x = jnp.stack([a + b, a - b], axis=-2).reshape(*batch, n)
            h *= 2
        if normalize:
            x = x * jnp.asarray(1.0 / math.sqrt(n), dtype=x.dtype)
        return x
    # Constant geometry: each pass multiplies the trailing axis of size r by H_r (one
    # plain matmul, no transpose of its operands) and moves that axis to the front of the
    # transform axes. The index bits rotate by log2 r per pass, so after all the passes
    # they are back in place and each group of bits has met its H_r: the product is
    # H_{r_1} kron ... kron H_{r_s} = H_n for any order of the factors (Sylvester).
    sizes = _factor_sizes(n, radix)
    scale = normalize and jnp.issubdtype(x.dtype, jnp.inexact)
    y = x.reshape(-1, n)
    rows = y.shape[0]
    for j, r in enumerate(sizes):
        hr = sylvester_hadamard(r, dtype=x.dtype)
        if scale and j == len(sizes) - 1:  # the normalisation folded into the last factor
            hr = hr * jnp.asarray(1.0 / math.sqrt(n), dtype=x.dtype)
        y = (y.reshape(rows * (n // r), r) @ hr).reshape(rows, n // r, r)
        y = jnp.swapaxes(y, 1, 2) if r < n else y
    x = y.reshape(*batch, n)
    if normalize and not scale:
        x = x * jnp.asarray(1.0 / math.sqrt(n), dtype=x.dtype)
    return x


def block_fwht(
    x: Num[Array, "*batch n"], m: int, *, normalize: bool = False, radix: int = 2
) -> Num[Array, "*batch n"]:
    r"""Apply ``I_{n/m} kron H_m`` to the last axis: an FWHT on each block of ``m``.

    The recurrent matrix of Block-HadamRNN is ``diag(s) (I_{n/m} kron H_m) / sqrt(m)``
    (Foucault, Mamalet and Malgouyres, ICLR 2025): block diagonal, density ``m / n``.

    Parameters
    ----------
    x : Float[Array, "*batch n"]
        Input; ``m`` must divide ``n``.
    m : int
        Block size, a power of 2.
    normalize : bool
        Divide by ``sqrt(m)``.
    radix : int
        See :func:`fwht`.

    Returns
    -------
    Float[Array, "*batch n"]

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.linalg import block_fwht
    >>> block_fwht(jnp.array([1.0, 0.0, 0.0, 1.0]), 2).tolist()  # (I_2 kron H_2) x
    [1.0, 1.0, 1.0, -1.0]
    """
    x = jnp.asarray(x)
    n = x.shape[-1]
    power_of_two(m, "m", _SYLVESTER)
    if n % m:
        raise ValueError(f"block size m={m} must divide n={n}")
    y = fwht(x.reshape(*x.shape[:-1], n // m, m), normalize=normalize, radix=radix)
    return y.reshape(x.shape)
