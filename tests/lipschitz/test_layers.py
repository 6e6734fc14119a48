"""space_to_depth / depth_to_space (a permutation, exact inverse) and l2_norm_pool."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.lipschitz import depth_to_space, l2_norm_pool, space_to_depth


def reference_space_to_depth(x, b):
    """y[:, c b^2 + i b + j] = x[:, c, i::b, j::b], channel by channel."""
    n, c, h, w = x.shape
    out = np.empty((n, c * b * b, h // b, w // b), x.dtype)
    for ch in range(c):
        for i in range(b):
            for j in range(b):
                out[:, ch * b * b + i * b + j] = x[:, ch, i::b, j::b]
    return out


@pytest.mark.parametrize(
    ("shape", "block"), [((2, 3, 4, 6), 2), ((1, 2, 6, 3), 3), ((2, 1, 4, 4), 1)]
)
def test_space_to_depth_matches_reference_and_inverts(maybe_jit, shape, block):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = np.asarray(maybe_jit(lambda z: space_to_depth(z, block))(jnp.asarray(x)))
    np.testing.assert_array_equal(y, reference_space_to_depth(x, block))
    back = maybe_jit(lambda z: depth_to_space(z, block))(jnp.asarray(y))
    np.testing.assert_array_equal(np.asarray(back), x)
    np.testing.assert_array_equal(
        np.asarray(space_to_depth(depth_to_space(jnp.asarray(y), block), block)), y
    )
    assert np.linalg.norm(y) == pytest.approx(np.linalg.norm(x), rel=1e-6)


def test_space_to_depth_is_a_permutation_matrix():
    # the matrix of the map (its images of the basis) is a 0/1 orthogonal matrix
    eye = jnp.eye(2 * 4 * 4, dtype=jnp.float32).reshape(-1, 2, 4, 4)
    mat = np.asarray(space_to_depth(eye, 2)).reshape(32, 32).T
    assert set(np.unique(mat)) == {0.0, 1.0}
    np.testing.assert_array_equal(mat @ mat.T, np.eye(32))
    inv = np.asarray(depth_to_space(jnp.eye(32, dtype=jnp.float32).reshape(-1, 8, 2, 2), 2))
    np.testing.assert_array_equal(inv.reshape(32, 32).T, mat.T)  # the inverse is the transpose


def test_space_to_depth_is_one_lipschitz_on_random_pairs():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 50, 2, 4, 4)).astype(np.float32)
    fx, fy = (
        np.asarray(space_to_depth(jnp.asarray(x), 2)),
        np.asarray(space_to_depth(jnp.asarray(y), 2)),
    )
    ratio = np.linalg.norm((fx - fy).reshape(50, -1), axis=1) / np.linalg.norm(
        (x - y).reshape(50, -1), axis=1
    )
    np.testing.assert_allclose(ratio, 1.0, rtol=1e-6)  # an isometry


def test_l2_norm_pool_values_norm_and_lipschitz(maybe_jit):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((200, 3, 4, 5))
    pool = maybe_jit(l2_norm_pool)
    px = np.asarray(pool(jnp.asarray(x, jnp.float32)))
    np.testing.assert_allclose(px, np.sqrt((x**2).sum(axis=(2, 3))), rtol=1e-5)
    np.testing.assert_allclose(
        np.linalg.norm(px, axis=1), np.linalg.norm(x.reshape(200, -1), axis=1), rtol=1e-5
    )
    y = x + rng.standard_normal(x.shape) * rng.uniform(1e-2, 3, (200, 1, 1, 1))
    py = np.asarray(pool(jnp.asarray(y, jnp.float32)))
    ratio = np.linalg.norm(px - py, axis=1) / np.linalg.norm((x - y).reshape(200, -1), axis=1)
    assert ratio.max() <= 1 + 1e-5
    assert ratio.min() < 0.5  # far from an isometry (not injective)
    # pairs along a ray attain the constant 1
    ray = np.asarray(pool(jnp.asarray(1.7 * x, jnp.float32)))
    np.testing.assert_allclose(
        np.linalg.norm(ray - px, axis=1),
        0.7 * np.linalg.norm(x.reshape(200, -1), axis=1),
        rtol=1e-5,
    )


def test_l2_norm_pool_gradient_has_unit_norm_and_is_finite_at_zero():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    x[1, 2] = 0.0  # a zero channel
    jac = np.asarray(jax.jit(jax.jacobian(l2_norm_pool))(jnp.asarray(x)))  # (2, 3, 2, 3, 4)
    assert np.isfinite(jac).all()
    for b in range(2):
        for c in range(3):
            row = jac[b, c]
            expected = np.zeros_like(x)
            if np.any(x[b, c]):
                expected[b, c] = x[b, c] / np.linalg.norm(x[b, c])
            np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(jac[0].reshape(3, -1), axis=1), 1.0, rtol=1e-5)


def test_layer_bad_input(user_checks):
    with (
        user_checks(),
        pytest.raises(ValueError, match="block must divide the spatial sizes H=6 and W=4"),
    ):
        space_to_depth(jnp.zeros((1, 2, 6, 4)), 4)
    with user_checks(), pytest.raises(ValueError, match="block must be a positive integer"):
        space_to_depth(jnp.zeros((1, 2, 4, 4)), 0)
    with (
        user_checks(),
        pytest.raises(ValueError, match=r"block\*\*2 must divide the number of channels D=6"),
    ):
        depth_to_space(jnp.zeros((1, 6, 2, 2)), 2)
    with user_checks(), pytest.raises(ValueError, match=r"x must have shape \(B, C, \*spatial\)"):
        l2_norm_pool(jnp.zeros((2, 3)))
