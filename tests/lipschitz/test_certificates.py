"""Certified radius margin / (sqrt(2) L) (Tsuzuku et al. 2018): values, brute force, accuracy."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.lipschitz import (
    certified,
    certified_accuracy,
    certified_radius,
    lipschitz_bound,
    logit_margin,
)


def test_certified_radius_hand_values():
    assert float(certified_radius(1.0, 1.0)) == pytest.approx(0.7071067811865476, rel=1e-6)
    assert float(certified_radius(3.0, 2.0)) == pytest.approx(1.0606601717798212, rel=1e-6)
    np.testing.assert_allclose(
        certified_radius(jnp.asarray([0.0, 2.0]), 0.5), [0.0, 2.8284271247461903], rtol=1e-6
    )


def test_logit_margin_and_certified_accuracy_match_numpy():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((300, 7))
    labels = rng.integers(0, 7, 300)
    labels[:150] = logits[:150].argmax(1)  # half of them correct
    lip, radii = 1.7, [0.0, 0.05, 0.2, 0.5]
    s = np.sort(logits, axis=1)
    margin = s[:, -1] - s[:, -2]
    np.testing.assert_allclose(logit_margin(logits), margin, rtol=1e-5, atol=1e-6)  # float32
    correct = logits.argmax(1) == labels
    expected = [np.mean(correct & (margin / (np.sqrt(2) * lip) > r)) for r in radii]
    np.testing.assert_allclose(certified_accuracy(logits, labels, lip, radii), expected, atol=1e-7)
    mask = np.asarray(certified(logits, labels, lip, radii))
    assert mask.shape == (4, 300) and mask.dtype == bool
    # radius 0: every correct prediction with a positive margin is certified
    assert float(certified_accuracy(logits, labels, lip, [0.0])[0]) == pytest.approx(correct.mean())
    # above the largest certified radius nothing is certified
    top = margin.max() / (np.sqrt(2) * lip)
    assert float(certified_accuracy(logits, labels, lip, [top * 1.001])[0]) == 0.0
    assert float(certified_accuracy(logits, labels, lip, [top * 0.999])[0]) > 0.0


@pytest.mark.parametrize("rows", ["orthonormal", "gaussian"])
def test_no_perturbation_inside_the_radius_flips_a_linear_classifier(x64, rows):
    # f(x) = W x is L-Lipschitz with L = sigma_max(W); brute force over perturbations
    rng = np.random.default_rng(1)
    n_cls, dim = 5, 12
    w = rng.standard_normal((n_cls, dim))
    if rows == "orthonormal":  # L = 1 and ||w_i - w_j|| = sqrt(2): the radius is tight
        w = np.linalg.qr(w.T)[0].T
    lip = lipschitz_bound([np.linalg.svd(w, compute_uv=False).max()])
    x = rng.standard_normal((40, dim))
    logits = x @ w.T
    pred = logits.argmax(1)
    radius = np.asarray(certified_radius(logit_margin(logits), lip))
    for xi, i, r, row in zip(x, pred, radius, logits):
        dirs = rng.standard_normal((200, dim))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        j = int(np.argsort(row)[-2])  # runner-up
        worst = (w[i] - w[j]) / np.linalg.norm(w[i] - w[j])
        dirs = np.vstack([dirs, -worst])
        assert np.all(((xi + 0.999 * r * dirs) @ w.T).argmax(1) == i)
        # the worst-case direction flips the prediction at margin / ||w_i - w_j||
        flip = (row[i] - row[j]) / np.linalg.norm(w[i] - w[j])
        assert flip >= r * (1 - 1e-9)
        assert ((xi - 1.001 * flip * worst) @ w.T).argmax() != i
        if rows == "orthonormal":
            np.testing.assert_allclose(flip, r, rtol=1e-9)


def test_certificate_bad_input(user_checks):
    with user_checks(), pytest.raises(ValueError, match="lipschitz must be a positive number"):
        certified_radius(1.0, 0.0)
    with user_checks(), pytest.raises(ValueError, match="radii must be a finite number >= 0"):
        certified_accuracy(np.ones((2, 3)), np.zeros(2, int), 1.0, [-0.1])
    with (
        user_checks(),
        pytest.raises(ValueError, match=r"logits must have shape \(B, K\) with K >= 2"),
    ):
        logit_margin(np.ones((3, 1)))
    with user_checks(), pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        certified(np.ones((2, 3)), np.zeros(3, int), 1.0, [0.0])


def test_lipschitz_bound_is_the_product():
    assert lipschitz_bound([2.0, 0.5, 3.0]) == 3.0
    assert lipschitz_bound([]) == 1.0
    assert lipschitz_bound(np.asarray([math.sqrt(2)] * 2)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="layer_norms must be a finite number >= 0"):
        lipschitz_bound([1.0, -1.0])
