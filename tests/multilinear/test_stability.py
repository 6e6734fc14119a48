"""The stability constant: 1 on identifiable convolution chains (A is an isometry on
their tensors), 0 on non-identifiable ones (a colliding pair of basis tensors)."""

import jax
import numpy as np
import pytest

from jaxorth.multilinear import conv_chain, lifting, stability_constant


def _tensor(factors):
    out = factors[0]
    for f in factors[1:]:
        out = np.kron(out, f)
    return out


@pytest.mark.parametrize("supports", [[[0, 1], [0, 2]], [[0, 1], [0, 2], [0, 4]]])
def test_identifiable_chains_have_constant_one(supports):
    est = stability_constant(supports, key=jax.random.PRNGKey(0), starts=3, steps=200)
    # never below sigma_min of the lifting (an isometry here), and the optimiser gets there
    a = lifting(supports)
    assert np.linalg.svd(a, compute_uv=False).min() == pytest.approx(1.0)
    assert 1.0 - 1e-9 <= est.value <= 1.0 + 1e-6
    assert not est.from_collision


def test_non_identifiable_chain_has_constant_zero():
    supports = [[0, 1], [0, 1]]
    est = stability_constant(supports, key=jax.random.PRNGKey(0), starts=3, steps=200)
    assert est.value < 1e-8
    # the random starts alone head there too (the collision pair makes it exact)
    assert min(est.start_values) < 1e-2
    a, b = est.pair
    t = _tensor(a) - _tensor(b)  # a nonzero difference of rank-one tensors in ker A
    assert np.linalg.norm(t) > 0.5
    np.testing.assert_allclose(lifting(supports) @ t, 0.0, atol=1e-12)
    np.testing.assert_allclose(
        np.asarray(conv_chain(a, supports)), np.asarray(conv_chain(b, supports)), atol=1e-12
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="starts must be a positive integer"):
        stability_constant([[0, 1]], key=jax.random.PRNGKey(0), starts=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        stability_constant([[0, 1]], key=jax.random.PRNGKey(0), learning_rate=0.0)


def test_bad_steps_and_collision_count():
    from jaxorth.multilinear import conv_chain_identifiable

    with pytest.raises(ValueError, match="steps must be a positive integer"):
        stability_constant([[0, 1]], key=jax.random.PRNGKey(0), steps=0)
    with pytest.raises(ValueError, match="max_collisions must be an integer >= 0"):
        conv_chain_identifiable([[0, 1]], max_collisions=-1)
