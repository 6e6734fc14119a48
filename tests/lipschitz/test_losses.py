"""margin_cross_entropy and multiclass_hinge: closed forms, optax, limits, finite differences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxorth.lipschitz import margin_cross_entropy, multiclass_hinge


def reference_tau_cce(logits, labels, margin, temperature):
    """T * (logsumexp((f - m e_y) / T) - (f_y - m) / T), per example, in float64 numpy."""
    out = []
    for f, y in zip(np.asarray(logits, np.float64), labels):
        z = f.copy()
        z[y] -= margin
        z /= temperature
        top = z.max()
        out.append(temperature * (top + np.log(np.exp(z - top).sum()) - z[y]))
    return np.mean(out)


def reference_hinge(logits, labels, margin):
    """sum_{j != y} max(0, m - (f_y - f_j)), averaged, with explicit loops."""
    total = 0.0
    for f, y in zip(np.asarray(logits, np.float64), labels):
        total += sum(max(0.0, margin - (f[y] - f[j])) for j in range(len(f)) if j != y)
    return total / len(labels)


def test_margin_cross_entropy_hand_value():
    # z = ([2, 1, 0] - 0.5 e_0) / 0.5 = [3, 2, 0]; loss = 0.5 (log(e^3 + e^2 + 1) - 3)
    value = margin_cross_entropy(
        jnp.asarray([[2.0, 1.0, 0.0]]), jnp.asarray([0]), margin=0.5, temperature=0.5
    )
    assert float(value) == pytest.approx(0.5 * (np.log(np.e**3 + np.e**2 + 1.0) - 3.0), rel=1e-6)


def test_margin_cross_entropy_matches_reference(maybe_jit):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((16, 5)).astype(np.float32) * 3
    labels = rng.integers(0, 5, 16)
    for m, t in [(0.0, 1.0), (1.5, 0.25), (0.3, 4.0)]:
        f = maybe_jit(lambda a, b, m=m, t=t: margin_cross_entropy(a, b, margin=m, temperature=t))
        value = float(f(jnp.asarray(logits), jnp.asarray(labels)))
        assert value == pytest.approx(reference_tau_cce(logits, labels, m, t), rel=1e-5)


def test_margin_cross_entropy_plain_case_is_optax():
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.standard_normal((32, 10)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 10, 32))
    expected = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
    np.testing.assert_allclose(margin_cross_entropy(logits, labels), expected, rtol=1e-6)


def test_margin_cross_entropy_small_temperature_is_the_max_hinge(x64):
    # T log sum exp(z / T) -> max z: the loss tends to max(0, m + max_{j != y} f_j - f_y)
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((8, 4))
    labels = rng.integers(0, 4, 8)
    m = 0.7
    wrong = np.where(np.eye(4, dtype=bool)[labels], -np.inf, logits).max(1)
    hinge = np.maximum(0.0, m + wrong - logits[np.arange(8), labels]).mean()
    value = margin_cross_entropy(logits, labels, margin=m, temperature=1e-4)
    assert float(value) == pytest.approx(hinge, abs=4 * 1e-4 * np.log(4))


def test_multiclass_hinge_hand_values():
    logits = jnp.asarray([[3.0, 1.0, 2.5], [0.0, 0.2, -1.0]])
    # row 0, y = 0: max(0, 1 - 2) + max(0, 1 - 0.5) = 0.5
    # row 1, y = 2: max(0, 1 - (-1 - 0)) + max(0, 1 - (-1 - 0.2)) = 2 + 2.2 = 4.2
    value = multiclass_hinge(logits, jnp.asarray([0, 2]))
    assert float(value) == pytest.approx((0.5 + 4.2) / 2, rel=1e-6)


def test_multiclass_hinge_matches_reference(maybe_jit):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((16, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 16)
    for margin in (0.0, 0.5, 2.0):
        f = maybe_jit(lambda a, b, m=margin: multiclass_hinge(a, b, margin=m))
        value = float(f(jnp.asarray(logits), jnp.asarray(labels)))
        assert value == pytest.approx(reference_hinge(logits, labels, margin), rel=1e-5, abs=1e-7)


def test_multiclass_hinge_vanishes_exactly_beyond_the_margin():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 5, 10)
    logits = rng.uniform(-1, 0, (10, 5))
    logits[np.arange(10), labels] = 1.0  # every margin >= 1
    assert float(multiclass_hinge(jnp.asarray(logits), jnp.asarray(labels), margin=1.0)) == 0.0
    # one margin just below 1 makes it positive, by exactly the shortfall
    logits[0, (labels[0] + 1) % 5] = 0.25
    value = multiclass_hinge(jnp.asarray(logits), jnp.asarray(labels), margin=1.0)
    assert float(value) == pytest.approx((1.0 - (1.0 - 0.25)) / 10, rel=1e-6)


@pytest.mark.parametrize("loss", ["cce", "hinge"])
def test_gradients_match_finite_differences(x64, loss):
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    if loss == "cce":
        fn = lambda a: margin_cross_entropy(a, labels, margin=0.8, temperature=0.5)  # noqa: E731
    else:
        fn = lambda a: multiclass_hinge(a, labels, margin=0.8)  # noqa: E731
        # keep every margin away from the kink m = f_y - f_j
        pairs = logits[np.arange(6), labels][:, None] - logits
        assert np.abs(pairs - 0.8).min() > 1e-3
    fn = jax.jit(fn)
    grad = np.asarray(jax.grad(fn)(jnp.asarray(logits)))
    h, fd = 1e-6, np.zeros_like(logits)
    for idx in np.ndindex(logits.shape):
        e = np.zeros_like(logits)
        e[idx] = h
        fd[idx] = (float(fn(jnp.asarray(logits + e))) - float(fn(jnp.asarray(logits - e)))) / (
            2 * h
        )
    np.testing.assert_allclose(grad, fd, atol=1e-7)
    assert np.abs(grad).max() > 1e-2


def test_loss_bad_input(user_checks):
    logits, labels = jnp.zeros((2, 3)), jnp.asarray([0, 1])
    with user_checks(), pytest.raises(ValueError, match="temperature must be a positive number"):
        margin_cross_entropy(logits, labels, temperature=0.0)
    with user_checks(), pytest.raises(ValueError, match="margin must be a finite number >= 0"):
        multiclass_hinge(logits, labels, margin=-1.0)
    with user_checks(), pytest.raises(ValueError, match=r"labels must lie in \[0, K=3\)"):
        multiclass_hinge(logits, jnp.asarray([0, 3]))
    with user_checks(), pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        margin_cross_entropy(logits, jnp.asarray([0, 1, 2]))
    with user_checks(), pytest.raises(ValueError, match=r"logits must have shape \(B, K\)"):
        margin_cross_entropy(jnp.zeros((2, 1)), labels)
