"""Recovery of a convolution chain's factors from its product, up to rescaling."""

import jax
import numpy as np
import pytest

from jaxorth.multilinear import conv_chain, conv_chain_identifiable, recover, scale_distance


def _product(h, supports):
    out = None
    for hk, s in zip(h, supports):
        f = np.zeros(max(s) + 1)
        f[list(s)] = hk
        out = f if out is None else np.convolve(out, f)  # numpy, independent of conv_chain
    return out


def test_scale_distance_is_zero_exactly_on_rescalings():
    rng = np.random.default_rng(0)
    h = [rng.normal(size=n) for n in (2, 3, 2)]
    lam = np.array([2.0, -0.25, -2.0])  # product 1, two sign flips
    assert scale_distance(h, [l * a for l, a in zip(lam, h)]) < 1e-14
    # a scale that does not multiply to 1, a lone sign flip, a perturbation: all seen
    assert scale_distance(h, [3.0 * h[0], h[1], h[2]]) == pytest.approx(2.0)
    assert scale_distance(h, [-h[0], h[1], h[2]]) > 0.5
    assert scale_distance(h, [h[0] + 1e-3, h[1], h[2]]) > 1e-4
    with pytest.raises(ValueError, match="same number of factors"):
        scale_distance(h, h[:2])


def test_identifiable_chain_is_recovered_up_to_scale():
    supports = [[0, 1], [0, 2], [0, 4]]
    assert conv_chain_identifiable(supports).identifiable
    h = [np.random.default_rng(1).normal(size=2) for _ in supports]
    res = recover(_product(h, supports), supports, key=jax.random.PRNGKey(0), starts=4)
    assert res.residual < 1e-10
    assert scale_distance(h, res.factors) < 1e-6
    assert len(res.residuals) == 4


def test_non_identifiable_chain_fits_without_determining_the_factors():
    # {0,1},{0,1}: swapping the two factors gives the same product; the fit is exact,
    # and some start lands on the swapped factors (different up to scale)
    supports = [[0, 1], [0, 1]]
    h = [np.array([1.0, 2.0]), np.array([1.0, -3.0])]
    x = _product(h, supports)
    found = []
    for seed in range(6):
        res = recover(x, supports, key=jax.random.PRNGKey(seed), starts=1)
        assert res.residual < 1e-10
        found.append(scale_distance(h, res.factors))
    assert min(found) < 1e-6 and max(found) > 0.1
    swapped = [h[1], h[0]]
    assert any(
        scale_distance(swapped, recover(x, supports, key=jax.random.PRNGKey(s), starts=1).factors)
        < 1e-6
        for s in range(6)
    )


def test_bad_product_shape():
    with pytest.raises(ValueError, match=r"product must have shape \(4,\)"):
        recover(np.ones(5), [[0, 1], [0, 2]], key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="starts must be a positive integer"):
        recover(np.ones(4), [[0, 1], [0, 2]], key=jax.random.PRNGKey(0), starts=0)


def test_conv_chain_agrees_with_the_numpy_product(x64):
    supports = [[0, 1], [0, 2], [0, 4]]
    h = [np.random.default_rng(2).normal(size=2) for _ in supports]
    np.testing.assert_allclose(
        np.asarray(conv_chain(h, supports)), _product(h, supports), atol=1e-14
    )


def test_bad_inputs_of_scale_distance_and_recover():
    h = [np.ones(2), np.ones(3)]
    with pytest.raises(ValueError, match=r"h\[1\] and g\[1\] must have the same shape"):
        scale_distance(h, [np.ones(2), np.ones(2)])
    with pytest.raises(ValueError, match="every factor of h and g must be nonzero"):
        scale_distance(h, [np.zeros(2), np.ones(3)])
    with pytest.raises(ValueError, match="product has non-finite entries"):
        recover(np.array([1.0, np.nan, 0, 0]), [[0, 1], [0, 2]], key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="iterations must be a positive integer"):
        recover(np.ones(4), [[0, 1], [0, 2]], key=jax.random.PRNGKey(0), iterations=0)
