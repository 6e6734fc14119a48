"""maxmin: a sort of channel pairs (numpy reference), 1-Lipschitz, norm preserving."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.lipschitz import maxmin


def reference_maxmin(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """Pair channel i with channel i + C/2 and sort each pair in decreasing order."""
    x = np.moveaxis(x, axis, 0)
    half = x.shape[0] // 2
    pairs = np.stack([x[:half], x[half:]])  # (2, C/2, ...)
    ordered = -np.sort(-pairs, axis=0)
    return np.moveaxis(np.concatenate([ordered[0], ordered[1]]), 0, axis)


@pytest.mark.parametrize(("shape", "axis"), [((3, 6, 4, 4), 1), ((5, 8), 1), ((4, 3, 2), 2)])
def test_maxmin_sorts_channel_pairs(shape, axis):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(
        np.asarray(maxmin(jnp.asarray(x), axis=axis)), reference_maxmin(x, axis)
    )


def test_maxmin_is_permutation_equivariant_on_pairs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 10, 3)).astype(np.float32)
    perm = rng.permutation(5)
    # the same permutation of the pairs in both halves permutes the output alike
    xp = np.concatenate([x[:, :5][:, perm], x[:, 5:][:, perm]], axis=1)
    y, yp = np.asarray(maxmin(jnp.asarray(x))), np.asarray(maxmin(jnp.asarray(xp)))
    np.testing.assert_array_equal(yp, np.concatenate([y[:, :5][:, perm], y[:, 5:][:, perm]], 1))
    # swapping the two members of every pair changes nothing
    swapped = np.concatenate([x[:, 5:], x[:, :5]], axis=1)
    np.testing.assert_array_equal(np.asarray(maxmin(jnp.asarray(swapped))), y)


def test_maxmin_is_one_lipschitz_and_norm_preserving():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((200, 8))
    y = x + rng.standard_normal((200, 8)) * rng.uniform(1e-3, 3, (200, 1))
    fx, fy = np.asarray(maxmin(jnp.asarray(x))), np.asarray(maxmin(jnp.asarray(y)))
    ratio = np.linalg.norm(fx - fy, axis=1) / np.linalg.norm(x - y, axis=1)
    assert ratio.max() <= 1 + 1e-6
    assert ratio.max() > 0.99  # attained: pairs that keep their order
    np.testing.assert_allclose(np.linalg.norm(fx, axis=1), np.linalg.norm(x, axis=1), rtol=1e-6)


def test_maxmin_odd_channels_is_relu():
    x = np.random.default_rng(3).standard_normal((2, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(maxmin(jnp.asarray(x))), np.maximum(x, 0))
