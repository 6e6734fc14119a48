"""l2_pgd: the ball constraint, exact flips of linear classifiers, and certificates hold."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.lipschitz import (
    certified_radius,
    groupsort,
    l2_norm_pool,
    l2_pgd,
    lipschitz_bound,
    logit_margin,
    space_to_depth,
)


def boundary_distance(w, b, x, labels):
    """Exact l2 distance to the decision boundary of f(x) = W x + b for the label class."""
    logits = x @ w.T + b
    out = []
    for f, y in zip(logits, labels):
        out.append(
            min((f[y] - f[j]) / np.linalg.norm(w[y] - w[j]) for j in range(len(w)) if j != y)
        )
    return np.asarray(out)


def best_flip_value(w, b, x, labels, eps):
    """max over ||delta|| <= eps of max_{j != y} (f_j - f_y)(x + delta), in closed form."""
    logits = x @ w.T + b
    return np.asarray(
        [
            max(f[j] - f[y] + e * np.linalg.norm(w[j] - w[y]) for j in range(len(w)) if j != y)
            for f, y, e in zip(logits, labels, eps)
        ]
    )


def test_perturbations_stay_in_the_ball_and_the_box():
    rng = np.random.default_rng(0)
    w = jnp.asarray(rng.standard_normal((4, 12)), jnp.float32)
    x = jnp.asarray(rng.uniform(0, 1, (16, 3, 2, 2)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 4, 16))
    eps = rng.uniform(0.05, 2.0, 16).astype(np.float32)
    eps[0] = 0.0

    def logit_fn(z):
        return jnp.tanh(z.reshape(z.shape[0], -1)) @ w.T

    # random start, one radius per example, clipped to the unit box
    boxed = jax.jit(lambda e, k: l2_pgd(logit_fn, x, labels, eps=e, steps=7, key=k, clip=(0, 1)))
    adv = np.asarray(boxed(jnp.asarray(eps), jax.random.key(1)))
    norms = np.linalg.norm((adv - np.asarray(x)).reshape(16, -1), axis=1)
    assert (norms <= eps + 1e-6).all()
    assert (norms[1:] > 0.2 * eps[1:]).all()  # every example with eps > 0 moved
    np.testing.assert_array_equal(adv[0], x[0])  # eps = 0: unchanged
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    # from x, one radius for all, no box: the ball is reached (the margin grows outwards)
    adv = np.asarray(jax.jit(lambda: l2_pgd(logit_fn, x, labels, eps=0.3, steps=7))())
    norms = np.linalg.norm((adv - np.asarray(x)).reshape(16, -1), axis=1)
    assert (norms <= 0.3 + 1e-6).all() and norms.max() > 0.3 * (1 - 1e-5)


@pytest.mark.parametrize(
    "case", ["orthonormal rows, 5 classes", "gaussian, 2 classes", "gaussian, 6 classes"]
)
def test_linear_classifier_is_flipped_exactly_beyond_its_boundary(x64, case):
    rng = np.random.default_rng(1)
    n_cls = int(case.split(", ")[1].split()[0])
    w = rng.standard_normal((n_cls, 8))
    if case.startswith("orthonormal"):  # all ||w_i - w_j|| = sqrt(2): the runner-up is nearest
        w = np.linalg.qr(w.T)[0].T
    b = rng.standard_normal(n_cls)
    x = rng.standard_normal((24, 8))
    labels = (x @ w.T + b).argmax(1)  # correct at x
    dist = boundary_distance(w, b, x, labels)
    if case.startswith("orthonormal"):  # W is 1-Lipschitz and the certificate is tight
        radius = certified_radius(logit_margin(x @ w.T + b), 1.0)
        np.testing.assert_allclose(radius, dist, rtol=1e-12)

    def logit_fn(z):
        return z @ jnp.asarray(w).T + jnp.asarray(b)[None, :]

    attack = jax.jit(
        lambda e, k: l2_pgd(logit_fn, jnp.asarray(x), jnp.asarray(labels), eps=e, steps=20, key=k)
    )
    # with K > 2 unequal ||w_i - w_j||, PGD may stop at a farther boundary: only the
    # "never inside" half is a theorem there
    # (that half also from a random start; the exact optimum from x itself, where the
    # constant gradient leads straight to it in ceil(steps / 2.5) steps)
    if case == "gaussian, 6 classes":
        factors, key = [(0.98, False)], jax.random.key(0)
    else:
        factors, key = [(1.02, True), (0.98, False)], None
    for factor, broken in factors:
        eps = factor * dist
        adv = np.asarray(attack(jnp.asarray(eps), key))
        np.testing.assert_array_less(np.linalg.norm(adv - x, axis=1), eps * (1 + 1e-12) + 1e-12)
        pred = (adv @ w.T + b).argmax(1)
        np.testing.assert_array_equal(pred != labels, broken)
        if case == "gaussian, 6 classes":
            continue
        # the attack reaches the best value of the margin over the ball (closed form)
        logits = adv @ w.T + b
        reached = np.where(np.eye(n_cls, dtype=bool)[labels], -np.inf, logits).max(1)
        reached = reached - logits[np.arange(24), labels]
        np.testing.assert_allclose(reached, best_flip_value(w, b, x, labels, eps), atol=1e-9)


def orthogonal(rng, rows, cols):
    """A rows x cols matrix with orthonormal rows (rows <= cols) or columns."""
    q = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))[0]
    return q.T if rows <= cols else q


def test_certified_examples_are_never_broken(x64):
    # a 1-Lipschitz network of the new glue: space_to_depth, orthogonal dense layers,
    # groupsort, l2_norm_pool and an orthonormal-rows head
    rng = np.random.default_rng(3)
    w1, w2, head = orthogonal(rng, 16, 16), orthogonal(rng, 32, 16), orthogonal(rng, 3, 8)
    b1, b2, bh = rng.standard_normal(16), rng.standard_normal(32), rng.standard_normal(3)
    lip = lipschitz_bound(np.linalg.norm(m, 2) for m in (w1, w2, head))
    assert lip == pytest.approx(1.0, abs=1e-12)

    def net(z):  # (B, 1, 4, 4) -> (B, 3)
        h = space_to_depth(z, 2).reshape(z.shape[0], 16)
        h = groupsort(h @ jnp.asarray(w1).T + jnp.asarray(b1)[None, :], 4)
        h = groupsort(h @ jnp.asarray(w2).T + jnp.asarray(b2)[None, :], 2)
        h = l2_norm_pool(h.reshape(z.shape[0], 8, 2, 2))
        return h @ jnp.asarray(head).T + jnp.asarray(bh)[None, :]

    x = jnp.asarray(rng.uniform(0, 1, (24, 1, 4, 4)))
    net = jax.jit(net)
    logits = net(x)
    labels = jnp.argmax(logits, axis=1)
    radius = certified_radius(logit_margin(logits), lip)
    attack = jax.jit(lambda e, k: l2_pgd(net, x, labels, eps=e, steps=40, key=k))
    for seed in range(2):
        adv = attack(0.99 * radius, jax.random.key(seed))
        after = net(adv)
        np.testing.assert_array_equal(np.asarray(jnp.argmax(after, axis=1)), np.asarray(labels))
        # the attack did push every margin down, just not across the boundary
        assert (np.asarray(logit_margin(after)) < np.asarray(logit_margin(logits))).all()
    # not vacuous: at a few times the certified radius the same attack breaks examples
    broken = jnp.argmax(net(attack(3.0 * radius, jax.random.key(0))), axis=1) != labels
    assert int(broken.sum()) > 0


def test_attack_bad_input(user_checks):
    x, labels = jnp.zeros((2, 3)), jnp.asarray([0, 1])

    def fn(z):
        return z

    with user_checks(), pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        l2_pgd(fn, x, labels, eps=-1.0)
    with user_checks(), pytest.raises(ValueError, match=r"eps must be a number or have shape"):
        l2_pgd(fn, x, labels, eps=jnp.ones(3))
    with user_checks(), pytest.raises(ValueError, match="eps must hold finite numbers >= 0"):
        l2_pgd(fn, x, labels, eps=jnp.asarray([0.1, jnp.nan]))
    with user_checks(), pytest.raises(ValueError, match="steps must be a positive integer"):
        l2_pgd(fn, x, labels, eps=0.1, steps=0)
    with user_checks(), pytest.raises(ValueError, match=r"clip\[1\] must be a finite number >"):
        l2_pgd(fn, x, labels, eps=0.1, clip=(1.0, 0.0))
    with user_checks(), pytest.raises(ValueError, match=r"labels must lie in \[0, K=3\)"):
        l2_pgd(fn, x, jnp.asarray([0, 5]), eps=0.1)
    with user_checks(), pytest.raises(ValueError, match=r"logit_fn must return logits of shape"):
        l2_pgd(lambda z: z[:, :1], x, labels, eps=0.1)
