"""singular_values / orthogonality_errors against the SVD of the dense float64 layer matrix."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.orthconv import (
    conv_matrix,
    orthogonality_errors,
    singular_values,
    symbol,
)


def _channels(regime: str, c: int, stride: int, d: int) -> int:
    full = c * stride**d
    return {"RO": full - 1, "square": full, "CO": full + 2}[regime]


def _dense_errors(a: np.ndarray, m: int, full: int) -> tuple[float, float, float]:
    gram = a @ a.T if m <= full else a.T @ a
    res = gram - np.eye(gram.shape[0])
    sv = np.linalg.svd(a, compute_uv=False)
    return np.linalg.norm(res), np.linalg.norm(res, 2), np.max(np.abs(sv - 1))


# stride 1, 2, 3; k odd and even; RO (M < C S^d), square (M = C S^d), CO (M > C S^d)
SPECTRUM_CASES = [
    (1, stride, k, regime)
    for stride, k in [(1, 2), (1, 3), (2, 3), (2, 4), (3, 2), (3, 5)]
    for regime in ("RO", "square", "CO")
] + [
    (2, 1, 2, "RO"),
    (2, 1, 3, "CO"),
    (2, 2, 2, "square"),
    (2, 2, 3, "RO"),
    (2, 2, 4, "CO"),
    (2, 3, 2, "CO"),
    (2, 3, 3, "square"),
    (2, 3, 4, "RO"),
]


@pytest.mark.parametrize(("d", "stride", "k", "regime"), SPECTRUM_CASES)
def test_singular_values_match_dense_svd(x64, d, stride, k, regime):
    rng = np.random.default_rng(17 * k + 5 * stride + d)
    c = 2
    m = _channels(regime, c, stride, d)
    big_n = 3 if d == 2 else 4
    n = stride * big_n
    kernel = rng.standard_normal((m, c) + (k,) * d) / np.sqrt(c * k**d)
    a = conv_matrix(kernel, n, stride)
    expected = np.linalg.svd(a, compute_uv=False)

    # one compiled program per case for the three spectral computations (the eager
    # wrappers' checks are tested in test_singular_values_general_shapes and below)
    @jax.jit
    def spectra(kern):
        return (
            singular_values(kern, n, stride),
            orthogonality_errors(kern, n, stride),
            orthogonality_errors(kern, n, stride, method="gram") if d == 2 else None,
        )

    got, errs, gram_errs = spectra(jnp.asarray(kernel))
    got = np.asarray(got)
    assert got.dtype == np.float64
    assert got.shape == (min(m, c * stride**d) * big_n**d,) == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-11)
    full = c * stride**d
    err_f, err_s, dev = _dense_errors(a, m, full)
    np.testing.assert_allclose(
        [errs.err_F, errs.err_s, errs.isometry_deviation], [err_f, err_s, dev], rtol=1e-10
    )
    if d == 1:
        return
    # Gram eigenvalues: sigma^2 - 1 to machine precision; sigma near 0 only to sqrt(eps)
    errs = gram_errs
    np.testing.assert_allclose([errs.err_F, errs.err_s], [err_f, err_s], rtol=1e-10)
    np.testing.assert_allclose(errs.isometry_deviation, dev, rtol=1e-7)


@pytest.mark.parametrize(
    ("kernel_shape", "input_size", "stride"),
    [
        ((3, 2, 7), 4, 1),  # taps wrap around: k > n
        ((2, 2, 9), 6, 3),  # polyphase taps wrap around: ceil(k/S) > N
        ((3, 2, 3, 2), (4, 6), 2),  # rectangular kernel and input
        ((2, 1, 2, 2, 2), (2, 4, 2), 2),  # 3-D
        ((4, 2, 3, 3), 1, 1),  # N = 1
    ],
)
def test_singular_values_general_shapes(x64, kernel_shape, input_size, stride):
    kernel = np.random.default_rng(0).standard_normal(kernel_shape)
    expected = np.linalg.svd(conv_matrix(kernel, input_size, stride), compute_uv=False)
    got = singular_values(jnp.asarray(kernel), input_size, stride)
    np.testing.assert_allclose(got, expected[: got.shape[0]], rtol=1e-11, atol=1e-11)


def test_symbol_block_diagonalises_the_layer(x64):
    # stride 1, odd N: A is unitarily equivalent to blockdiag_f K^(f): same Frobenius norm and
    # same spectrum; and K^(0) is the sum of the taps
    rng = np.random.default_rng(1)
    kernel = rng.standard_normal((3, 2, 3, 2))
    sym = np.asarray(symbol(kernel, 5))
    assert sym.shape == (5, 5, 3, 2)
    np.testing.assert_allclose(sym[0, 0], kernel.sum(axis=(2, 3)), atol=1e-12)
    a = conv_matrix(kernel, 5)
    svs = np.sort(np.linalg.svd(sym, compute_uv=False).ravel())[::-1]
    np.testing.assert_allclose(svs, np.linalg.svd(a, compute_uv=False), atol=1e-12)


def test_float32_large_layer_without_dense_matrix():
    # 64 -> 64 channels on 32 x 32 inputs (the dense matrix would be 65536 x 65536).
    # A Kronecker kernel K[m, c, a] = Q[m, c] h[a] has the singular values
    # sigma_i(Q) |h^(f)| (a theorem, computed here with numpy's SVD of Q and FFT of h).
    rng = np.random.default_rng(2)
    q = rng.standard_normal((64, 64)) / 8
    h = rng.standard_normal((3, 3))
    kernel = jnp.asarray(q[:, :, None, None] * h, jnp.float32)
    sv = singular_values(kernel, 32)
    assert sv.shape == (64 * 32 * 32,) and sv.dtype == jnp.float32
    expected = np.outer(np.linalg.svd(q, compute_uv=False), np.abs(np.fft.fft2(h, (32, 32))))
    expected = np.sort(expected.ravel())[::-1]
    np.testing.assert_allclose(sv, expected, rtol=1e-4, atol=1e-4 * expected[0])
    np.testing.assert_allclose(jnp.sum(sv**2), 32**2 * jnp.sum(kernel**2), rtol=1e-4)
    errs = orthogonality_errors(kernel, 32, method="gram")
    np.testing.assert_allclose(errs.err_s, np.max(np.abs(expected**2 - 1)), rtol=1e-4)
    np.testing.assert_allclose(errs.err_F, np.sqrt(np.sum((expected**2 - 1) ** 2)), rtol=1e-4)


def test_jit_and_batching(x64):
    kernel = jnp.asarray(np.random.default_rng(4).standard_normal((4, 2, 3, 3)))
    reference = singular_values(kernel, 8, 2)
    jitted = jax.jit(lambda k: singular_values(k, 8, 2))(kernel)
    small_batches = singular_values(kernel, 8, 2, batch_size=3)  # lax.map with a remainder
    np.testing.assert_allclose(jitted, reference, rtol=1e-13)
    np.testing.assert_allclose(small_batches, reference, rtol=1e-13)
    errs = orthogonality_errors(kernel, 8, 2, batch_size=2)
    np.testing.assert_allclose(errs, orthogonality_errors(kernel, 8, 2), rtol=1e-12)


@pytest.mark.parametrize(
    ("kernel_shape", "input_size", "stride", "kwargs", "match"),
    [
        ((4, 2, 3, 3), 7, 2, {}, r"spatial size 7 .* not a multiple of stride=2"),
        ((4, 2, 3, 3), 2, 3, {}, r"stride=3 is larger than the input's spatial size 2"),
        ((4, 2, 3, 3), (8,), 1, {}, r"one entry per spatial axis of the kernel \(d=2\)"),
        ((4, 2, 3, 3), 0, 1, {}, r"input_size must be positive"),
        ((4, 2), 8, 1, {}, r"kernel must have shape \(M, C, k_1, ..., k_d\)"),
        ((4, 2, 3, 3), 8, 1, {"method": "eig"}, r"method must be 'svd' or 'gram'"),
    ],
)
def test_spectrum_bad_input(kernel_shape, input_size, stride, kwargs, match, user_checks):
    kernel = jnp.zeros(kernel_shape)
    with user_checks(), pytest.raises(ValueError, match=match):
        orthogonality_errors(kernel, input_size, stride, **kwargs)
    if not kwargs:
        with user_checks(), pytest.raises(ValueError, match=match):
            singular_values(kernel, input_size, stride)


def test_singular_values_compiles_once_per_shape(monkeypatch):
    # same-shaped inputs, however the static arguments are spelt, reuse one compilation
    import chex

    from jaxorth.orthconv import _spectrum

    inner = _spectrum._singular_values
    counted = jax.jit(
        chex.assert_max_traces(inner.__wrapped__, n=1),
        static_argnames=("stride", "out_sizes", "batch_size"),
    )
    monkeypatch.setattr(_spectrum, "_singular_values", counted)
    rng = np.random.default_rng(5)
    first = None
    for size, stride in ((8, 2), ((8, 8), 2), ([8, 8], np.int64(2)), (np.int64(8), 2)):
        kernel = jnp.asarray(rng.standard_normal((4, 2, 3, 3)), jnp.float32)
        sv = singular_values(kernel, size, stride)
        first = sv.shape if first is None else first
        assert sv.shape == first == (4 * 16,)
    # a new shape is a new trace: the counter is live
    with pytest.raises(AssertionError, match="traced > 1 times"):
        singular_values(jnp.ones((4, 2, 3, 3), jnp.float32), 12, 2)
