import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.quant import (
    KBitSTE,
    activation_scale,
    check_bits,
    code_range,
    fake_quantize,
    max_scale,
    mse_scale,
    quantize_codes,
    ste_quantize,
    ste_sign,
    ste_ternary,
    symmetric_scale,
)

X = np.array([-2.5, -1.0, -0.7, -0.2, 0.0, 0.3, 0.9, 1.0, 1.7], dtype=np.float32)
G = np.arange(1, X.size + 1, dtype=np.float32)


def _vjp(f, x, g):
    _, pull = jax.vjp(f, jnp.asarray(x))
    return np.asarray(pull(jnp.asarray(g))[0])


def test_ste_sign_forward_and_identity_gradient(maybe_jit):
    f = maybe_jit(ste_sign)
    np.testing.assert_array_equal(f(X), np.where(X >= 0, 1.0, -1.0))
    np.testing.assert_array_equal(_vjp(f, X, G), G)


def test_ste_sign_clipped_gradient(maybe_jit):
    f = maybe_jit(lambda x: ste_sign(x, clip=1.0))
    np.testing.assert_array_equal(_vjp(f, X, G), G * (np.abs(X) <= 1.0))


def test_ste_ternary(maybe_jit):
    f = maybe_jit(lambda x: ste_ternary(x, threshold=0.5))
    np.testing.assert_array_equal(f(X), np.sign(X) * (np.abs(X) > 0.5))
    np.testing.assert_array_equal(_vjp(f, X, G), G)
    g = maybe_jit(lambda x: ste_ternary(x, threshold=0.5, clip=1.0))
    np.testing.assert_array_equal(_vjp(g, X, G), G * (np.abs(X) <= 1.0))


def _numpy_quantize(x, bits):
    lim = 2 ** (bits - 1) - 1
    delta = np.abs(x).max() / lim
    return np.clip(np.round(x / delta), -lim, lim) * delta, delta


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_kbit_levels_scale_and_gradient(maybe_jit, bits):
    x = np.random.default_rng(bits).standard_normal((7, 5)).astype(np.float32)
    ref, delta = _numpy_quantize(x.astype(np.float64), bits)
    f = maybe_jit(lambda v: ste_quantize(v, bits))
    q = np.asarray(f(x))
    np.testing.assert_allclose(q, ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(float(symmetric_scale(x, bits)), delta, rtol=1e-6)
    codes = q / delta
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-4)
    assert len(np.unique(np.round(codes))) <= 2**bits - 1
    assert np.abs(np.round(codes)).max() == 2 ** (bits - 1) - 1  # max |x| is a level
    assert np.abs(q - x).max() <= delta / 2 * (1 + 1e-5)
    g = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(_vjp(f, x, g), g)


def test_two_bits_is_ternary_with_scale_max_abs():
    x = jnp.asarray([-3.0, -1.4, -0.2, 0.1, 1.6, 2.0])
    np.testing.assert_allclose(ste_quantize(x, 2), [-3.0, -0.0, 0.0, 0.0, 3.0, 3.0])


def test_codes_and_fake_quantize_agree():
    x = jnp.asarray(np.random.default_rng(5).standard_normal(50), jnp.float32)
    d = symmetric_scale(x, 5)
    np.testing.assert_allclose(
        fake_quantize(x, 5), np.asarray(quantize_codes(x, 5, d)) * float(d), rtol=1e-6
    )
    assert quantize_codes(x, 5, d).dtype == jnp.int32
    # an explicit small step clips to the largest code
    assert int(jnp.max(quantize_codes(x, 5, d / 4))) == 15


def test_all_zero_tensor():
    np.testing.assert_array_equal(ste_quantize(jnp.zeros(4), 4), np.zeros(4))


def test_kbit_callable_carries_bits():
    q = KBitSTE(3)
    assert q.bits == 3 and q.levels == "full" and hash(q) == hash(KBitSTE(3))
    np.testing.assert_allclose(q(jnp.asarray(X)), ste_quantize(jnp.asarray(X), 3, levels="full"))
    s = KBitSTE(3, "symmetric")
    np.testing.assert_allclose(s(jnp.asarray(X)), ste_quantize(jnp.asarray(X), 3))
    with pytest.raises(ValueError, match="^levels must be one of full, symmetric; got 'odd'"):
        KBitSTE(3, "odd")


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_code_range_closed_form(bits):
    # full: all 2^k codes of a k-bit two's-complement integer; symmetric: 2^k - 1 codes
    lo, hi = code_range(bits, "full")
    assert (lo, hi) == (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    assert hi - lo + 1 == 2**bits
    lo_s, hi_s = code_range(bits, "symmetric")
    assert (lo_s, hi_s) == (-hi, hi) and hi_s - lo_s + 1 == 2**bits - 1
    assert code_range(bits) == (lo_s, hi_s)  # the functions' default
    with pytest.raises(ValueError, match="^levels must be one of"):
        code_range(bits, "asym")


def _numpy_full_quantize(x, bits):
    # the authors' UniformQuantize by hand: scale 2^(k-1) / max|x|, round, clamp to
    # [-2^(k-1), 2^(k-1) - 1], rescale (deel-ai-papers/hadamRNN, quantized_layers.py)
    half = 2 ** (bits - 1)
    alpha = np.abs(x).max()
    codes = np.clip(np.round(x * half / alpha), -half, half - 1)
    return codes * alpha / half, alpha / half, codes


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_full_levels_match_the_two_complement_quantizer(maybe_jit, bits):
    x = np.random.default_rng(10 + bits).standard_normal((9, 6)).astype(np.float32)
    ref, delta, ref_codes = _numpy_full_quantize(x.astype(np.float64), bits)
    f = maybe_jit(lambda v: ste_quantize(v, bits, levels="full"))
    q = np.asarray(f(x))
    np.testing.assert_allclose(q, ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(float(max_scale(x, bits, "full")), delta, rtol=1e-6)
    codes = np.asarray(quantize_codes(x, bits, max_scale(x, bits, "full"), "full"))
    np.testing.assert_array_equal(codes, ref_codes)
    assert codes.min() >= -(2 ** (bits - 1)) and codes.max() <= 2 ** (bits - 1) - 1
    np.testing.assert_allclose(fake_quantize(x, bits, levels="full"), ref, rtol=1e-6, atol=1e-7)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(_vjp(f, x, g), g)


def test_full_levels_hand_computed_values():
    # 3 bits, alpha = 2: step 2 / 4 = 0.5, codes [-4, 3]; -alpha is a level, +alpha is
    # clipped to 3 * 0.5 = 1.5 (the asymmetry of two's-complement codes)
    x = jnp.asarray([-2.0, -0.8, -0.2, 0.3, 0.74, 1.3, 2.0])
    np.testing.assert_allclose(
        ste_quantize(x, 3, levels="full"), [-2.0, -1.0, -0.0, 0.5, 0.5, 1.5, 1.5]
    )
    np.testing.assert_array_equal(quantize_codes(x, 3, 0.5, "full"), [-4, -2, 0, 1, 1, 3, 3])
    # symmetric: step 2 / 3, codes [-3, 3], both extremes are levels
    np.testing.assert_allclose(
        ste_quantize(x, 3), np.array([-3, -1, 0, 0, 1, 2, 3]) * 2.0 / 3, rtol=1e-6
    )
    # 4 bits full on a signed permutation-like tensor: -1 stays, +1 becomes 7/8
    np.testing.assert_allclose(
        ste_quantize(jnp.asarray([-1.0, 0.0, 1.0]), 4, levels="full"), [-1.0, 0.0, 0.875]
    )


def test_mse_scale_with_full_levels_beats_its_max_scale():
    x = np.random.default_rng(3).standard_normal(3000)
    for bits in (3, 4):
        lo, hi = code_range(bits, "full")
        d_max = float(max_scale(jnp.asarray(x), bits, "full"))
        d = float(mse_scale(jnp.asarray(x), bits, levels="full"))
        assert 0.2 * d_max <= d <= d_max

        def err(delta, lo=lo, hi=hi):
            return np.sum((x - delta * np.clip(np.round(x / delta), lo, hi)) ** 2)

        assert err(d) < err(d_max)


@pytest.mark.parametrize("bad", [1, 0, 25, 2.5, True, "4"])
def test_bad_bits(bad, user_checks):
    with user_checks(), pytest.raises(ValueError, match="bits"):
        check_bits(bad)
    with user_checks(), pytest.raises(ValueError, match="bits"):
        ste_quantize(jnp.ones(3), bad)


def test_activation_scale(user_checks):
    h = jnp.asarray([[-3.0, 1.0], [0.5, 2.0]])
    np.testing.assert_allclose(activation_scale(h, 3), 1.0)
    np.testing.assert_allclose(activation_scale(h, 8), 3.0 / 127)
    assert float(activation_scale(h, 4, percentile=50.0)) < 3.0 / 7
    with user_checks(), pytest.raises(ValueError, match="percentile"):
        activation_scale(h, 4, percentile=0)


def _sq_error(x: np.ndarray, delta: float, bits: int) -> float:
    lim = 2 ** (bits - 1) - 1
    return float(np.sum((x - delta * np.clip(np.round(x / delta), -lim, lim)) ** 2))


@pytest.mark.parametrize("bits", [2, 4, 6])
def test_mse_scale_beats_max_scale_and_is_near_the_continuous_optimum(x64, bits):
    x = np.random.default_rng(bits).standard_normal(4000)
    delta = float(mse_scale(jnp.asarray(x), bits))
    alpha = np.abs(x).max()
    lim = 2 ** (bits - 1) - 1
    assert 0.2 * alpha / lim <= delta <= alpha / lim
    assert _sq_error(x, delta, bits) <= _sq_error(x, alpha / lim, bits)
    # independent check: a fine scan of the step (numpy) finds nothing much better than
    # the 64-point grid
    fine = np.linspace(0.2, 1.0, 4001) * alpha / lim
    best = min(_sq_error(x, d, bits) for d in fine)
    assert _sq_error(x, delta, bits) <= 1.01 * best


def test_ste_quantize_with_mse_scale(maybe_jit):
    x = jnp.asarray(np.random.default_rng(0).standard_normal(200).astype(np.float32))
    q = np.asarray(maybe_jit(lambda x: ste_quantize(x, 4, "mse"))(x))
    delta = float(mse_scale(x, 4))
    codes = q / delta
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-4)
    assert np.abs(codes).max() <= 7 + 1e-4
    # the largest entries are clipped: the mse step is below max|x| / 7
    assert delta < float(symmetric_scale(x, 4))
    g = np.arange(200, dtype=np.float32)
    np.testing.assert_array_equal(_vjp(lambda x: ste_quantize(x, 4, "mse"), x, g), g)
    with pytest.raises(ValueError, match="scale must be one of max, mse; got 'l2'"):
        ste_quantize(x, 4, "l2")
    with pytest.raises(ValueError, match="grid must be a positive integer"):
        mse_scale(x, 4, grid=0)
