"""Convolution chains: the product against numpy, the lifting against the product, and
the topology test against a brute-force enumeration of the sums."""

import itertools

import jax
import numpy as np
import pytest

from jaxorth.multilinear import (
    check_supports,
    conv_chain,
    conv_chain_identifiable,
    lifting,
    product_shape,
)


def _sum_counts(supports):
    """Offset sum -> number of tuples with that sum, by enumerating S_1 x ... x S_K."""
    out = {}
    for combo in itertools.product(*[np.asarray(s).reshape(len(s), -1) for s in supports]):
        key = tuple(int(v) for v in np.sum(combo, axis=0))
        out[key] = out.get(key, 0) + 1
    return out


def _numpy_chain(h, supports):
    out = None
    for hk, s in zip(h, supports):
        s = np.asarray(s)
        f = np.zeros(s.max() + 1)
        f[s] = hk
        out = f if out is None else np.convolve(out, f)
    return out


def test_the_papers_examples():
    bad = conv_chain_identifiable([[0, 1], [0, 1]])
    assert not bad.identifiable and bad.n_colliding_sums == 1
    assert set(bad.collisions[0]) == {(0, 1), (1, 0)}
    assert conv_chain_identifiable([[0, 1], [0, 2]]).identifiable
    for K in range(1, 11):
        dyadic = [[0, 2 ** (k - 1)] for k in range(1, K + 1)]
        top = conv_chain_identifiable(dyadic)
        assert top.identifiable and top.n_sums == top.n_tuples == 2**K


def test_topology_agrees_with_brute_force_on_random_supports():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        K = int(rng.integers(2, 5))
        supports = [
            sorted(rng.choice(9, size=int(rng.integers(1, 4)), replace=False).tolist())
            for _ in range(K)
        ]
        counts = _sum_counts(supports)
        top = conv_chain_identifiable(supports, max_collisions=100)
        assert top.identifiable == (max(counts.values()) == 1), supports
        assert top.n_sums == len(counts)
        assert top.n_colliding_sums == sum(c >= 2 for c in counts.values())
        for a, b in top.collisions:  # genuine: distinct tuples, one from each support, same sum
            assert a != b and sum(a) == sum(b)
            assert all(x in s and y in s for x, y, s in zip(a, b, supports))
        seen.add(top.identifiable)
    assert seen == {True, False}


def test_two_dimensional_topology():
    # {(0,0),(0,1)} twice: (0,1)+(0,0) = (0,0)+(0,1); against a support along the other axis
    assert not conv_chain_identifiable([[(0, 0), (0, 1)], [(0, 0), (0, 1)]]).identifiable
    top = conv_chain_identifiable([[(0, 0), (0, 1)], [(0, 0), (1, 0)]])
    assert top.identifiable and top.n_sums == 4


def test_large_chain_is_decided_without_enumerating():
    # K = 10 supports of 30 offsets: 30^10 = 5.9e14 tuples, never listed
    rng = np.random.default_rng(1)
    supports = [sorted(rng.choice(200, 30, replace=False).tolist()) for _ in range(10)]
    top = conv_chain_identifiable(supports)
    assert not top.identifiable and top.n_tuples == 30**10
    (a, b), *_ = top.collisions
    assert a != b and sum(a) == sum(b)


def test_conv_chain_matches_numpy_and_the_lifting(x64):
    rng = np.random.default_rng(2)
    supports = [[0, 3], [0, 1, 5], [2, 4]]
    h = [rng.normal(size=len(s)) for s in supports]
    x = np.asarray(conv_chain(h, supports))
    assert x.shape == product_shape(supports) == (3 + 5 + 4 + 1,)
    np.testing.assert_allclose(x, _numpy_chain(h, supports), atol=1e-13)
    a = lifting(supports)
    kron = np.kron(np.kron(h[0], h[1]), h[2])
    np.testing.assert_allclose(a @ kron, x, atol=1e-13)
    matvec = lifting(supports, as_matrix=False)
    np.testing.assert_allclose(np.asarray(matvec(kron.reshape(2, 3, 2))), x, atol=1e-13)
    # the lifting sums the entries with equal offset sums: each column is one unit filter
    assert (a.sum(axis=0) == 1).all() and a.shape == (13, 12)
    # differentiable and jit-able in the factors
    g = jax.jit(jax.grad(lambda h0: conv_chain([h0, h[1], h[2]], supports).sum()))(h[0])
    np.testing.assert_allclose(g, np.full(2, np.sum(h[1]) * np.sum(h[2])), atol=1e-12)


def test_two_dimensional_chain_matches_the_lifting(x64):
    rng = np.random.default_rng(3)
    supports = [[(0, 0), (1, 2)], [(0, 1), (2, 0), (1, 1)]]
    h = [rng.normal(size=len(s)) for s in supports]
    x = np.asarray(conv_chain(h, supports))
    assert x.shape == (4, 4)
    ref = np.zeros((4, 4))
    for (i, s), (j, t) in itertools.product(enumerate(supports[0]), enumerate(supports[1])):
        ref[s[0] + t[0], s[1] + t[1]] += h[0][i] * h[1][j]
    np.testing.assert_allclose(x, ref, atol=1e-13)
    np.testing.assert_allclose(
        (lifting(supports) @ np.kron(h[0], h[1])).reshape(4, 4), ref, atol=1e-13
    )


@pytest.mark.parametrize(
    ("supports", "match"),
    [
        ([], "non-empty list of supports"),
        ([[0, 1], []], r"supports\[1\] is empty"),
        ([[0, 1], [0, -1]], r"supports\[1\] must hold non-negative offsets"),
        ([[0, 1, 1]], r"supports\[0\] has a repeated offset"),
        ([[0.5, 1]], r"supports\[0\] must hold integer offsets"),
        ([[0, 1], [(0, 1)]], r"supports\[1\] must hold offsets of dimension 1"),
    ],
)
def test_bad_supports(supports, match):
    with pytest.raises(ValueError, match=match):
        check_supports(supports)


def test_bad_factors():
    with pytest.raises(ValueError, match=r"h must be a list of 2 factors"):
        conv_chain([np.ones(2)], [[0, 1], [0, 2]])
    with pytest.raises(ValueError, match=r"h\[1\] must have shape \(2,\)"):
        conv_chain([np.ones(2), np.ones(3)], [[0, 1], [0, 2]])
    with pytest.raises(ValueError, match=r"tensor must have shape \(2, 2\)"):
        lifting([[0, 1], [0, 2]], as_matrix=False)(np.ones(3))
