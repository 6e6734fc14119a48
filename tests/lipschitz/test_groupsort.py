"""groupsort: a per-group sort (numpy loop reference), a permutation, 1-Lipschitz."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.lipschitz import groupsort, maxmin


def reference_groupsort(x, group_size, axis, grouping="contiguous", descending=True):
    """Sort each group of channels with numpy, one group at a time."""
    x = np.moveaxis(np.asarray(x), axis, 0)
    out = np.empty_like(x)
    n_groups = x.shape[0] // group_size
    for g in range(n_groups):
        if grouping == "contiguous":
            idx = np.arange(g * group_size, (g + 1) * group_size)
        else:
            idx = g + n_groups * np.arange(group_size)
        block = np.sort(x[idx], axis=0)
        out[idx] = block[::-1] if descending else block
    return np.moveaxis(out, 0, axis)


@pytest.mark.parametrize(
    ("shape", "group_size", "axis"),
    [((3, 6, 4, 4), 3, 1), ((5, 8), 4, 1), ((4, 3, 6), 2, -1), ((2, 12, 3), 6, 1)],
)
@pytest.mark.parametrize(("grouping", "descending"), [("contiguous", True), ("strided", False)])
def test_groupsort_matches_a_per_group_sort(shape, group_size, axis, grouping, descending):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = groupsort(jnp.asarray(x), group_size, axis, grouping=grouping, descending=descending)
    expected = reference_groupsort(x, group_size, axis, grouping, descending)
    np.testing.assert_array_equal(np.asarray(y), expected)


def test_groupsort_output_sorted_within_groups_and_norm_preserved(maybe_jit):
    x = np.random.default_rng(1).standard_normal((7, 12, 5)).astype(np.float32)
    y = np.asarray(maybe_jit(lambda z: groupsort(z, 4))(jnp.asarray(x)))
    groups = y.reshape(7, 3, 4, 5)  # contiguous groups of 4 channels
    assert (np.diff(groups, axis=2) <= 0).all()  # descending, as maxmin
    # each group holds the same values as before (a permutation inside the group)
    np.testing.assert_array_equal(np.sort(groups, axis=2), np.sort(x.reshape(7, 3, 4, 5), axis=2))
    np.testing.assert_allclose(
        np.linalg.norm(y.reshape(7, -1), axis=1),
        np.linalg.norm(x.reshape(7, -1), axis=1),
        rtol=1e-6,
    )


def test_groupsort_full_sort_and_identity():
    x = np.random.default_rng(2).standard_normal((4, 9, 2)).astype(np.float32)
    full = np.asarray(groupsort(jnp.asarray(x), 9))
    np.testing.assert_array_equal(full, -np.sort(-x, axis=1))
    np.testing.assert_array_equal(
        np.asarray(groupsort(jnp.asarray(x), 9, descending=False)), np.sort(x, axis=1)
    )
    np.testing.assert_array_equal(np.asarray(groupsort(jnp.asarray(x), 1)), x)


def test_groupsort_of_pairs_and_maxmin():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 8, 2)).astype(np.float32)
    ref = np.asarray(maxmin(jnp.asarray(x)))
    # strided pairs (i, i + C/2) are maxmin's
    np.testing.assert_array_equal(np.asarray(groupsort(jnp.asarray(x), 2, grouping="strided")), ref)
    # contiguous pairs (2i, 2i + 1) are maxmin after interleaving the two halves
    interleave = np.stack([np.arange(4), np.arange(4) + 4], axis=1).reshape(-1)  # 0 4 1 5 ..
    contiguous = np.asarray(groupsort(jnp.asarray(x[:, interleave]), 2))
    np.testing.assert_array_equal(contiguous[:, np.argsort(interleave)], ref)
    assert not np.array_equal(np.asarray(groupsort(jnp.asarray(x), 2)), ref)


def test_groupsort_is_one_lipschitz_on_random_pairs():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 12))
    y = x + rng.standard_normal((300, 12)) * rng.uniform(1e-3, 3, (300, 1))
    f = jax.jit(lambda z: groupsort(z, 3))
    fx, fy = np.asarray(f(jnp.asarray(x, jnp.float32))), np.asarray(f(jnp.asarray(y, jnp.float32)))
    ratio = np.linalg.norm(fx - fy, axis=1) / np.linalg.norm(x - y, axis=1)
    assert ratio.max() <= 1 + 1e-5
    assert ratio.max() > 0.99  # attained by pairs whose orders agree
    assert ratio.min() < 0.9  # and the map is not an isometry


@pytest.mark.parametrize("grouping", ["contiguous", "strided"])
def test_groupsort_jacobian_is_a_permutation(grouping):
    x = jnp.asarray(np.random.default_rng(5).standard_normal((1, 6, 2)), jnp.float32)
    jac = np.asarray(
        jax.jit(jax.jacobian(lambda z: groupsort(z, 3, grouping=grouping)))(x)
    ).reshape(12, 12)
    assert set(np.unique(jac)) == {0.0, 1.0}
    np.testing.assert_array_equal(jac.sum(axis=0), 1.0)
    np.testing.assert_array_equal(jac.sum(axis=1), 1.0)
    # piecewise linear and positively homogeneous: y = J x
    y = np.asarray(groupsort(x, 3, grouping=grouping)).reshape(-1)
    np.testing.assert_array_equal(jac @ np.asarray(x).reshape(-1), y)


def test_groupsort_bad_input(user_checks):
    x = jnp.zeros((2, 6, 3))
    with user_checks(), pytest.raises(ValueError, match="group_size must divide .* C=6"):
        groupsort(x, 4)
    with user_checks(), pytest.raises(ValueError, match="group_size must be a positive integer"):
        groupsort(x, 0)
    with user_checks(), pytest.raises(ValueError, match="grouping must be one of"):
        groupsort(x, 2, grouping="interleaved")
    with user_checks(), pytest.raises(ValueError, match=r"axis must lie in \[-3, 3\)"):
        groupsort(x, 2, axis=3)
