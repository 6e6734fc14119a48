import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth import sparse
from jaxorth.sparse._common import ls_on_support
from jaxorth.sparse._greedy import _swap_scores, gs_append, ls_from_basis
from jaxorth.sparse._thresholding import spectral_norm_sq

FAST_OPTS = {
    "sea": {"n_iter": 60},
    "sea_omp": {"n_iter": 30},
    "sea_els": {"n_iter": 30, "els_iter": 10},
    "els": {"n_iter": 10},
    "iht": {"n_iter": 300},
    "niht": {"n_iter": 60},
    "htp": {"n_iter": 20},
    "cosamp": {"n_iter": 20},
    "sp": {"n_iter": 20},
}


def _easy(seed=0, m=48, n=64, k=2, dtype=jnp.float32):
    key_a, key_x = jax.random.split(jax.random.PRNGKey(seed))
    A = sparse.gaussian_matrix(key_a, m, n, dtype)
    return A, sparse.sparse_problem(key_x, A, k)


def _np_ls(A, y, support):
    A = np.asarray(A, np.float64)
    coef = np.linalg.lstsq(A[:, support], np.asarray(y, np.float64), rcond=None)[0]
    x = np.zeros(A.shape[1])
    x[support] = coef
    return x


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(20, 30, 5), (40, 12, 12)])
def test_lstsq_on_support_matches_numpy_float64(x64, maybe_jit, dtype, shape):
    m, n, k = shape
    rng = np.random.default_rng(1)
    A = rng.standard_normal((m, n))
    y = rng.standard_normal(m)
    support = rng.permutation(n)[:k]
    ref = _np_ls(A, y, support)
    f = maybe_jit(sparse.lstsq_on_support)
    x = f(jnp.asarray(A, dtype), jnp.asarray(y, dtype), jnp.asarray(support))
    assert x.dtype == jnp.dtype(dtype)
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(np.asarray(x), ref, atol=tol * 10, rtol=tol)


def test_lstsq_coherent_deconvolution_float64(x64):
    """Adjacent spikes on the deconvolution matrix: cond(A_S) ~ 5e4, QR keeps 1e-9."""
    A = sparse.deconvolution_matrix(60, 3.0, dtype=jnp.float64)
    support = np.array([20, 21, 22, 23, 24, 25, 26, 27, 40])
    y = np.asarray(A) @ np.where(np.isin(np.arange(60), support), 1.0, 0.0)
    x = sparse.lstsq_on_support(A, jnp.asarray(y), jnp.asarray(support))
    assert np.linalg.cond(np.asarray(A)[:, support]) > 1e4
    np.testing.assert_allclose(np.asarray(x)[support], 1.0, atol=1e-9)


@pytest.mark.parametrize("name", sorted(sparse.SOLVERS))
def test_every_solver_recovers_an_easy_instance(name):
    A, prob = _easy()
    res = sparse.SOLVERS[name](A, prob.y, 2, **FAST_OPTS.get(name, {}))
    np.testing.assert_array_equal(np.asarray(res.support), np.asarray(prob.support))
    np.testing.assert_allclose(np.asarray(res.x), np.asarray(prob.x), atol=1e-3)
    assert float(res.residual) < 1e-4
    assert int(jnp.count_nonzero(res.x)) <= 2


@pytest.mark.parametrize("name", ["sea", "els", "niht", "cosamp"])
def test_solvers_vmap_and_jit_match_single_calls(name):
    f = sparse.SOLVERS[name]
    opts = FAST_OPTS.get(name, {})
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    # the size of `_easy` (k = 2): the single calls reuse the programs compiled above
    As = jax.vmap(lambda kk: sparse.gaussian_matrix(kk, 48, 64))(keys)
    probs = jax.vmap(lambda kk, A: sparse.sparse_problem(kk, A, 2, noise_std=0.05))(keys, As)
    batched = jax.jit(jax.vmap(lambda A, y: f(A, y, 2, **opts)))(As, probs.y)
    for b in range(3):
        single = f(As[b], probs.y[b], 2, **opts)
        np.testing.assert_array_equal(np.asarray(batched.support[b]), np.asarray(single.support))
        np.testing.assert_allclose(batched.residual[b], single.residual, rtol=1e-4, atol=1e-6)


# The float64 SEA tests below share one problem size (m=20, n=50, k=5, 12 iterations), so
# each of SEA's programs (path or best iterate, default or given step) compiles once
# (float32 SEA runs in the solver tests above).
def test_sea_iterates_invariant_to_step_from_zero(x64):
    """From X^0 = 0, X^t = eta * Z^t (REFERENCES.md sec. 4): identical supports for all eta.

    Powers of two scale every float exactly, so the paths agree bitwise.
    """
    A, prob = _easy(seed=5, m=20, n=50, k=5, dtype=jnp.float64)
    paths = [sparse.sea_path(A, prob.y, 5, 12, step=s) for s in (1.0, 0.25, 8.0, None)]
    for p in paths[1:]:
        np.testing.assert_array_equal(np.asarray(p.supports), np.asarray(paths[0].supports))
        np.testing.assert_array_equal(np.asarray(p.residuals), np.asarray(paths[0].residuals))
        assert len({tuple(s) for s in np.asarray(p.supports).tolist()}) > 5  # it explores
    # the default (no step: a power-of-two step, no eigenvalue problem) reports the X of
    # the documented default step 1 / ||A||_2^2 = X(step=1) / ||A||_2^2
    default = 1.0 / np.linalg.norm(np.asarray(A), 2) ** 2
    np.testing.assert_allclose(paths[3].X, np.asarray(paths[0].X) * default, rtol=1e-12)


def test_sea_step_invariance_generic_step_float64(x64):
    A, prob = _easy(seed=6, m=20, n=50, k=5, dtype=jnp.float64)
    A = A.astype(jnp.float64)
    y = prob.y.astype(jnp.float64)
    p1 = sparse.sea_path(A, y, 5, 12, step=1.0)
    p2 = sparse.sea_path(A, y, 5, 12, step=0.3)
    assert len({tuple(s) for s in np.asarray(p1.supports).tolist()}) > 3  # it explores
    np.testing.assert_array_equal(np.asarray(p1.supports), np.asarray(p2.supports))
    np.testing.assert_allclose(np.asarray(p1.X) * 0.3, np.asarray(p2.X), rtol=1e-9, atol=1e-12)


def test_sea_returns_best_visited_iterate(x64):
    A, prob = _easy(seed=7, m=20, n=50, k=5, dtype=jnp.float64)
    A, y = A.astype(jnp.float64), prob.y.astype(jnp.float64) + 0.01
    path = sparse.sea_path(A, y, 5, 12)
    res = sparse.sea(A, y, 5, 12)
    best = int(np.argmin(np.asarray(path.residuals)))
    assert best < 11  # the best visited iterate is not the last one (this seed)
    np.testing.assert_array_equal(np.asarray(res.support), np.asarray(path.supports[best]))
    x_ref = _np_ls(A, y, np.asarray(path.supports[best]))
    np.testing.assert_allclose(np.asarray(res.x), x_ref, atol=1e-10)
    np.testing.assert_allclose(float(res.residual), np.linalg.norm(np.asarray(A) @ x_ref - y))


def _np_sea(A, y, k, n_iter, x0, step):
    """SEA, Algorithm 1 of Mohamed et al. 2024 (REFERENCES.md sec. 4), in float64 numpy.

    S^t = top_k |X^t| (ties to the smaller index), x^t = least squares on S^t,
    X^{t+1} = X^t - step A^T (A x^t - y); returns the path and the best visited x^t.
    """
    A, y, X = (np.asarray(v, np.float64) for v in (A, y, x0))
    supports, residuals, best = [], [], (np.inf, None)
    for _ in range(n_iter):
        S = np.argsort(-np.abs(X), kind="stable")[:k]
        x = _np_ls(A, y, S)
        r = A @ x - y
        supports.append(np.sort(S))
        residuals.append(np.linalg.norm(r))
        if residuals[-1] < best[0]:
            best = (residuals[-1], x)
        X = X - step * (A.T @ r)
    return np.array(supports), np.array(residuals), X, best[1]


def _np_omp(A, y, k):
    """Orthogonal matching pursuit in numpy: add argmax |A^T r|, refit by least squares."""
    A, y = np.asarray(A, np.float64), np.asarray(y, np.float64)
    S, r = [], y.copy()
    for _ in range(k):
        corr = np.abs(A.T @ r)
        corr[S] = -1.0
        S.append(int(np.argmax(corr)))
        x = _np_ls(A, y, S)
        r = y - A @ x
    return x


def test_sea_matches_numpy_algorithm_1_from_a_nonzero_start(x64):
    """From X^0 != 0 the sign and size of the update matter (from 0 they cancel out)."""
    A, prob = _easy(seed=8, m=20, n=50, k=5, dtype=jnp.float64)
    A = A.astype(jnp.float64)
    y = prob.y.astype(jnp.float64) + 0.02
    x0 = jnp.asarray(np.random.default_rng(8).standard_normal(50))
    default_step = 1.0 / np.linalg.norm(np.asarray(A), 2) ** 2
    for step, ref_step in ((None, default_step), (0.7, 0.7)):
        path = sparse.sea_path(A, y, 5, 12, x0=x0, step=step)
        supports, residuals, X, x_best = _np_sea(A, y, 5, 12, x0, ref_step)
        assert len({tuple(r) for r in supports.tolist()}) > 3  # the path moves
        np.testing.assert_array_equal(np.asarray(path.supports), supports)
        np.testing.assert_allclose(np.asarray(path.residuals), residuals, rtol=1e-9)
        np.testing.assert_allclose(np.asarray(path.X), X, rtol=1e-8, atol=1e-10)
        res = sparse.sea(A, y, 5, 12, x0=x0, step=step)
        np.testing.assert_allclose(np.asarray(res.x), x_best, atol=1e-10)


def test_sea_omp_support_matches_numpy_reference(x64):
    """SEA warm-started at OMP's solution (coherent deconvolution, 4 spikes): same support."""
    A = sparse.deconvolution_matrix(30, 3.0, dtype=jnp.float64)
    step = 1.0 / np.linalg.norm(np.asarray(A), 2) ** 2
    moved = 0
    for seed in range(6):
        prob = sparse.sparse_problem(jax.random.PRNGKey(seed), A, 4)
        x_omp = _np_omp(A, prob.y, 4)
        np.testing.assert_allclose(np.asarray(sparse.omp(A, prob.y, 4).x), x_omp, atol=1e-10)
        _, _, _, x_ref = _np_sea(A, prob.y, 4, 60, x_omp, step)
        ours = sparse.sea_omp(A, prob.y, 4, 60)
        np.testing.assert_array_equal(np.asarray(ours.support), np.flatnonzero(x_ref))
        np.testing.assert_allclose(np.asarray(ours.x), x_ref, atol=1e-10)
        moved += int(set(np.flatnonzero(x_ref)) != set(np.flatnonzero(x_omp)))
    assert moved >= 1  # SEA left OMP's support at least once: the update is exercised


def test_exact_recovery_and_relative_error_against_direct_counts(user_checks):
    rng = np.random.default_rng(9)
    truth = np.array([[1, 4, 7], [0, 2, 3], [5, 6, 9], [1, 2, 8]])
    found = np.array([[7, 1, 4], [0, 2, 4], [5, 6, 9], [8, 2, 0]])
    expected = [set(f) == set(t) for f, t in zip(found.tolist(), truth.tolist())]
    assert sparse.exact_recovery(found, truth).tolist() == expected == [True, False, True, False]
    x = rng.standard_normal((4, 10))
    x_hat = x + 0.1 * rng.standard_normal((4, 10))
    ref = [np.sqrt(np.sum((a - b) ** 2) / np.sum(b**2)) for a, b in zip(x_hat, x)]
    np.testing.assert_allclose(sparse.relative_error(x_hat, x), ref, rtol=1e-12)
    with user_checks(), pytest.raises(ValueError, match="same k"):
        sparse.exact_recovery(found[:, :2], truth)


def test_warm_started_sea_never_worse_than_its_start():
    """The first support SEA visits is its warm start's: the best residual cannot be larger."""
    A = sparse.deconvolution_matrix(60, 3.0)
    for seed in range(3):
        prob = sparse.sparse_problem(jax.random.PRNGKey(seed), A, 2, noise_std=0.01)
        run = {
            name: sparse.SOLVERS[name](A, prob.y, 2, **FAST_OPTS.get(name, {}))
            for name in ("omp", "sea_omp", "els", "sea_els")
        }
        assert run["sea_omp"].residual <= run["omp"].residual * (1 + 1e-5)
        assert run["sea_els"].residual <= run["els"].residual * (1 + 1e-5)
        assert run["els"].residual <= run["omp"].residual * (1 + 1e-5)


def test_els_swap_scores_match_brute_force_float64(x64):
    rng = np.random.default_rng(2)
    m, n, k = 12, 10, 3
    A = rng.standard_normal((m, n))
    y = rng.standard_normal(m)
    support = np.array([1, 4, 7])
    # jitted as inside ELS; scores read on the host (one transfer, not k * n eager indexings)
    scores, res = jax.jit(_swap_scores)(jnp.asarray(A), jnp.asarray(y), jnp.asarray(support))
    scores = np.asarray(scores)
    for i, j in itertools.product(range(k), range(n)):
        if j in support:
            assert np.isinf(scores[i, j])
            continue
        cand = support.copy()
        cand[i] = j
        r = A @ _np_ls(A, y, cand) - y
        np.testing.assert_allclose(float(scores[i, j]), r @ r, rtol=1e-9)
    np.testing.assert_allclose(float(res), np.linalg.norm(A @ _np_ls(A, y, support) - y))


def _np_htp(A, y, k, n_iter):
    """HTP (Foucart 2011) in float64 numpy, step 1: top_k |x + A^T (y - A x)|, least squares."""
    A, y = np.asarray(A, np.float64), np.asarray(y, np.float64)
    S = np.argsort(-np.abs(A.T @ y), kind="stable")[:k]
    supports = [np.sort(S)]
    x = _np_ls(A, y, S)
    for _ in range(n_iter):
        S = np.argsort(-np.abs(x + A.T @ (y - A @ x)), kind="stable")[:k]
        supports.append(np.sort(S))
        x = _np_ls(A, y, S)
    return x, supports


def _spectral_cases():
    rng = np.random.default_rng(14)
    top = np.zeros((3, 3))  # largest diagonal entry (3) off the top eigenvector (4: [0, 1, 1])
    top[0, 0], top[1:, 1:] = np.sqrt(3.0), 1.0
    return {
        "gaussian": rng.standard_normal((12, 30)),
        "orthonormal rows (all singular values 1)": np.linalg.qr(rng.standard_normal((20, 8)))[0].T,
        "top eigenvector off the largest diagonal": top,
        "clustered top": np.diag([1.0, 1.0 - 1e-9, 1.0 - 1e-6, 0.5])
        @ np.linalg.qr(rng.standard_normal((6, 4)))[0].T,
        "rank one": np.outer(rng.standard_normal(5), rng.standard_normal(9)),
        "zero": np.zeros((4, 6)),
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spectral_norm_sq_matches_numpy_float64(x64, dtype):
    """Repeated squaring of the Gram matrix: ||A||_2^2 to a few ulps, also on the cases
    where a plain power method stalls (degenerate or clustered top singular values, a
    start vector orthogonal to the top eigenvector). Each case is zero-padded to 12 x 30
    (same singular values), wide and transposed (the A A^T and A^T A branches), one
    vmapped call per shape."""
    cases = _spectral_cases()
    stack = np.zeros((len(cases), 12, 30))
    for i, M in enumerate(cases.values()):
        stack[i, : M.shape[0], : M.shape[1]] = M
    ref = np.array([np.linalg.norm(M, 2) ** 2 for M in cases.values()])
    rtol = 1e-13 if dtype == "float64" else 1e-6
    f = jax.jit(jax.vmap(spectral_norm_sq))
    for batch in (stack, np.swapaxes(stack, 1, 2)):
        got = np.asarray(f(jnp.asarray(batch, dtype)), np.float64)
        for name, g, r in zip(cases, got, ref):
            np.testing.assert_allclose(g, r, rtol=rtol, atol=0, err_msg=name)


def test_htp_matches_numpy_reference_float64(x64):
    """HTP's gradient uses the least-squares residual y - A_S c (no second product A x)."""
    A, prob = _easy(seed=11, m=20, n=50, k=5, dtype=jnp.float64)
    y = prob.y + 0.05 * jax.random.normal(jax.random.PRNGKey(12), prob.y.shape, jnp.float64)
    x_ref, supports = _np_htp(A, y, 5, 20)
    assert len({tuple(s) for s in supports}) > 1  # the support moves: the update is exercised
    ours = sparse.htp(A, y, 5, 20)
    np.testing.assert_array_equal(np.asarray(ours.support), supports[-1])
    np.testing.assert_allclose(np.asarray(ours.x), x_ref, atol=1e-10)


@jax.jit
def _appended_ls(A, y, support):
    """Orthonormal basis of A[:, support] by k Gram-Schmidt appends, then the solve on it."""
    Q = jnp.zeros((A.shape[0], support.shape[0]), A.dtype)
    Q = jax.lax.fori_loop(0, support.shape[0], lambda t, Q: gs_append(Q, t, A[:, support[t]]), Q)
    return ls_from_basis(A, y, support, Q), Q, ls_on_support(A, y, support)[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["gaussian", "deconvolution"])
def test_appended_basis_solve_matches_fresh_lstsq(x64, dtype, case):
    """The QR append update (OMP / OLS's basis, one triangular solve) against a fresh
    float64 lstsq on random supports after up to 40 appends: Q stays orthonormal to a few
    eps and the solution error is within 10x the fresh Householder QR's error or of
    eps * cond(A_S) * ||x|| (what a backward-stable solve guarantees; at cond 5e4 the
    float64 reference itself is only that accurate: ||x|| ~ 100, numpy, Householder and
    this solve all lie about 2.5e-10 from an 80-bit Gram-Schmidt solution)."""
    rng = np.random.default_rng(13)
    if case == "gaussian":
        m, n, ks = 64, 128, (1, 12, 40)
        A = rng.standard_normal((m, n))
        A /= np.linalg.norm(A, axis=0)
        supports = [rng.permutation(n)[:k] for k in ks]
    else:  # coherent: adjacent Gaussian spikes, cond(A_S) in the thousands
        A = np.asarray(sparse.deconvolution_matrix(60, 3.0, dtype=jnp.float64))
        supports = [np.array([20, 21, 22, 23, 24, 25, 26, 27, 40]), rng.permutation(60)[:12]]
        m = 60
    eps = float(jnp.finfo(dtype).eps)
    for support in supports:
        y = A[:, support] @ rng.standard_normal(len(support)) + 0.01 * rng.standard_normal(m)
        x_ref = _np_ls(A, y, support)
        x, Q, x_fresh = _appended_ls(
            jnp.asarray(A, dtype), jnp.asarray(y, dtype), jnp.asarray(support)
        )
        Q = np.asarray(Q, np.float64)
        assert np.abs(Q.T @ Q - np.eye(len(support))).max() < 20 * eps
        cond = np.linalg.cond(A[:, support])
        err = np.linalg.norm(np.asarray(x, np.float64) - x_ref)
        fresh = np.linalg.norm(np.asarray(x_fresh, np.float64) - x_ref)
        assert err <= 10 * max(fresh, eps * cond * np.linalg.norm(x_ref)), (err, fresh, cond)


def test_omp_matches_scikit_learn(x64):
    linear_model = pytest.importorskip("sklearn.linear_model")
    m, n, k = 40, 80, 8
    for seed in range(3):
        # the instance drawn in numpy (the generators are tested elsewhere; no compiles)
        rng = np.random.default_rng(seed)
        A = rng.standard_normal((m, n))
        A /= np.linalg.norm(A, axis=0)
        x = np.zeros(n)
        x[rng.permutation(n)[:k]] = rng.choice([-1.0, 1.0], k) * rng.uniform(0.5, 1.5, k)
        y = A @ x + 0.05 * rng.standard_normal(m)
        skl = linear_model.OrthogonalMatchingPursuit(n_nonzero_coefs=k, fit_intercept=False)
        ref = skl.fit(A, y).coef_
        ours = sparse.omp(jnp.asarray(A), jnp.asarray(y), k)
        np.testing.assert_array_equal(np.asarray(ours.support), np.flatnonzero(ref))
        np.testing.assert_allclose(np.asarray(ours.x), ref, atol=1e-10)


def test_ols_picks_the_largest_residual_decrease(x64):
    """OLS step 2 equals the brute-force best pair containing OLS's first pick."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((8, 12))
    A /= np.linalg.norm(A, axis=0)
    y = rng.standard_normal(8)
    first = sparse.ols(jnp.asarray(A), jnp.asarray(y), 1).support[0]
    res = {
        j: np.linalg.norm(A @ _np_ls(A, y, [int(first), j]) - y) for j in range(12) if j != first
    }
    two = set(np.asarray(sparse.ols(jnp.asarray(A), jnp.asarray(y), 2).support).tolist())
    assert two == {int(first), min(res, key=res.get)}


def test_deconvolution_matrix_coherence():
    A = np.asarray(sparse.deconvolution_matrix(100, 3.0))
    assert A.shape == (100, 100)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, rtol=1e-6)
    # interior neighbours: correlation exp(-d^2 / (4 width^2)) (Gaussian autocorrelation)
    for d in (1, 2, 5):
        np.testing.assert_allclose(A[:, 50] @ A[:, 50 + d], np.exp(-(d**2) / 36.0), rtol=1e-4)
    B = np.asarray(sparse.deconvolution_matrix(100, 3.0, m=120))
    np.testing.assert_allclose(B[10:110, 50], A[:, 50], atol=1e-6)  # interior: same samples
    assert int(np.argmax(B[:, 0])) == 10  # spike 0 sits 10 samples into the padded grid


def test_sparse_problem_properties():
    A = sparse.gaussian_matrix(jax.random.PRNGKey(0), 20, 50)
    p = sparse.sparse_problem(jax.random.PRNGKey(1), A, 7, min_magnitude=0.5)
    nz = np.flatnonzero(np.asarray(p.x))
    np.testing.assert_array_equal(nz, np.asarray(p.support))
    assert len(nz) == 7 and np.all(np.abs(np.asarray(p.x)[nz]) >= 0.5)
    np.testing.assert_allclose(np.asarray(p.y), np.asarray(A) @ np.asarray(p.x), rtol=1e-5)
    noisy = sparse.sparse_problem(jax.random.PRNGKey(1), A, 7, noise_std=0.1)
    assert 0 < float(jnp.linalg.norm(noisy.y - A @ noisy.x)) < 1.0


@pytest.mark.parametrize("name", sorted(sparse.SOLVERS))
def test_bad_input_fails_with_clear_message(name, user_checks):
    f = sparse.SOLVERS[name]
    A = jnp.ones((6, 10))
    y = jnp.ones(6)
    with (
        user_checks(),
        pytest.raises(ValueError, match=r"k=11 exceeds the number of columns of A, n=10"),
    ):
        f(A, y, 11)
    with user_checks(), pytest.raises(ValueError, match=r"k=7 is too large for m=6 rows"):
        f(A, y, 7)
    with user_checks(), pytest.raises(ValueError, match=r"y must have shape \(m,\) = \(6,\)"):
        f(A, jnp.ones(5), 2)
    with user_checks(), pytest.raises(ValueError, match=r"y must be finite, got 1 NaN"):
        f(A, y.at[2].set(jnp.nan), 2)
    with user_checks(), pytest.raises(ValueError, match=r"k must be a static Python int"):
        f(A, y, 2.5)


def test_bad_generator_input():
    with pytest.raises(ValueError, match="need m >= n"):
        sparse.deconvolution_matrix(10, 3.0, m=5)
    with pytest.raises(ValueError, match="width must be positive"):
        sparse.deconvolution_matrix(10, 0.0)
    with pytest.raises(ValueError, match="k=11 exceeds"):
        sparse.sparse_problem(jax.random.PRNGKey(0), jnp.ones((4, 10)), 11)
    with pytest.raises(ValueError, match="step must be a finite positive"):
        sparse.sea(jnp.eye(4), jnp.ones(4), 2, 5, step=-1.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sparse.sea(jnp.ones(6), jnp.ones(6), 2), r"A must be a matrix of shape"),
        (lambda: sparse.sea(jnp.eye(6), jnp.ones(6), 2, 5, x0=jnp.ones(5)), r"x0 must have"),
        (
            lambda: sparse.omp(jnp.eye(6, dtype=jnp.complex64), jnp.ones(6), 2),
            r"A and y must be real",
        ),
        (
            lambda: sparse.lstsq_on_support(jnp.eye(6), jnp.ones(6), jnp.array([[0, 1]])),
            r"support must be 1-D",
        ),
        (
            lambda: sparse.lstsq_on_support(jnp.eye(6), jnp.ones(6), jnp.array([0.0, 1.0])),
            r"support must be integer",
        ),
        (
            lambda: sparse.lstsq_on_support(jnp.eye(6), jnp.ones(6), jnp.array([0, 6])),
            r"indices must lie in \[0, 6\)",
        ),
        (
            lambda: sparse.lstsq_on_support(jnp.eye(6), jnp.ones(6), jnp.array([2, 2])),
            r"indices must be distinct",
        ),
        (
            lambda: sparse.sparse_problem(jax.random.PRNGKey(0), jnp.ones(4), 2),
            r"A must be a matrix \(m, n\)",
        ),
        (
            lambda: sparse.sparse_problem(jax.random.PRNGKey(0), jnp.eye(4), 2, noise_std=-1.0),
            r"noise_std must be >= 0",
        ),
    ],
)
def test_every_input_check_names_the_parameter(call, match, user_checks):
    with user_checks(), pytest.raises(ValueError, match=match):
        call()
