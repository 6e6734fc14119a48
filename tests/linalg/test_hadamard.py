import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxorth.linalg import block_fwht, fwht, is_power_of_two, sylvester_hadamard
from jaxorth.linalg._hadamard import _FASTEST, _factor_sizes


@pytest.mark.parametrize("n", [1, 2, 4, 16, 64])
def test_sylvester_matches_scipy_and_is_orthogonal(n):
    h = np.asarray(sylvester_hadamard(n))
    np.testing.assert_array_equal(h, scipy.linalg.hadamard(n))
    np.testing.assert_array_equal(h @ h.T, n * np.eye(n))


@pytest.mark.parametrize(
    ("n", "radix", "batch"),
    [(1, 2, ()), (2, 16, (3,)), (8, 4, (2, 3)), (128, 2, (3,)), (128, 16, (2, 3)), (64, 4, ())],
)
def test_fwht_equals_dense_product_float64(x64, maybe_jit, n, radix, batch):
    x = np.random.default_rng(n + radix).standard_normal((*batch, n))
    f = maybe_jit(lambda v: fwht(v, radix=radix))
    got = np.asarray(f(jnp.asarray(x)))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, x @ scipy.linalg.hadamard(n), rtol=1e-12, atol=1e-12)
    normed = np.asarray(fwht(jnp.asarray(x), normalize=True, radix=radix))
    np.testing.assert_allclose(normed, x @ scipy.linalg.hadamard(n) / np.sqrt(n), atol=1e-12)


@pytest.mark.parametrize("radix", [2, 8, 64])
def test_fwht_exact_on_integers(radix):
    c = np.random.default_rng(0).integers(-1000, 1000, size=(4, 64)).astype(np.int32)
    got = np.asarray(fwht(jnp.asarray(c), radix=radix))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, c.astype(np.int64) @ scipy.linalg.hadamard(64))


def _np_fwht(x):
    """Butterfly FWHT in float64 numpy (``x H_n``), independent of the library's code."""
    y = np.array(x, np.float64)
    n, h = y.shape[-1], 1
    while h < n:
        z = y.reshape(*y.shape[:-1], n // (2 * h), 2, h)
        y = np.stack([z[..., 0, :] + z[..., 1, :], z[..., 0, :] - z[..., 1, :]], axis=-2)
        y = y.reshape(*x.shape)
        h *= 2
    return y


@pytest.mark.parametrize("n", [64, 128, 256, 512, 1024, 2048, 4096])
def test_fwht_fastest_splits_equal_the_dense_product_float64(x64, n):
    """The measured fastest split of every size (radix 64), forward, normalised and vjp."""
    rng = np.random.default_rng(n)
    x, g = rng.standard_normal((2, 3, n))
    if n <= 1024:  # the numpy reference itself against scipy's dense H_n
        np.testing.assert_allclose(_np_fwht(x), x @ scipy.linalg.hadamard(n), atol=1e-12)
    ref = _np_fwht(x)

    @jax.jit
    def run(v, w):
        y, vjp = jax.vjp(lambda u: fwht(u, normalize=True, radix=64), v)
        return fwht(v, radix=64), y, vjp(w)[0]

    plain, normed, grad = (np.asarray(a) for a in run(jnp.asarray(x), jnp.asarray(g)))
    tol = 1e-13 * np.sqrt(n) * np.abs(ref).max()
    np.testing.assert_allclose(plain, ref, atol=tol)
    np.testing.assert_allclose(normed, ref / np.sqrt(n), atol=tol / np.sqrt(n))
    np.testing.assert_allclose(grad, _np_fwht(g) / np.sqrt(n), atol=tol / np.sqrt(n))


def test_factor_sizes_multiply_to_n_under_the_radix():
    for k in range(1, 15):
        n = 2**k
        for radix in (4, 8, 16, 32, 64, 128):
            sizes = _factor_sizes(n, radix)
            assert np.prod(sizes) == n and max(sizes) <= radix, (n, radix, sizes)
            if n in _FASTEST and max(_FASTEST[n]) <= radix:
                assert sizes == _FASTEST[n]
    assert _factor_sizes(1024, 64) == (32, 32)  # two passes, not (16, 8, 8)
    assert _factor_sizes(1024, 16) == (16, 8, 8)  # radix 16: the balanced split


def test_fwht_float32_close_to_float64():
    x = np.random.default_rng(1).standard_normal((5, 256)).astype(np.float32)
    got = np.asarray(fwht(jnp.asarray(x), normalize=True))
    ref = x.astype(np.float64) @ scipy.linalg.hadamard(256) / 16.0
    np.testing.assert_allclose(got, ref, atol=2e-5)


def test_fwht_vjp_is_the_transform(x64):
    # H is symmetric: the adjoint of x -> x H is g -> g H.
    x = jnp.asarray(np.random.default_rng(2).standard_normal((3, 32)))
    g = jnp.asarray(np.random.default_rng(3).standard_normal((3, 32)))
    _, vjp = jax.vjp(fwht, x)
    np.testing.assert_allclose(vjp(g)[0], np.asarray(g) @ scipy.linalg.hadamard(32), atol=1e-12)


@pytest.mark.parametrize(("n", "m"), [(16, 4), (64, 8), (32, 32), (24, 8)])
def test_block_fwht_equals_kron(x64, maybe_jit, n, m):
    x = np.random.default_rng(n * m).standard_normal((2, n))
    got = np.asarray(maybe_jit(lambda v: block_fwht(v, m))(jnp.asarray(x)))
    ref = x @ np.kron(np.eye(n // m), scipy.linalg.hadamard(m))
    np.testing.assert_allclose(got, ref, atol=1e-12)


def _all_eqns(jaxpr):
    for eqn in jaxpr.eqns:
        yield eqn
        for param in eqn.params.values():
            inner = getattr(param, "jaxpr", None)
            if inner is not None:
                yield from _all_eqns(getattr(inner, "jaxpr", inner))


@pytest.mark.parametrize(("n", "radix", "n_dots"), [(256, 16, 2), (1024, 64, 2), (4096, 64, 3)])
def test_fwht_never_builds_an_n_by_n_matrix(n, radix, n_dots):
    # 256 = 16 x 16, 1024 = 32 x 32, 4096 = 16 x 16 x 16: one small product per factor
    jaxpr = jax.make_jaxpr(lambda v: fwht(v, radix=radix))(jnp.ones((4, n)))
    eqns = list(_all_eqns(jaxpr.jaxpr))
    dots = [e for e in eqns if e.primitive.name == "dot_general"]
    assert len(dots) == n_dots
    for eqn in eqns:
        for var in (*eqn.invars, *eqn.outvars):
            shape = getattr(getattr(var, "aval", None), "shape", ())
            assert np.prod(shape, dtype=np.int64) <= 4 * n, (eqn.primitive, shape)


@pytest.mark.parametrize("bad", [0, 3, 12, 100])
def test_bad_sizes_raise(bad):
    assert not is_power_of_two(bad)
    with pytest.raises(ValueError, match="power of 2"):
        sylvester_hadamard(bad)
    with pytest.raises(ValueError, match="power of 2"):
        fwht(jnp.ones((2, bad)))


def test_block_size_must_divide():
    with pytest.raises(ValueError, match="m=8 must divide n=12"):
        block_fwht(jnp.ones((2, 12)), 8)
    with pytest.raises(ValueError, match="power of 2"):
        block_fwht(jnp.ones((2, 12)), 3)
    with pytest.raises(ValueError, match="radix"):
        fwht(jnp.ones((2, 8)), radix=3)


@settings(max_examples=25, deadline=None)
@given(
    k=st.integers(0, 7),
    batch=st.lists(st.integers(1, 3), max_size=2),
    radix=st.sampled_from([2, 4, 16]),
    seed=st.integers(0, 2**31 - 1),
)
def test_fwht_is_an_involution_up_to_n(k, batch, radix, seed):
    # H_n H_n = n I (Sylvester): fwht(fwht(x)) = n x, and the normalised transform is
    # its own inverse; one application equals x @ scipy.linalg.hadamard(n)
    n = 2**k
    x = np.random.default_rng(seed).standard_normal((*batch, n)).astype(np.float32)

    @jax.jit  # one compilation per drawn shape for the three transforms
    def transforms(v):
        y = fwht(v, radix=radix)
        z = fwht(fwht(v, normalize=True, radix=radix), normalize=True, radix=radix)
        return y, fwht(y, radix=radix), z

    y, yy, z = transforms(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(y), x @ scipy.linalg.hadamard(n), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.asarray(yy), n * x, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(np.asarray(z), x, rtol=1e-5, atol=1e-5)
