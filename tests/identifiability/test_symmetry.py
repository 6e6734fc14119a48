"""Permutations and positive rescalings: same function, same canonical form, distance 0."""

import jax
import numpy as np
import pytest

from jaxorth.identifiability import (
    apply_symmetry,
    canonical_form,
    equivalent,
    match_neurons,
    parameter_distance,
    random_params,
    random_symmetry,
    relu_mlp,
)

WIDTHS = [(2, 5, 1), (3, 6, 4, 2)]


def _outputs(params, seed=0, n=64):
    x = np.random.default_rng(seed).normal(size=(n, np.shape(params[0][0])[1]))
    return np.asarray(relu_mlp(params, x))


@pytest.mark.parametrize("dims", WIDTHS)
def test_symmetric_copy_is_equivalent(x64, dims):
    p = random_params(jax.random.PRNGKey(0), dims)
    q, (perms, scales) = random_symmetry(jax.random.PRNGKey(1), p, log_scale=1.0)
    assert any(not np.array_equal(pm, np.arange(len(pm))) for pm in perms)
    np.testing.assert_allclose(_outputs(q), _outputs(p), rtol=1e-12, atol=1e-12)
    for (wa, ba), (wb, bb) in zip(canonical_form(p), canonical_form(q)):
        np.testing.assert_allclose(wb, wa, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(bb, ba, rtol=1e-12, atol=1e-12)
    assert parameter_distance(p, q) < 1e-12
    assert equivalent(p, q)
    # the canonical form computes the same function
    np.testing.assert_allclose(_outputs(canonical_form(p)), _outputs(p), rtol=1e-12, atol=1e-12)


def test_match_neurons_finds_the_permutation(x64):
    p = random_params(jax.random.PRNGKey(2), (3, 6, 4, 2))
    cp = canonical_form(p)
    perms = [np.array([3, 0, 5, 1, 4, 2]), np.array([2, 3, 1, 0])]
    shuffled = apply_symmetry(cp, perms, None)
    found = match_neurons(cp, shuffled)
    aligned = apply_symmetry(canonical_form(shuffled), found)
    for (wa, ba), (wb, bb) in zip(cp, aligned):
        np.testing.assert_allclose(wb, wa, atol=1e-12)
        np.testing.assert_allclose(bb, ba, atol=1e-12)


def test_negative_scaling_and_perturbation_are_not_equivalent(x64):
    p = random_params(jax.random.PRNGKey(0), (2, 5, 1))
    flip = [(np.asarray(w).copy(), np.asarray(b).copy()) for w, b in p]
    flip[0][0][2] *= -1.0  # sign flip of neuron 2: incoming * -1, outgoing * -1
    flip[0][1][2] *= -1.0
    flip[1][0][:, 2] *= -1.0
    assert np.abs(_outputs(flip) - _outputs(p)).max() > 1e-3
    assert not equivalent(p, flip)
    assert parameter_distance(p, flip) > 1e-2
    rng = np.random.default_rng(0)
    pert = [(np.asarray(w) + 1e-3 * rng.normal(size=np.shape(w)), np.asarray(b)) for w, b in p]
    assert np.abs(_outputs(pert) - _outputs(p)).max() > 1e-6
    assert not equivalent(p, pert)
    assert 1e-4 < parameter_distance(p, pert, relative=True) < 1e-1


def test_zero_neuron_canonical_form(x64):
    p = [
        (np.asarray(w).copy(), np.asarray(b).copy())
        for w, b in random_params(jax.random.PRNGKey(0), (2, 4, 1))
    ]
    p[0][0][1] = 0.0
    p[0][1][1] = 0.0
    other = [(w.copy(), b.copy()) for w, b in p]
    other[1][0][0, 1] = 7.0  # outgoing weight of the zero neuron: irrelevant
    np.testing.assert_allclose(_outputs(other), _outputs(p), rtol=1e-14)
    c = canonical_form(p)
    assert np.all(c[0][0][-1] == 0) and c[0][1][-1] == 0 and c[1][0][0, -1] == 0
    assert equivalent(p, other)


def test_different_widths_and_bad_symmetries(x64, user_checks):
    a = random_params(jax.random.PRNGKey(0), (2, 5, 1))
    b = random_params(jax.random.PRNGKey(0), (2, 4, 1))
    assert not equivalent(a, b)
    with pytest.raises(
        ValueError, match=r"params_b has widths \(2, 4, 1\) but params_a has widths \(2, 5, 1\)"
    ):
        parameter_distance(a, b)
    with user_checks():
        with pytest.raises(ValueError, match="negative or zero scaling is not a symmetry of ReLU"):
            apply_symmetry(a, None, [np.array([1.0, 1.0, -1.0, 1.0, 1.0])])
        with pytest.raises(ValueError, match=r"permutations\[0\] must be a permutation of 0..4"):
            apply_symmetry(a, [np.array([0, 0, 1, 2, 3])], None)
        with pytest.raises(ValueError, match="one entry per hidden layer"):
            apply_symmetry(a, [np.arange(5), np.arange(1)], None)


def test_hyperplane_distance_rejects_zero_rows():
    from jaxorth.identifiability import hyperplane_distance

    w, b = np.ones((2, 3)), np.ones(2)
    with pytest.raises(ValueError, match="layer_b must have finite, nonzero rows"):
        hyperplane_distance((w, b), (np.zeros((2, 3)), np.zeros(2)))
