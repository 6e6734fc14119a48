"""The library's input policy (issue 13, item 10): one rule for NaN, complex and zero columns.

Public functions of orthconv, linalg, hessian, sparse and dln reject a NaN / inf input
eagerly when its values are concrete, with a message naming the parameter; under
``jit`` / ``vmap`` / ``grad`` the check is skipped (no tracer error) and NaN propagates.
orthconv rejects complex kernels (they used to be cut to their real part). SEA handles
zero columns of ``A`` like its eight peers; fewer nonzero columns than ``k`` is rejected
by every solver. ``dln.classify`` checks its Assumption H and names what fails.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth import _checks, dln, hessian, linalg, orthconv, sparse

KERNEL = np.random.default_rng(0).standard_normal((2, 2, 3))


def _nan_at(a, index):
    a = np.array(a, dtype=np.float64)
    a[index] = np.nan
    return a


# ------------------------------------------------------------------ the shared helpers
def test_finite_names_the_leaf_and_counts_the_bad_entries():
    with pytest.raises(ValueError, match=r"^x must be finite, got 1 NaN and 1 inf of 3 "):
        _checks.finite(np.array([1.0, np.nan, np.inf]), "x")
    with pytest.raises(ValueError, match=r"params\['w'\] must be finite, .*index \(0, 1\)"):
        _checks.finite({"b": jnp.zeros(2), "w": jnp.array([[0.0, jnp.inf]])}, "params")
    ok = {"a": np.arange(3), "b": jnp.ones(2), "c": 2.0}  # ints are always finite
    assert _checks.finite(ok, "p") is ok


def test_finite_skips_tracers_and_closed_over_arrays_under_jit():
    bad = jnp.array([jnp.nan])
    out = jax.jit(lambda x: _checks.finite(x, "x") + 1)(bad)  # a tracer: skipped
    assert np.isnan(out).all()
    with pytest.raises(ValueError, match="c must be finite"):  # concrete inside a trace
        jax.jit(lambda x: _checks.finite(bad, "c") + x)(1.0)


def test_real_rejects_complex_also_under_jit():
    with pytest.raises(ValueError, match=r"kernel must be real, got complex dtype complex64"):
        _checks.real(jnp.ones(2, jnp.complex64), "kernel")
    with pytest.raises(ValueError, match="must be real"):
        jax.jit(lambda k: _checks.real(k, "kernel"))(jnp.ones(2, jnp.complex64))


# ------------------------------------------------------------------ orthconv
@pytest.mark.parametrize(
    "call",
    [
        lambda k: orthconv.lorth(k),
        lambda k: orthconv.singular_values(k, 6),
        lambda k: orthconv.orthogonality_errors(k, 6),
        lambda k: orthconv.conv_matrix(k, 6),
        lambda k: orthconv.conv(np.ones((1, 2, 6)), k),
        lambda k: orthconv.conv_transpose(np.ones((1, 2, 6)), k),
    ],
    ids=["lorth", "singular_values", "orthogonality_errors", "conv_matrix", "conv", "adjoint"],
)
def test_orthconv_rejects_complex_and_nan_kernels(call, user_checks):
    # (jaxtyping's Float annotation also rejects complex; users without it got the cut)
    with (
        user_checks(),
        pytest.raises(ValueError, match=r"kernel must be real, got complex dtype complex128"),
    ):
        call(KERNEL + 1j)  # before: silently its real part (lorth 24.38 = lorth(KERNEL))
    with pytest.raises(ValueError, match=r"kernel must be finite, got 1 NaN .*\(0, 0, 1\)"):
        call(_nan_at(KERNEL, (0, 0, 1)))  # before: NaN results


def test_orthconv_rejects_nan_inputs_and_params(user_checks):
    with pytest.raises(ValueError, match="x must be finite"):
        orthconv.conv(_nan_at(np.ones((1, 2, 6)), (0, 1, 2)), KERNEL)
    plan = orthconv.orth_conv_plan(2, 2, 3, 1, 1)
    params = orthconv.init_orth_conv_params(jax.random.key(0), plan)
    params["matrix"] = params["matrix"].at[0, 0].set(jnp.nan)
    with pytest.raises(ValueError, match=r"params\['matrix'\] must be finite"):
        orthconv.orth_conv_kernel(params, plan)


def test_orthconv_nan_propagates_under_jit_and_grad():
    bad = jnp.asarray(_nan_at(KERNEL, (0, 0, 1)), jnp.float32)
    assert np.isnan(jax.jit(orthconv.lorth)(bad))
    assert np.isnan(jax.grad(orthconv.lorth)(bad)).any()


# ------------------------------------------------------------------ linalg
@pytest.mark.parametrize(
    ("fn", "name"),
    [(linalg.bjorck, "w"), (linalg.cayley, "a"), (linalg.skew_expm, "a"), (linalg.fwht, "x")],
    ids=["bjorck", "cayley", "skew_expm", "fwht"],
)
def test_linalg_rejects_nan_eagerly_and_propagates_under_vmap(fn, name):
    bad = jnp.asarray(_nan_at(np.eye(4), (1, 2)), jnp.float32)
    with pytest.raises(ValueError, match=rf"^{name} must be finite, got 1 NaN and 0 inf of 16"):
        fn(bad)
    assert np.isnan(jax.vmap(fn)(bad[None])).any()


# ------------------------------------------------------------------ hessian
def _loss(p):
    return jnp.sum(p["w"] ** 2) * jnp.sum(p["b"])


PARAMS = {"w": jnp.ones((2, 2)), "b": jnp.array([1.0, jnp.inf])}


@pytest.mark.parametrize(
    "call",
    [
        lambda: hessian.dense(_loss, PARAMS),
        lambda: hessian.hvp(_loss, PARAMS, PARAMS),
        lambda: hessian.hvp_fn(_loss, PARAMS),
        lambda: hessian.trace(_loss, PARAMS, key=jax.random.key(0), num_probes=2),
        lambda: hessian.eigenvalues(_loss, PARAMS, key=jax.random.key(0), k=1),
    ],
    ids=["dense", "hvp", "hvp_fn", "trace", "eigenvalues"],
)
def test_hessian_rejects_non_finite_params(call):
    with pytest.raises(ValueError, match=r"params\['b'\] must be finite, got 0 NaN and 1 inf"):
        call()  # before: dense returned a Hessian with inf entries


def test_hessian_dense_under_jit_still_traces():
    out = jax.jit(lambda p: hessian.dense(_loss, p))(PARAMS)
    assert out.shape == (6, 6)


# ------------------------------------------------------------------ sparse
def _problem(m=20, n=40):
    """A float64 numpy problem; solvers get jax arrays (their annotations ask for them)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((m, n))
    A /= np.linalg.norm(A, axis=0)
    x = np.zeros(n)
    x[[5, 17, 30]] = [1.0, -2.0, 1.5]
    return A, x


def test_sea_handles_zero_columns_like_its_peers(x64):
    A, x = _problem()
    y = A @ x
    A[:, :4] = 0  # columns never in the true support: recovery is still exact
    A, y = jnp.asarray(A), jnp.asarray(y)
    res = sparse.sea(A, y, 3, n_iter=50)  # before: support [0 1 2], residual nan
    np.testing.assert_array_equal(res.support, [5, 17, 30])
    assert float(res.residual) < 1e-10
    assert np.isfinite(np.asarray(res.x)).all()
    omp = sparse.omp(A, y, 3)  # the peer, independent of SEA's ranking
    np.testing.assert_array_equal(res.support, omp.support)
    # the same under jit / vmap (no concrete check there: the handling is in the solver)
    batched = jax.jit(jax.vmap(lambda A, y: sparse.sea(A, y, 3, n_iter=50)))
    out = batched(A[None], y[None])
    np.testing.assert_array_equal(out.support[0], [5, 17, 30])


def test_sea_zero_column_in_the_true_support_is_left_out(x64):
    A, x = _problem()
    A[:, 5] = 0  # the coordinate at 5 is unidentifiable: y does not depend on it
    res = sparse.sea(jnp.asarray(A), jnp.asarray(A @ x), 3, n_iter=50)
    assert 5 not in np.asarray(res.support) and np.isfinite(float(res.residual))


@pytest.mark.parametrize("solver", sorted(sparse.SOLVERS))
def test_every_solver_rejects_fewer_nonzero_columns_than_k(solver, user_checks):
    A = np.zeros((6, 10))
    A[:, 3] = 1.0
    with (
        user_checks(),
        pytest.raises(ValueError, match=rf"^{solver}: A has only 1 nonzero column but k=2"),
    ):
        sparse.SOLVERS[solver](A, A[:, 3], 2)


# ------------------------------------------------------------------ dln
def _dln_point(dx=4, dy=3, m=20):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((dx, m)), rng.standard_normal((dy, m))
    return [rng.standard_normal((2, dx)), rng.standard_normal((dy, 2))], X, Y


def test_classify_rejects_nan_before_the_svd():
    W, X, Y = _dln_point()
    with pytest.raises(ValueError, match=r"^X must be finite, got 1 NaN and 0 inf of 80"):
        dln.classify(W, _nan_at(X, (0, 0)), Y)  # before: "Eigenvalues did not converge"
    with pytest.raises(ValueError, match=r"weights\[1\] must be finite"):
        dln.classify([W[0], _nan_at(W[1], (0, 0))], X, Y)


def test_classify_names_the_two_equal_eigenvalues_of_sigma():
    rng = np.random.default_rng(1)
    W, _, _ = _dln_point()
    X = np.linalg.qr(rng.standard_normal((20, 4)))[0].T  # S_xx = I
    Y = X[:3] * np.array([[2.0], [1.0], [1.0]])  # Sigma = diag(4, 1, 1)
    with pytest.raises(
        ValueError, match=r"distinct eigenvalues \(AMG24, Assumption H\), but l_2 = 1 and l_3 = 1"
    ):
        dln.classify(W, X, Y)  # before: "not_critical", silently outside the theory
    Y = X[:3] * np.array([[3.0], [2.0], [1.0]])  # distinct: accepted
    assert dln.classify(W, X, Y) in dln.CLASSES


def test_classify_rejects_a_singular_sxx_and_a_rank_deficient_syx():
    W, X, Y = _dln_point()
    X[3] = X[0] + X[1]
    with pytest.raises(ValueError, match=r"Sigma_XX = X X\^T invertible .*dependent rows"):
        dln.classify(W, X, Y)
    W, X, Y = _dln_point()
    Y[2] = Y[0]
    with pytest.raises(ValueError, match=r"Sigma_YX = Y X\^T of full rank d_y=3"):
        dln.classify(W, X, Y)


def test_dln_loss_under_jit_still_traces(x64):
    W, X, Y = _dln_point()
    val = jax.jit(dln.loss)([jnp.asarray(w) for w in W], jnp.asarray(X), jnp.asarray(Y))
    np.testing.assert_allclose(val, np.sum((W[1] @ W[0] @ X - Y) ** 2), rtol=1e-12)
