import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from flax import nnx

from jaxorth.rnn import ORNNCell, SequenceModel


@pytest.mark.parametrize("param", ["expm", "cayley"])
@pytest.mark.parametrize("init", ["henaff", "random", "zeros"])
def test_ornn_matrix_is_orthogonal(param, init):
    cell = ORNNCell(16, param=param, init=init, rngs=nnx.Rngs(0))
    w = np.asarray(cell.matrix(), dtype=np.float64)
    np.testing.assert_allclose(w @ w.T, np.eye(16), atol=2e-5)


def test_ornn_expm_matches_scipy(x64):
    cell = ORNNCell(8, param="expm", init="random", rngs=nnx.Rngs(3))
    a = np.asarray(cell.a[...], dtype=np.float64)
    ref = scipy.linalg.expm(0.5 * (a - a.T))
    np.testing.assert_allclose(np.asarray(cell.matrix()), ref, atol=1e-12)


def test_sequence_model_matches_explicit_recurrence():
    model = SequenceModel(ORNNCell(6, rngs=nnx.Rngs(0)), 4, 3, rngs=nnx.Rngs(1))
    x = jax.random.normal(jax.random.key(0), (2, 7, 4))
    w = np.asarray(model.cell.matrix(), np.float64)
    u, b = np.asarray(model.u[...], np.float64), np.asarray(model.b[...], np.float64)
    v, c = np.asarray(model.v[...], np.float64), np.asarray(model.c[...], np.float64)
    h = np.zeros((2, 6))
    outs = []
    for t in range(7):
        h = h @ w.T + np.asarray(x[:, t], np.float64) @ u + b
        outs.append(np.maximum(h, 0) @ v + c)
    tokens = jnp.array([[0, 3, 1, 1, 2, 0, 3], [2, 2, 0, 3, 1, 1, 0]])
    # one compiled program with two scans: the float inputs and the one-hot tokens (same
    # shape) in one batch, the integer tokens in the other
    both, by_token = nnx.jit(
        lambda m: (m(jnp.concatenate([x, jax.nn.one_hot(tokens, 4)])), m(tokens))
    )(model)
    got, by_one_hot = both[:2], both[2:]
    np.testing.assert_allclose(np.asarray(got), np.stack(outs, 1), atol=1e-4)
    # integer tokens = one-hot inputs
    np.testing.assert_allclose(np.asarray(by_token), np.asarray(by_one_hot), atol=1e-5)


def test_orthogonal_recurrence_preserves_norm():
    cell = ORNNCell(32, rngs=nnx.Rngs(0))
    h = jax.random.normal(jax.random.key(1), (5, 32))
    step = jax.jit(cell.recurrence())  # one program, not 50 op-by-op dispatches
    for _ in range(50):
        h2 = step(h)
        np.testing.assert_allclose(  # norms in numpy (no eager jax op per step)
            np.linalg.norm(np.asarray(h2), axis=1), np.linalg.norm(np.asarray(h), axis=1), rtol=1e-4
        )
        h = h2


def test_bad_input_messages():
    with pytest.raises(ValueError, match="^hidden_size must be a positive integer"):
        ORNNCell(0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="^init must be"):
        ORNNCell(4, init="eye", rngs=nnx.Rngs(0))
    model = SequenceModel(ORNNCell(4, rngs=nnx.Rngs(0)), 3, 2, rngs=nnx.Rngs(1))
    with pytest.raises(ValueError, match=r"inputs must be \(B, T, 3\)"):
        model(jnp.ones((2, 5, 4)))
