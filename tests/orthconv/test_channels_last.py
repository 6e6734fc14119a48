"""``channels_last=True`` for OrthConv / SoftOrthConv against the channels-first layer.

The reference is the channels-first output of a layer built with the same seed (so the
same parameters), transposed to channels-last: the two layouts must give the same
numbers. Norm preservation (RO / CO) is checked directly on the channels-last output.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.orthconv import OrthConv, SoftOrthConv


def _to_last(a):
    return jnp.moveaxis(a, 1, -1)


def _randn(shape, seed):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


# (M, C, k, S, d, n): RO with S = 1 and S = 2, CO (M > C S^d), d = 1 and 2.
CONFIGS = [
    (4, 4, 3, 1, 1, 8),
    (3, 2, 2, 2, 1, 8),
    (6, 2, 3, 1, 2, 6),
    (4, 2, 2, 2, 2, 4),
]


def _pair(cls, cfg, **kw):
    m, c, k, s, d, _ = cfg
    make = lambda last: cls(  # noqa: E731
        c, m, k, stride=s, ndim=d, use_bias=True, channels_last=last, rngs=nnx.Rngs(3), **kw
    )
    first, last = make(False), make(True)
    bias = _randn((m,), 9)
    first.bias[...] = bias
    last.bias[...] = bias
    return first, last


@pytest.mark.parametrize("cfg", CONFIGS)
def test_orth_conv_channels_last_matches_transposed_channels_first(cfg):
    m, c, k, s, d, n = cfg
    first, last = _pair(OrthConv, cfg)
    kernel = last.kernel()  # (M, C, k, ..., k) in both layouts
    assert kernel.shape == (m, c) + (k,) * d
    np.testing.assert_array_equal(np.asarray(first.kernel()), np.asarray(kernel))
    x = _randn((2, c) + (n,) * d, 0)
    y_first = first(x, kernel=kernel)
    y_last = last(_to_last(x))  # the kernel rebuilt from the parameters
    assert y_last.shape == (2,) + (n // s,) * d + (m,)
    np.testing.assert_allclose(np.asarray(y_last), np.asarray(_to_last(y_first)), atol=1e-6)
    # the cached-kernel path
    y_cached = last(_to_last(x), kernel=kernel)
    np.testing.assert_allclose(np.asarray(y_cached), np.asarray(y_last), atol=1e-6)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_channels_last_preserves_norm(cfg):
    # CO (M >= C S^d): ||A x|| = ||x||; RO (M <= C S^d): ||A^T y|| = ||y||, with A^T the
    # vjp of the channels-last layer itself (no use of conv_transpose).
    m, c, k, s, d, n = cfg
    layer = OrthConv(c, m, k, stride=s, ndim=d, channels_last=True, rngs=nnx.Rngs(1))
    x = _randn((3,) + (n,) * d + (c,), 4)
    y, vjp = jax.vjp(layer, x)
    (aty,) = vjp(y)
    norm = lambda a: np.sqrt(np.sum(np.asarray(a, np.float64) ** 2, axis=tuple(range(1, d + 2))))  # noqa: E731
    if m >= c * s**d:
        np.testing.assert_allclose(norm(y), norm(x), rtol=1e-5)
    if m <= c * s**d:
        np.testing.assert_allclose(norm(aty), norm(y), rtol=1e-5)


@pytest.mark.parametrize("cfg", [CONFIGS[1], CONFIGS[2]])
def test_soft_orth_conv_channels_last_matches_transposed_channels_first(cfg):
    m, c, k, s, d, n = cfg
    first, last = _pair(SoftOrthConv, cfg)
    np.testing.assert_array_equal(np.asarray(first.kernel()), np.asarray(last.kernel()))
    x = _randn((2, c) + (n,) * d, 5)
    y_last = last(_to_last(x))
    assert y_last.shape == (2,) + (n // s,) * d + (m,)
    np.testing.assert_allclose(np.asarray(y_last), np.asarray(_to_last(first(x))), atol=1e-6)
    y_cached = last(_to_last(x), kernel=last.kernel())
    np.testing.assert_allclose(np.asarray(y_cached), np.asarray(y_last), atol=1e-6)


def test_bad_layout_raises(user_checks):
    cl = OrthConv(2, 4, 2, stride=2, ndim=2, channels_last=True, rngs=nnx.Rngs(0))
    soft = SoftOrthConv(2, 4, 2, stride=2, ndim=2, channels_last=True, rngs=nnx.Rngs(0))
    cf = OrthConv(2, 4, 2, stride=2, ndim=2, rngs=nnx.Rngs(0))
    x_first = jnp.zeros((1, 2, 4, 4))
    x_last = jnp.zeros((1, 4, 4, 2))
    for layer, name in [(cl, "OrthConv"), (soft, "SoftOrthConv")]:
        with user_checks(), pytest.raises(ValueError, match=rf"{name} with channels_last=True"):
            layer(x_first)  # channels first given to a channels-last layer
        with user_checks(), pytest.raises(ValueError, match=r"C on the last axis"):
            layer(jnp.zeros((1, 4, 2)))  # wrong rank
        with user_checks(), pytest.raises(ValueError, match=r"\(axis 2\) is not a multiple"):
            layer(jnp.zeros((1, 4, 3, 2)))
    with user_checks(), pytest.raises(ValueError, match="channels first"):
        cf(x_last)
    with user_checks(), pytest.raises(ValueError, match="channels_last must be a bool"):
        OrthConv(2, 4, 2, channels_last="yes", rngs=nnx.Rngs(0))
    with user_checks(), pytest.raises(ValueError, match="channels_last must be a bool"):
        SoftOrthConv(2, 4, 2, channels_last=1, rngs=nnx.Rngs(0))
