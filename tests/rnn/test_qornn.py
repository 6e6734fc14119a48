import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxorth.rnn import QORNNCell, polar_factor, project_orthogonal

N = 32


@pytest.fixture(scope="module")
def cells():
    return {b: QORNNCell(N, b, init="orthogonal", rngs=nnx.Rngs(0)) for b in (2, 3, 4, 5, 6, 8)}


@pytest.fixture(scope="module")
def measurements(cells):
    """Per bit width: (orthogonality_error, error_bound, W_q, W_o), one program each."""
    measure = nnx.jit(
        lambda c: (c.orthogonality_error(), c.error_bound(), c.matrix(), c.orthogonal_matrix())
    )
    return {b: measure(c) for b, c in cells.items()}


def test_bjorck_matrix_is_orthogonal_and_quantized(cells, measurements):
    cell = cells[4]
    _, _, wq, w_o = measurements[4]  # cell.matrix() and cell.orthogonal_matrix(), jitted
    w_o = np.asarray(w_o, np.float64)
    np.testing.assert_allclose(w_o.T @ w_o, np.eye(N), atol=1e-5)
    wq = np.asarray(wq)
    # default levels="full" (the authors' code): step max|W_o| / 8, codes in [-8, 7]
    delta = np.abs(w_o).max() / 8
    codes = wq / delta
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-3)
    codes = np.round(codes)
    assert codes.min() >= -8 and codes.max() <= 7
    ref = np.clip(np.round(w_o / delta), -8, 7)
    np.testing.assert_array_equal(codes, ref)
    assert cell.size_bits() == 4 * N * N + 32 and cell.max_code() == 8


def test_symmetric_levels_option():
    cell = QORNNCell(N, 4, levels="symmetric", rngs=nnx.Rngs(0))
    w_o = np.asarray(cell.orthogonal_matrix(), np.float64)
    delta = np.abs(w_o).max() / 7
    codes = np.asarray(cell.matrix()) / delta
    np.testing.assert_allclose(codes, np.round(w_o / delta), atol=1e-3)
    assert np.abs(np.round(codes)).max() == 7 and cell.max_code() == 7
    f, scale = cell.integer_recurrence()
    np.testing.assert_allclose(float(scale), delta, rtol=1e-6)
    with pytest.raises(ValueError, match="^levels must be one of full, symmetric"):
        QORNNCell(8, levels="int", rngs=nnx.Rngs(0))


def test_full_levels_round_finer_than_symmetric_at_4_bits():
    # step max|W_o| / 8 instead of / 7: a Haar matrix (n = 128, max|W_o| ~ 4.4 / sqrt(n)
    # is one outlier) is rounded finer, so W_q is closer to orthogonal
    n = 128
    full = QORNNCell(n, 4, rngs=nnx.Rngs(0))
    sym = QORNNCell(n, 4, levels="symmetric", rngs=nnx.Rngs(0))
    e_full, e_sym = float(full.orthogonality_error()), float(sym.orthogonality_error())
    assert e_full < e_sym
    assert e_full <= float(full.error_bound())


def test_orthogonality_error_bounded_and_shrinks_with_bits(cells, measurements):
    out = measurements
    errs = {b: float(o[0]) for b, o in out.items()}
    for b in cells:
        wq = np.asarray(out[b][2], np.float64)
        ref = np.linalg.norm(wq.T @ wq - np.eye(N), 2)
        np.testing.assert_allclose(errs[b], ref, rtol=1e-4, atol=1e-5)
        assert errs[b] <= float(out[b][1])
    # roughly halves per extra bit once the rounding error is small
    assert errs[8] < errs[6] < errs[4] < errs[3]
    assert errs[8] < 0.05


def test_ste_gradient_reaches_parameter():
    cell = QORNNCell(8, 3, rngs=nnx.Rngs(1))
    h = jnp.asarray(np.random.default_rng(0).standard_normal((4, 8)), jnp.float32)
    weights = jnp.arange(8.0)[None, :]
    g = nnx.jit(nnx.grad(lambda c: jnp.sum(c.recurrence()(h) ** 2 * weights)))(cell)
    assert np.all(np.isfinite(g.w[...])) and float(jnp.abs(g.w[...]).max()) > 0


def test_projunn_forward_uses_the_projection_and_optax_keeps_it_orthogonal(x64):
    cell = QORNNCell(16, 6, method="projunn", init="identity", rngs=nnx.Rngs(0))
    w = jnp.asarray(np.random.default_rng(0).standard_normal((16, 16)))
    cell.w[...] = w
    u, _, vt = np.linalg.svd(np.asarray(w))
    np.testing.assert_allclose(cell.orthogonal_matrix(), u @ vt, atol=1e-10)
    np.testing.assert_allclose(polar_factor(w), u @ vt, atol=1e-10)
    # straight-through: d <W_o, G> / dW = G
    gmat = jnp.asarray(np.random.default_rng(1).standard_normal((16, 16)))
    grad = nnx.grad(lambda c: jnp.sum(c.orthogonal_matrix() * gmat))(cell).w[...]
    np.testing.assert_allclose(grad, gmat)
    # the optax projection lands every update on O(n)
    params = {"w": jnp.eye(16)}
    tx = optax.chain(optax.sgd(0.3), project_orthogonal())
    state = tx.init(params)
    for i in range(3):
        g = {"w": jnp.asarray(np.random.default_rng(i).standard_normal((16, 16)))}
        updates, state = tx.update(g, state, params)
        params = optax.apply_updates(params, updates)
        p = np.asarray(params["w"])
        np.testing.assert_allclose(p.T @ p, np.eye(16), atol=1e-10)
    with pytest.raises(ValueError, match="square"):
        project_orthogonal().update({"b": jnp.ones(3)}, optax.EmptyState(), {"b": jnp.ones(3)})


@pytest.mark.parametrize("scale", ["max", "mse"])
def test_integer_form_matches_quantized_matrix(scale):
    cell = QORNNCell(16, 5, scale=scale, rngs=nnx.Rngs(2))
    f, scale = cell.integer_recurrence()
    c = jnp.asarray(np.random.default_rng(0).integers(-100, 100, (3, 16)), jnp.int32)
    out = f(c)
    assert out.dtype == jnp.int32
    np.testing.assert_allclose(
        float(scale) * np.asarray(out),
        np.asarray(c) @ np.asarray(cell.matrix()).T,
        rtol=1e-5,
        atol=1e-3,
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bits": 1}, "^bits must be an integer"),
        ({"bits": 4, "method": "svd"}, "^method must be"),
        ({"bits": 4, "n_iter": 0}, "^n_iter must be an integer >= 1"),
        ({"bits": 4, "init": "x"}, "^init must be"),
    ],
)
def test_constraints_fail_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QORNNCell(8, **kwargs, rngs=nnx.Rngs(0))


def _eig_moduli(cell):
    return np.abs(np.linalg.eigvals(np.asarray(cell.matrix(), np.float64)))


def test_default_init_keeps_quantized_eigenvalues_near_unit_circle():
    # At 4 bits the per-tensor step is max|W_o| / 7: Henaff's 2x2 rotations (entries up
    # to 1) round to moduli off by several %, a Haar orthogonal matrix (entries
    # ~1/sqrt(n)) stays within ~3% of the unit circle at n = 128.
    n, bits = 128, 4
    default = QORNNCell(n, bits, rngs=nnx.Rngs(0))
    henaff = QORNNCell(n, bits, init="henaff", rngs=nnx.Rngs(0))
    assert default.matrix().shape == (n, n)
    rho_d, rho_h = _eig_moduli(default), _eig_moduli(henaff)
    assert np.abs(np.log(rho_d)).max() < 0.04
    assert np.abs(np.log(rho_h)).max() > 0.06
    # over a copy-task sequence (T = 100 plus 20 symbols) the worst Henaff mode grows or
    # decays by a factor above 1e4, the worst Haar mode by less than 2e2
    assert np.abs(np.log(rho_h)).max() * 120 > np.log(1e4)
    assert np.abs(np.log(rho_d)).max() * 120 < np.log(2e2)


def test_mse_scale_brings_4_bit_matrix_closer_to_orthogonal():
    # at n = 128, 4 bits: the least-squared-error step clips the few largest entries of
    # the Haar matrix and rounds the rest finer; both measures of orthogonality improve
    n, bits = 128, 4
    wmax = QORNNCell(n, bits, rngs=nnx.Rngs(0))
    wmse = QORNNCell(n, bits, scale="mse", rngs=nnx.Rngs(0))
    e_max, e_mse = float(wmax.orthogonality_error()), float(wmse.orthogonality_error())
    assert e_mse < 0.7 * e_max
    assert e_mse <= float(wmse.error_bound())
    assert np.abs(np.log(_eig_moduli(wmse))).max() < np.abs(np.log(_eig_moduli(wmax))).max()
    with pytest.raises(ValueError, match="^scale must be one of max, mse"):
        QORNNCell(8, scale="median", rngs=nnx.Rngs(0))


def test_projected_step_is_the_polar_factor_of_the_plain_step(x64):
    # P(W + u) - W with P the projection onto O(n): scipy.linalg.polar of W + u
    import scipy.linalg

    rng = np.random.default_rng(3)
    w = scipy.linalg.polar(rng.standard_normal((6, 6)))[0]
    u = 0.1 * rng.standard_normal((6, 6))
    tx = project_orthogonal()
    params = {"w": jnp.asarray(w)}
    upd, state = tx.update({"w": jnp.asarray(u)}, tx.init(params), params)
    assert isinstance(state, optax.EmptyState)
    expected = scipy.linalg.polar(w + u)[0]
    np.testing.assert_allclose(np.asarray(upd["w"]) + w, expected, atol=1e-12)


def test_projected_gradient_descent_decreases_a_loss(x64):
    # minimise ||W - Q*||_F^2 over O(n) by projected gradient steps from a random Q_0:
    # the loss falls monotonically and W stays orthogonal
    import scipy.linalg

    rng = np.random.default_rng(4)
    target = scipy.linalg.polar(rng.standard_normal((5, 5)))[0]
    q0 = scipy.linalg.polar(rng.standard_normal((5, 5)))[0]
    q0[:, 0] *= np.sign(np.linalg.det(q0) * np.linalg.det(target))  # same component of O(n)
    target, params = jnp.asarray(target), {"w": jnp.asarray(q0)}

    def loss(p):
        return jnp.sum((p["w"] - target) ** 2)

    tx = optax.chain(optax.sgd(0.1), project_orthogonal())
    state = tx.init(params)
    losses = [float(loss(params))]
    for _ in range(20):
        upd, state = tx.update(jax.grad(loss)(params), state, params)
        params = optax.apply_updates(params, upd)
        losses.append(float(loss(params)))
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.1 * losses[0]
    w = np.asarray(params["w"])
    np.testing.assert_allclose(w.T @ w, np.eye(5), atol=1e-12)


def test_error_bound_is_within_a_small_factor_of_the_measured_error(cells, measurements):
    # bound = 2e + e^2 = (1 + e)^2 - 1 with e = ||B||_F bounding ||W_q - W_o||_F. Rounding
    # errors are ~uniform on [-delta/2, delta/2], so ||W_q - W_o||_F ~ n delta / sqrt(12)
    # and e / ||W_q - W_o||_F ~ sqrt(3): measured 1.70-1.76 at n = 32 for every bit width
    # (a doubled bound gives 2.57-3.31)
    for bits in cells:
        _, bound, wq, wo = measurements[bits]
        wq, wo = np.asarray(wq, np.float64), np.asarray(wo, np.float64)
        measured = np.linalg.norm(wq.T @ wq - np.eye(N), 2)
        assert measured <= float(bound), bits
        e = np.sqrt(1.0 + float(bound)) - 1.0
        frob = np.linalg.norm(wq - wo)
        assert frob <= e <= 2.2 * frob, (bits, e / frob)
