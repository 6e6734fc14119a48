"""conv / conv_transpose / conv_matrix against direct loops, the dense matrix and identities."""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.orthconv import conv, conv_matrix, conv_transpose


def naive_conv(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """The documented tap convention, written as plain loops (float64)."""
    b_sz, c_sz = x.shape[:2]
    m_sz = kernel.shape[0]
    sizes = x.shape[2:]
    ks = kernel.shape[2:]
    out = tuple(n // stride for n in sizes)
    y = np.zeros((b_sz, m_sz, *out))
    for b, m in itertools.product(range(b_sz), range(m_sz)):
        for i in np.ndindex(*out):
            total = 0.0
            for c in range(c_sz):
                for a in np.ndindex(*ks):
                    j = tuple(
                        (stride * ii + aa - (kk - 1) // 2) % nn
                        for ii, aa, kk, nn in zip(i, a, ks, sizes)
                    )
                    total += kernel[(m, c, *a)] * x[(b, c, *j)]
            y[(b, m, *i)] = total
    return y


CASES = [
    # (d, stride, k, N)   N = output size per axis; k > S N exercises wrap-around taps
    (1, 1, 1, 4),
    (1, 1, 2, 4),
    (1, 1, 3, 5),
    (1, 1, 6, 3),
    (1, 2, 3, 3),
    (1, 2, 4, 2),
    (1, 3, 2, 2),
    (1, 3, 5, 2),
    (2, 1, 2, 3),
    (2, 1, 3, 3),
    (2, 2, 1, 2),
    (2, 2, 3, 2),
    (2, 2, 4, 2),
    (2, 3, 2, 2),
    (2, 3, 5, 1),
]


@pytest.mark.parametrize(("d", "stride", "k", "big_n"), CASES)
def test_conv_matches_loops_and_matrix(x64, d, stride, k, big_n):
    rng = np.random.default_rng(d * 100 + stride * 10 + k)
    m_sz, c_sz = 3, 2
    n = stride * big_n
    kernel = rng.standard_normal((m_sz, c_sz) + (k,) * d)
    x = rng.standard_normal((2, c_sz) + (n,) * d)
    yt = rng.standard_normal((2, m_sz) + (big_n,) * d)
    # conv and conv_transpose in one compiled program (eager calls: the tests below)
    both = jax.jit(lambda x, yt, k: (conv(x, k, stride), conv_transpose(yt, k, stride)))
    y, xt = (np.asarray(v) for v in both(jnp.asarray(x), jnp.asarray(yt), jnp.asarray(kernel)))
    assert y.shape == (2, m_sz) + (big_n,) * d
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, naive_conv(x, kernel, stride), atol=1e-12)
    a = conv_matrix(kernel, n, stride)
    assert a.shape == (m_sz * big_n**d, c_sz * n**d)
    np.testing.assert_allclose(y.reshape(2, -1), x.reshape(2, -1) @ a.T, atol=1e-12)
    assert xt.shape == x.shape
    np.testing.assert_allclose(xt.reshape(2, -1), yt.reshape(2, -1) @ a, atol=1e-12)


def test_conv_3d_and_rectangular(x64):
    rng = np.random.default_rng(3)
    kernel = rng.standard_normal((2, 3, 3, 2, 1))
    x = rng.standard_normal((1, 3, 4, 6, 2))
    y = np.asarray(conv(x, kernel, 2))
    a = conv_matrix(kernel, (4, 6, 2), 2)
    np.testing.assert_allclose(y.ravel(), a @ x.ravel(), atol=1e-12)
    xt = np.asarray(conv_transpose(y, kernel, 2))
    np.testing.assert_allclose(xt.ravel(), a.T @ y.ravel(), atol=1e-12)


@pytest.mark.parametrize(("d", "stride", "k"), [(1, 1, 3), (1, 2, 4), (2, 2, 3), (2, 3, 2)])
def test_adjoint_identity(maybe_jit, d, stride, k):
    rng = np.random.default_rng(0)
    n = 6 * stride
    kernel = jnp.asarray(rng.standard_normal((4, 3) + (k,) * d), jnp.float32)
    x = jnp.asarray(rng.standard_normal((2, 3) + (n,) * d), jnp.float32)
    y = jnp.asarray(rng.standard_normal((2, 4) + (n // stride,) * d), jnp.float32)
    fwd = maybe_jit(functools.partial(conv, stride=stride))
    bwd = maybe_jit(functools.partial(conv_transpose, stride=stride))
    lhs = jnp.vdot(fwd(x, kernel), y)
    rhs = jnp.vdot(x, bwd(y, kernel))
    assert fwd(x, kernel).dtype == jnp.float32
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5)
    # the VJP of conv in x is conv_transpose
    _, vjp = jax.vjp(lambda z: conv(z, kernel, stride), x)
    np.testing.assert_allclose(vjp(y)[0], bwd(y, kernel), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride", [1, 2])
def test_shift_equivariance(stride):
    rng = np.random.default_rng(1)
    kernel = jnp.asarray(rng.standard_normal((3, 2, 3, 2)), jnp.float32)
    x = jnp.asarray(rng.standard_normal((1, 2, 4 * stride, 6 * stride)), jnp.float32)
    shifted = conv(jnp.roll(x, (stride, 2 * stride), axis=(2, 3)), kernel, stride)
    expected = jnp.roll(conv(x, kernel, stride), (1, 2), axis=(2, 3))
    np.testing.assert_allclose(shifted, expected, rtol=1e-5, atol=1e-5)


def test_identity_kernel_centre_tap():
    # odd k: the centre tap is the identity map; even k: the left middle tap (p = (k-1)//2)
    x = jnp.asarray(np.random.default_rng(2).standard_normal((1, 2, 5, 5)), jnp.float32)
    for k in (3, 4):
        kernel = jnp.zeros((2, 2, k, k)).at[:, :, (k - 1) // 2, (k - 1) // 2].set(jnp.eye(2))
        np.testing.assert_allclose(conv(x, kernel), x, atol=1e-6)


@pytest.mark.parametrize(
    ("x_shape", "k_shape", "stride", "match"),
    [
        ((2, 3, 8, 8), (4, 2, 3, 3), 1, r"channel mismatch: x has C=3 .* expects C=2"),
        ((2, 3, 8), (4, 3, 3, 3), 1, r"x must have shape .* got x.shape=\(2, 3, 8\)"),
        ((2, 3, 4, 4), (4, 3, 3, 3), 5, r"stride=5 is larger than the input's spatial size 4"),
        ((2, 3, 6, 6), (4, 3, 3, 3), 4, r"spatial size 6 .* not a multiple of stride=4"),
        ((2, 3, 6, 6), (4, 3, 3, 3), 0, r"stride must be a positive integer, got 0"),
        ((2, 3, 6, 6), (4, 3), 1, r"kernel must have shape \(M, C, k_1, ..., k_d\)"),
    ],
)
def test_conv_bad_input(x_shape, k_shape, stride, match, user_checks):
    with user_checks(), pytest.raises(ValueError, match=match):
        conv(jnp.zeros(x_shape), jnp.zeros(k_shape), stride)


def test_conv_transpose_and_matrix_bad_input(user_checks):
    with user_checks(), pytest.raises(ValueError, match=r"y has M=5 channels .* kernel has M=4"):
        conv_transpose(jnp.zeros((1, 5, 4, 4)), jnp.zeros((4, 3, 3, 3)))
    with user_checks(), pytest.raises(ValueError, match=r"not a multiple of stride=2"):
        conv_matrix(np.zeros((2, 2, 3)), 5, 2)
    with user_checks(), pytest.raises(ValueError, match=r"one entry per spatial axis .* \(d=2\)"):
        conv_matrix(np.zeros((2, 2, 3, 3)), (4, 4, 4))
    with user_checks(), pytest.raises(ValueError, match=r"> 2\^28"):
        conv_matrix(np.zeros((64, 64, 3, 3)), 128)
