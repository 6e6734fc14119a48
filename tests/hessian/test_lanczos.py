"""Thick-restart Lanczos (``hessian.eigenvalues`` / ``eigsh``) against float64 ``eigh``.

What must hold for a symmetric ``A`` and computed pairs ``(theta_i, y_i)`` with
residuals ``r_i = ||A y_i - theta_i y_i||``: the reported residuals (Lanczos estimates)
are those norms, computed here from the dense matrix; they meet ``tol``; an eigenvalue
lies within ``r_i`` of ``theta_i`` and, at gap ``g_i`` from the rest of the spectrum,
within ``r_i^2 / g_i`` (Kato-Temple), checked against the ``i``-th eigenvalue of
``np.linalg.eigh`` (so a missed eigenvalue fails); and the loop stops at the first step
where the pairs meet ``tol`` (one product fewer warns).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth import hessian as hs


def _matrix(n, top, seed=0):
    """``Q diag(ev) Q^T`` with the given top eigenvalues above a uniform bulk in [-6, 6]."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    ev = np.concatenate([top, rng.uniform(-6.0, 6.0, n - len(top))])
    return (Q * ev) @ Q.T


# a cluster at the top (gaps 1e-3 and 1e-4) and one at the bottom (gap 1e-3)
CLUSTERED = _matrix(120, [10.0, 9.999, 9.9989, 9.5, -9.0, -9.001])


def _check_pairs(A, res, which, tol):
    """Residuals, tolerance and the two eigenvalue bounds against ``np.linalg.eigh``."""
    k = res.eigenvalues.shape[0]
    lam = np.linalg.eigvalsh(A)
    lam = lam[::-1][:k] if which == "largest" else lam[:k]
    theta, Y, r = (np.asarray(x) for x in (res.eigenvalues, res.eigenvectors, res.residuals))
    explicit = np.linalg.norm(Y @ A - theta[:, None] * Y, axis=1)
    scale = np.abs(np.linalg.eigvalsh(A)).max()
    np.testing.assert_allclose(Y @ Y.T, np.eye(k), atol=1e-12)
    np.testing.assert_allclose(r, explicit, rtol=1e-3, atol=1e-13 * scale)
    assert np.all(r <= tol * scale)
    assert np.all(np.abs(theta - lam) <= r + 1e-13 * scale)
    # the gap from theta_i to the eigenvalues other than the one it approximates (and
    # its copies)
    every = np.linalg.eigvalsh(A)
    near = every[np.argmin(np.abs(every[None] - theta[:, None]), axis=1)]
    far = np.abs(every[None] - near[:, None]) > 1e-8 * scale
    gap = np.min(np.where(far, np.abs(every[None] - theta[:, None]), np.inf), axis=1)
    assert np.all(np.abs(theta - lam) <= r**2 / gap + 1e-13 * scale)
    return lam


@pytest.mark.parametrize(("which", "basis_size"), [("largest", 12), ("smallest", 40)])
def test_clustered_eigenvalues_within_residual_bounds(x64, which, basis_size):
    A = jnp.asarray(CLUSTERED)
    v0 = jnp.asarray(np.random.default_rng(1).standard_normal(120))
    res = hs.eigsh(lambda v: A @ v, v0, 3, which=which, tol=1e-10, basis_size=basis_size)
    assert bool(res.converged)
    assert int(res.num_restarts) > 0  # both bases restart: 40 rows do not resolve the cluster
    assert res.eigenvectors.shape == (3, 120)
    _check_pairs(CLUSTERED, res, which, 1e-10)


def test_mlp_hessian_against_dense_float64(x64, maybe_jit):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    params = {
        "w1": jax.random.normal(k1, (5, 7), jnp.float64),
        "w2": jax.random.normal(k2, (7, 3), jnp.float64) / 2,
    }
    x = jax.random.normal(k3, (11, 5), jnp.float64)

    def loss(p):
        return jnp.mean((jnp.tanh(x @ p["w1"]) @ p["w2"] - 1.0) ** 2)

    H = np.asarray(hs.dense(loss, params))  # jax.hessian, flattened by ravel_pytree
    f = maybe_jit(
        lambda p: hs.eigenvalues(loss, p, 4, tol=1e-9, basis_size=14, return_eigenvectors=True)
    )
    res = f(params)
    assert bool(res.converged) and int(res.num_matvecs) < 300
    flat = jax.vmap(lambda p: jax.flatten_util.ravel_pytree(p)[0])(res.eigenvectors)
    _check_pairs(H, res._replace(eigenvectors=flat), "largest", 1e-9)


def test_stops_at_the_first_step_that_meets_tol(x64):
    """``tol`` decides the work: the run stops once the pairs meet it, not later."""
    A = jnp.asarray(CLUSTERED)
    v0 = jnp.asarray(np.random.default_rng(2).standard_normal(120))
    runs = {tol: hs.eigsh(lambda v: A @ v, v0, 2, tol=tol, basis_size=20) for tol in (1e-3, 1e-9)}
    loose, tight = runs[1e-3], runs[1e-9]
    assert int(loose.num_matvecs) < int(tight.num_matvecs)
    for tol, res in runs.items():
        _check_pairs(CLUSTERED, res, "largest", tol)
    # one product less and the same run is not converged: it warns and says so
    budget = int(loose.num_matvecs) - 1
    with pytest.warns(RuntimeWarning, match=r"did not reach tol=0\.001: after \d+ matvecs"):
        short = hs.eigsh(lambda v: A @ v, v0, 2, tol=1e-3, basis_size=20, num_matvecs=budget)
    assert not bool(short.converged) and int(short.num_matvecs) == budget
    worst = float(np.max(short.residuals) / np.max(np.abs(short.eigenvalues)))
    assert worst > 1e-3


def test_budget_warning_under_jit_names_tol_and_the_worst_residual(x64):
    def loss(w):
        return 0.5 * w @ (jnp.asarray(CLUSTERED) @ w)

    f = jax.jit(lambda p: hs.eigenvalues(loss, p, 3, num_matvecs=6, return_eigenvectors=True))
    with pytest.warns(RuntimeWarning, match=r"tol=1e-06.*worst relative residual .* is \d"):
        res = jax.block_until_ready(f(jnp.zeros(120)))
    assert not bool(res.converged) and int(res.num_matvecs) == 6


@pytest.mark.parametrize("basis_size", [8, 20])
def test_repeated_eigenvalues_after_breakdowns(x64, basis_size):
    """Three copies of 5 and of 4: a Krylov space from one vector holds one copy of each.

    It breaks down after 3 steps (3 distinct eigenvalues); the fresh directions that
    follow find the other copies, and the rule that the latest block must have
    converged keeps the loop from stopping at the first invariant subspace.
    """
    d = jnp.asarray([5.0] * 3 + [4.0] * 3 + [1.0] * 34)
    v0 = jnp.asarray(np.random.default_rng(3).standard_normal(40))
    res = hs.eigsh(lambda v: d * v, v0, 4, tol=1e-10, basis_size=basis_size)
    assert bool(res.converged)
    np.testing.assert_allclose(res.eigenvalues, [5.0, 5.0, 5.0, 4.0], atol=1e-10)
    _check_pairs(np.diag(np.asarray(d)), res, "largest", 1e-10)


def test_zero_start_full_space_and_zero_hessian(x64):
    # a zero starting vector is replaced; a basis of the whole space is exact
    A = jnp.asarray(CLUSTERED[:10, :10])
    res = hs.eigsh(lambda v: A @ v, jnp.zeros(10), 10, basis_size=10, tol=1e-12)
    np.testing.assert_allclose(res.eigenvalues, np.linalg.eigvalsh(CLUSTERED[:10, :10])[::-1])
    assert bool(res.converged) and int(res.num_matvecs) <= 10
    # a loss linear in its parameters: every step breaks down, and two give the answer
    res = hs.eigenvalues(lambda w: jnp.sum(w), jnp.ones(50), 2, return_eigenvectors=True)
    np.testing.assert_array_equal(res.eigenvalues, [0.0, 0.0])
    assert bool(res.converged) and int(res.num_matvecs) == 2


def test_bad_options_name_the_parameter(user_checks):
    def loss(p):
        return jnp.sum(p**2)

    p = jnp.ones(5)
    cases = [
        (dict(k=0), r"^k must be a positive integer, got 0"),
        (dict(k=6), r"^k must be <= n=5 \(the dimension of the operator\), got k=6"),
        (dict(k=1, which="top"), r"^which must be one of 'largest', 'smallest'; got 'top'"),
        (dict(k=1, tol=0.0), r"^tol must be a positive number, got 0.0"),
        (dict(k=1, tol=float("nan")), r"^tol must be a positive number"),
        (dict(k=2, basis_size=2), r"^basis_size must be an integer >= 3, got 2"),
        (dict(k=2, basis_size=6), r"^basis_size must be <= n=5 \(the dimension"),
        (dict(k=1, num_matvecs=0), r"^num_matvecs must be a positive integer, got 0"),
        (dict(k=1, num_matvecs=2.5), r"^num_matvecs must be a positive integer, got 2.5"),
    ]
    with user_checks():
        for kwargs, message in cases:
            k = kwargs.pop("k")
            with pytest.raises(ValueError, match=message):
                hs.eigenvalues(loss, p, k, **kwargs)
            with pytest.raises(ValueError, match=message):
                hs.eigsh(lambda v: 2 * v, p, k, **kwargs)
