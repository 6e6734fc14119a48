import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxorth.data import copy_task_baseline, copy_task_batch
from jaxorth.quant import KBitSTE
from jaxorth.rnn import (
    BlockHadamRNNCell,
    HadamRNNCell,
    ORNNCell,
    QORNNCell,
    SequenceModel,
    calibrate_hidden_scale,
    integer_hidden_states,
    quantized_outputs,
)

T, NSYM, NREC = 5, 4, 3
CELLS = {
    "hadamrnn": lambda r: HadamRNNCell(32, rngs=r),
    "block_hadamrnn": lambda r: BlockHadamRNNCell(32, 8, rngs=r),
    "qornn": lambda r: QORNNCell(32, 4, rngs=r),
}


def _model(name, seed=0):
    r = nnx.Rngs(seed)
    return SequenceModel(
        CELLS[name](r),
        NSYM + 2,
        NSYM + 1,
        rngs=r,
        input_transform=KBitSTE(4),
        output_transform=KBitSTE(4),
    )


@pytest.mark.parametrize("name", sorted(CELLS))
def test_small_copy_task_training(name):
    model = _model(name)
    opt = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

    @nnx.jit
    def step(model, opt, key):
        x, y = copy_task_batch(key, 64, T, NSYM, NREC)

        def loss(m):
            return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()

        value, grads = nnx.value_and_grad(loss)(model)
        opt.update(model, grads)
        return value

    losses = [float(step(model, opt, jax.random.key(i))) for i in range(100)]
    baseline = copy_task_baseline(T, NSYM, NREC)
    assert losses[0] > baseline
    assert np.mean(losses[-10:]) < baseline / 5, (losses[0], losses[-10:])
    # U stayed on its 4-bit grid: KBitSTE's default levels="full", codes [-8, 7] times
    # max|U| / 8 (the authors' 2^4 levels)
    raw = np.asarray(model.u[...], np.float64)
    delta = np.abs(raw).max() / 8
    u = np.asarray(model.input_matrix())
    assert len(np.unique(u)) <= 16
    np.testing.assert_allclose(
        u, np.clip(np.round(raw / delta), -8, 7) * delta, rtol=1e-5, atol=1e-6
    )


def test_size_bits():
    m = _model("hadamrnn")
    n, i, o = 32, NSYM + 2, NSYM + 1
    assert m.size_bits() == n * n + 4 * i * n + 4 * n * o + 32 * (n + o)
    m = _model("block_hadamrnn")
    assert m.size_bits() == n * 8 + 4 * i * n + 4 * n * o + 32 * (n + o)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_integer_recurrence_error_bound(name):
    # ||h_t - delta c_t|| <= sum_{s<t} rho^s sqrt(n) delta (two roundings of <= delta/2 per
    # entry per step; rho = ||W_q||_2), as long as nothing is clipped.
    model = _model(name, seed=1)
    x, _ = copy_task_batch(jax.random.key(0), 8, T, NSYM, NREC)
    bits = 10

    @nnx.jit  # one compiled program: the calibration and everything it feeds
    def run(m):
        d = 2.0 * calibrate_hidden_scale(m, x, bits)
        return (
            d,
            integer_hidden_states(m, x, bits, d),
            m.hidden_states(x),
            m.cell.matrix(),
            quantized_outputs(m, x, bits, d),
            m(x),
        )

    delta, codes, h, w, yq, y = run(model)
    delta = float(delta)
    assert codes.dtype == jnp.int32
    assert int(jnp.max(jnp.abs(codes))) < 2 ** (bits - 1) - 1  # head room: nothing clipped
    h = np.asarray(h, np.float64)
    err = np.linalg.norm(h - delta * np.asarray(codes, np.float64), axis=-1)
    rho = float(np.linalg.norm(np.asarray(w, np.float64), 2))
    steps = np.arange(1, h.shape[1] + 1)
    bound = np.sqrt(32) * delta * np.array([sum(rho**s for s in range(t)) for t in steps])
    assert np.all(err <= bound[None, :] * (1 + 1e-4) + 1e-6)
    # readout of the integer recurrence: V is 1-Lipschitz-ish in the hidden error
    v_norm = float(np.linalg.norm(np.asarray(model.output_matrix()), 2))
    out_err = np.linalg.norm(np.asarray(yq) - np.asarray(y), axis=-1)
    assert np.all(out_err <= v_norm * bound[None, :] * (1 + 1e-4) + 1e-5)


def test_integer_recurrence_rejects_full_precision_and_overflow():
    r = nnx.Rngs(0)
    m = SequenceModel(ORNNCell(4, rngs=r), 3, 2, rngs=r)
    x = jnp.zeros((1, 3), jnp.int32)
    with pytest.raises(ValueError, match="no integer form"):
        integer_hidden_states(m, x, 8, 0.1)
    q = SequenceModel(QORNNCell(64, 8, init="identity", rngs=r), 3, 2, rngs=r)
    with pytest.raises(ValueError, match="overflow"):
        integer_hidden_states(q, x, 20, 0.1)
    with pytest.raises(ValueError, match="act_bits"):
        integer_hidden_states(q, x, 1, 0.1)
