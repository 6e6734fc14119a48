"""Bjorck, Cayley and skew-exp against scipy.linalg (float64 references) and identities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg as sla

from jaxorth.linalg import bjorck, cayley, expm_skew, skew_expm


def _gauss(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _orth_residual(q):
    q = np.asarray(q, np.float64)
    m, n = q.shape[-2:]
    g = q @ np.swapaxes(q, -1, -2) if m <= n else np.swapaxes(q, -1, -2) @ q
    return np.abs(g - np.eye(min(m, n))).max()


@pytest.mark.parametrize(
    ("shape", "order"), [((7, 7), 1), ((9, 4), 2), ((4, 9), 1), ((24, 24), 2), ((6, 6), 3)]
)
def test_bjorck_is_polar_factor(x64, shape, order):
    w = _gauss(shape, seed=shape[0] + order)
    q = np.asarray(bjorck(jnp.asarray(w), n_iter=30, order=order))
    u, _ = sla.polar(w)  # U V^T: orthonormal rows (wide) or columns (tall)
    np.testing.assert_allclose(q, u, atol=1e-12)
    assert _orth_residual(q) < 1e-13


def test_bjorck_batched_and_jit(x64, maybe_jit):
    w = _gauss((3, 2, 6, 4), seed=3)
    q = np.asarray(maybe_jit(lambda a: bjorck(a, n_iter=25))(jnp.asarray(w)))
    for idx in np.ndindex(3, 2):
        np.testing.assert_allclose(q[idx], sla.polar(w[idx])[0], atol=1e-12)


def test_bjorck_float32_and_fixed_point(maybe_jit):
    w = jnp.asarray(_gauss((16, 10), seed=5), jnp.float32)
    f = maybe_jit(lambda a: bjorck(a))
    q = f(w)
    assert q.dtype == jnp.float32
    assert _orth_residual(q) < 1e-5
    # an orthonormal matrix is a fixed point (Frobenius pre-scaling is undone exactly)
    np.testing.assert_allclose(np.asarray(f(q)), np.asarray(q), atol=2e-6)


def test_bjorck_scale_invariant_and_differentiable(x64):
    w = jnp.asarray(_gauss((6, 5), seed=7))
    np.testing.assert_allclose(np.asarray(bjorck(1e3 * w)), np.asarray(bjorck(w)), atol=1e-12)
    # derivative of the polar factor along a skew direction of an orthogonal point:
    # d/dt polar(Q + t Q S) = Q S for skew S (tangent vectors are preserved).
    q = jnp.asarray(sla.polar(_gauss((5, 5), seed=8))[0])
    s = _gauss((5, 5), seed=9)
    s = jnp.asarray(s - s.T)
    _, tangent = jax.jvp(lambda a: bjorck(a, n_iter=30), (q,), (q @ s,))
    np.testing.assert_allclose(np.asarray(tangent), np.asarray(q @ s), atol=1e-10)


@pytest.mark.parametrize("n", [1, 9])
def test_cayley_matches_formula(x64, maybe_jit, n):
    a = _gauss((n, n), seed=n)
    skew = 0.5 * (a - a.T)
    eye = np.eye(n)
    expected = sla.solve(eye + skew, eye - skew)
    q = np.asarray(maybe_jit(cayley)(jnp.asarray(a)))
    np.testing.assert_allclose(q, expected, atol=1e-12)
    assert _orth_residual(q) < 1e-13
    # inverse Cayley recovers the skew part: A = (I - Q)(I + Q)^{-1}
    np.testing.assert_allclose(sla.solve((eye + q).T, (eye - q).T).T, skew, atol=1e-10)


def test_skew_expm_matches_scipy(x64, maybe_jit):
    n = 7
    a = _gauss((2, n, n), seed=20 + n)
    q = np.asarray(maybe_jit(skew_expm)(jnp.asarray(a)))
    for i in range(2):
        skew = 0.5 * (a[i] - a[i].T)
        np.testing.assert_allclose(q[i], sla.expm(skew), atol=1e-12)
        assert _orth_residual(q[i]) < 1e-13
        assert np.linalg.det(q[i]) == pytest.approx(1.0, abs=1e-12)
    assert expm_skew is skew_expm


def test_float32_orthogonality():
    a = jnp.asarray(_gauss((8, 8), seed=1), jnp.float32)
    for f in (cayley, skew_expm):
        q = jax.jit(f)(a)
        assert q.dtype == jnp.float32
        assert _orth_residual(q) < 1e-5


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: bjorck(jnp.ones(3)), "w must have at least 2"),
        (lambda: bjorck(jnp.ones((3, 3)), n_iter=-1), "n_iter"),
        (lambda: bjorck(jnp.ones((3, 3)), order=0), "order"),
        (lambda: bjorck(jnp.ones((3, 3), jnp.int32)), "floating"),
        (lambda: cayley(jnp.ones((3, 4))), "square"),
        (lambda: skew_expm(jnp.ones((2, 3))), "square"),
    ],
)
def test_bad_input_raises(call, match, user_checks):
    with user_checks(), pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("order", "poly"),
    [
        (1, lambda a, eye: (3 * eye - a) / 2),
        (2, lambda a, eye: (15 * eye - 10 * a + 3 * a @ a) / 8),
        (3, lambda a, eye: (35 * eye - 35 * a + 21 * a @ a - 5 * a @ a @ a) / 16),
    ],
)
def test_one_bjorck_iteration_is_the_closed_form_polynomial(x64, order, poly):
    # one step W <- W p(W^T W), p the order-p Taylor truncation of x^{-1/2} at 1
    # (Bjorck and Bowie 1971, eq. (2.3)); W is pre-scaled so that ||W^T W||_F = 1, which
    # makes bjorck's own scaling the identity
    m = _gauss((7, 5), seed=30 + order)
    w = m / np.sqrt(np.linalg.norm(m.T @ m))
    one = np.asarray(bjorck(jnp.asarray(w), n_iter=1, order=order))
    np.testing.assert_allclose(one, w @ poly(w.T @ w, np.eye(5)), atol=1e-13)
    # the wide case uses the other Gram matrix: the same polynomial in W W^T on the left
    wt = np.ascontiguousarray(w.T)
    one_t = np.asarray(bjorck(jnp.asarray(wt), n_iter=1, order=order))
    np.testing.assert_allclose(one_t, poly(wt @ wt.T, np.eye(5)) @ wt, atol=1e-13)


def test_skew_is_the_skew_symmetric_part(maybe_jit, user_checks):
    from jaxorth.linalg import skew

    a = _gauss((2, 4, 4), seed=40)
    s = np.asarray(maybe_jit(skew)(jnp.asarray(a, jnp.float32)))
    np.testing.assert_allclose(s, 0.5 * (a - np.swapaxes(a, -1, -2)), atol=1e-6)
    np.testing.assert_array_equal(s, -np.swapaxes(s, -1, -2))
    with user_checks(), pytest.raises(ValueError, match="square"):
        skew(jnp.ones((2, 3)))
