import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth import hessian as hs


def _quadratic(n, key, shift=0.0):
    """loss(p) = 0.5 x^T A x + cubic terms vanishing at 0, x = flattened pytree."""
    M = jax.random.normal(key, (n, n), jnp.float64)
    A = (M + M.T) / 2 + shift * jnp.eye(n)

    def loss(p):
        x = jnp.concatenate([p["a"].ravel(), p["b"]])
        return 0.5 * x @ A @ x + jnp.sum(x**3) / 6

    params = {"a": jnp.zeros((3, 4), jnp.float64), "b": jnp.zeros((n - 12,), jnp.float64)}
    return loss, params, np.asarray(A)


def _mlp_loss(key):
    k1, k2, k3 = jax.random.split(key, 3)
    params = {
        "w1": jax.random.normal(k1, (4, 5), jnp.float64),
        "w2": jax.random.normal(k2, (5, 2), jnp.float64),
    }
    x = jax.random.normal(k3, (7, 4), jnp.float64)

    def loss(p):
        return jnp.sum(jnp.tanh(x @ p["w1"]) @ p["w2"] ** 2)

    return loss, params


def test_dense_matches_known_quadratic(x64):
    loss, params, A = _quadratic(20, jax.random.PRNGKey(0))
    np.testing.assert_allclose(hs.dense(loss, params), A, atol=1e-12)


def test_hvp_matches_dense(x64, maybe_jit):
    loss, params = _mlp_loss(jax.random.PRNGKey(1))
    v = jax.tree_util.tree_map(lambda x: jnp.cos(jnp.arange(x.size)).reshape(x.shape), params)
    Hv = maybe_jit(lambda p, v: hs.hvp(loss, p, v))(params, v)
    flat_v = jnp.concatenate([v["w1"].ravel(), v["w2"].ravel()])
    Hd = hs.dense(loss, params) @ flat_v
    got = jnp.concatenate([Hv["w1"].ravel(), Hv["w2"].ravel()])
    np.testing.assert_allclose(got, Hd, rtol=1e-10, atol=1e-10)
    if maybe_jit is jax.jit:
        return  # hvp_fn below does not use maybe_jit: checked once (eager)
    lin = hs.hvp_fn(loss, params)
    np.testing.assert_allclose(lin(v)["w2"], Hv["w2"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("which", ["largest", "smallest"])
def test_eigenvalues_match_eigh(x64, maybe_jit, which):
    loss, params, A = _quadratic(60, jax.random.PRNGKey(2))
    ref = np.linalg.eigvalsh(A)
    ref = ref[::-1][:4] if which == "largest" else ref[:4]
    f = maybe_jit(lambda p: hs.eigenvalues(loss, p, 4, which=which))
    np.testing.assert_allclose(f(params), ref, rtol=1e-8)
    if maybe_jit is jax.jit:
        return  # the eigenvector checks below do not use maybe_jit: run them once (eager)
    res = hs.eigenvalues(loss, params, 4, which=which, return_eigenvectors=True)
    assert bool(res.converged)
    # unit Ritz vectors whose true residual ||A y - theta y|| is the Lanczos estimate
    Y = np.concatenate([res.eigenvectors["a"].reshape(4, -1), res.eigenvectors["b"]], axis=1)
    np.testing.assert_allclose(np.linalg.norm(Y, axis=1), 1.0, rtol=1e-10)
    true_res = np.linalg.norm(Y @ A - res.eigenvalues[:, None] * Y, axis=1)
    np.testing.assert_allclose(true_res, res.residuals, rtol=1e-4, atol=1e-10)
    assert true_res[0] < 1e-3


def test_eigsh_takes_a_matvec(x64):
    A = np.diag(np.arange(1.0, 31.0))
    res = hs.eigsh(lambda v: jnp.asarray(A) @ v, jnp.ones(30), 3, tol=1e-10)
    np.testing.assert_allclose(res.eigenvalues, [30.0, 29.0, 28.0], rtol=1e-10)
    assert bool(res.converged) and int(res.num_restarts) > 0  # a basis of 20 < 30 rows


def test_trace_hutchinson(x64):
    loss, params, A = _quadratic(40, jax.random.PRNGKey(3))
    est, sem = hs.trace(loss, params, key=jax.random.PRNGKey(4), num_probes=400)
    assert abs(float(est) - np.trace(A)) < 4 * float(sem) + 1e-9
    # Rademacher probes are exact on a diagonal matrix
    d = jnp.arange(1.0, 13.0)
    est, sem = hs.trace(lambda x: 0.5 * jnp.sum(d * x**2), jnp.zeros(12), key=jax.random.PRNGKey(0))
    np.testing.assert_allclose(est, jnp.sum(d), rtol=1e-12)


def test_density_slq_full_depth_is_exact(x64):
    loss, params, A = _quadratic(30, jax.random.PRNGKey(5))
    dens = hs.density(loss, params, key=jax.random.PRNGKey(6), num_matvecs=30, num_probes=3)
    ev = np.linalg.eigvalsh(A)
    # full-depth Lanczos: the quadrature nodes are the eigenvalues, weights sum to 1
    np.testing.assert_allclose(np.sort(dens.nodes, axis=1), np.tile(ev, (3, 1)), atol=1e-8)
    np.testing.assert_allclose(dens.weights.sum(axis=1), 1.0, rtol=1e-10)
    np.testing.assert_allclose(np.trapezoid(dens.density, dens.grid), 1.0, rtol=1e-3)
    # Gauss quadrature: first moment = v^T A v / n, averaging to tr(A) / n
    m1 = np.mean(np.sum(dens.weights * dens.nodes, axis=1))
    assert abs(m1 - np.trace(A) / 30) < 3 * np.sqrt(2 * np.sum(A**2) / 3) / 30


def test_negative_curvature_direction(x64):
    # f(x, y) = x^2 - 3 y^2 + x y^3: strict saddle at 0 with escape direction +-e_y
    def f(p):
        return p[0] ** 2 - 3 * p[1] ** 2 + p[0] * p[1] ** 3

    nc = hs.negative_curvature_direction(f, jnp.zeros(2), num_matvecs=2)
    np.testing.assert_allclose(nc.eigenvalue, -6.0, rtol=1e-10)
    np.testing.assert_allclose(jnp.abs(nc.direction), [0.0, 1.0], atol=1e-8)
    assert bool(nc.is_negative)
    assert float(f(0.1 * nc.direction)) < 0.0
    nc = hs.negative_curvature_direction(lambda p: jnp.sum(p**2), jnp.ones(3))
    assert not bool(nc.is_negative)


def test_from_nnx_linear_model_closed_form(x64):
    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0), param_dtype=jnp.float64)
    x = jax.random.normal(jax.random.PRNGKey(0), (10, 3), jnp.float64)
    y = jax.random.normal(jax.random.PRNGKey(1), (10, 2), jnp.float64)
    loss, params = hs.from_nnx(model, lambda m, x, y: jnp.mean(jnp.sum((m(x) - y) ** 2, 1)), x, y)
    # Hessian of (1/N) sum ||W^T x + b - y||^2 = (2/N) [x 1]^T [x 1] (x) I_2
    xa = np.concatenate([np.asarray(x), np.ones((10, 1))], axis=1)
    ref = np.sort(np.repeat(np.linalg.eigvalsh(2 / 10 * xa.T @ xa), 2))
    np.testing.assert_allclose(np.linalg.eigvalsh(hs.dense(loss, params)), ref, rtol=1e-10)
    np.testing.assert_allclose(
        hs.eigenvalues(loss, params, 2, num_matvecs=8), ref[::-1][:2], rtol=1e-8
    )


def test_dense_batched_matches_closed_form_hessians(x64, maybe_jit):
    """loss(p) = 0.5 x^T A x + sum x^3 / 6: H(x) = A + diag(x), at a stack of points."""
    loss, params, A = _quadratic(16, jax.random.PRNGKey(4))
    rng = np.random.default_rng(5)
    pts = rng.standard_normal((3, 16))
    stacked = {"a": jnp.asarray(pts[:, :12].reshape(3, 3, 4)), "b": jnp.asarray(pts[:, 12:])}
    out = maybe_jit(lambda p: hs.dense_batched(loss, p))(stacked)
    assert out.shape == (3, 16, 16)
    for i in range(3):
        np.testing.assert_allclose(out[i], A + np.diag(pts[i]), atol=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="which"):
        hs.eigenvalues(lambda p: jnp.sum(p**2), jnp.ones(5), 1, which="middle")
    with pytest.raises(ValueError, match=r"k must be <= n=5 \(the dimension"):
        hs.eigenvalues(lambda p: jnp.sum(p**2), jnp.ones(5), 6)
    with pytest.raises(ValueError, match="scalar"):
        hs.dense(lambda p: p**2, jnp.ones(3))
    with pytest.raises(ValueError, match="same batch size"):
        hs.dense_batched(
            lambda p: jnp.sum(p["a"]) + jnp.sum(p["b"]),
            {"a": jnp.ones((2, 3)), "b": jnp.ones((3, 3))},
        )
    with pytest.raises(ValueError, match="batch axis"):
        hs.dense_batched(lambda p: p, jnp.ones(()))
    with pytest.raises(ValueError, match="same pytree structure"):
        hs.hvp(lambda p: jnp.sum(p["a"] ** 2), {"a": jnp.ones(2)}, jnp.ones(2))
