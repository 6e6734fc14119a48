"""The train step (one SGD update against a numpy gradient, the NaN guard) and resume."""

import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxorth.train import Checkpointer, init_train_state, make_optimizer, make_train_step
from jaxorth.train.loop import resume

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3)).astype(np.float32)
Y = RNG.normal(size=(8, 2)).astype(np.float32)


def _loss(model, batch):
    x, y = batch
    return jnp.mean((model(x) - y) ** 2), {}


def _setup(lr=0.1):
    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    tx = make_optimizer("sgd", lr, momentum=0.0)
    graphdef, state = init_train_state(model, tx)
    return model, graphdef, state, make_train_step(graphdef, tx, _loss)


def test_step_is_one_sgd_update_and_guard_freezes():
    model, _, state, step = _setup(lr=0.1)
    w0 = np.asarray(model.kernel[...], np.float64)
    b0 = np.asarray(model.bias[...], np.float64)
    state, metrics = step(state, (X, Y))
    # independent reference: the gradient of mean((X W + b - Y)^2) in float64
    r = X.astype(np.float64) @ w0 + b0 - Y
    grad_w, grad_b = 2 * X.T @ r / r.size, 2 * r.sum(0) / r.size
    np.testing.assert_allclose(float(metrics["loss"]), np.mean(r**2), rtol=1e-5)
    np.testing.assert_allclose(state.params["kernel"][...], w0 - 0.1 * grad_w, atol=1e-6)
    np.testing.assert_allclose(state.params["bias"][...], b0 - 0.1 * grad_b, atol=1e-6)
    assert int(state.step) == 1 and int(state.first_bad) == -1

    kept = np.asarray(state.params["kernel"][...]).copy()
    bad = X.copy()
    bad[0, 0] = np.nan
    state, metrics = step(state, (bad, Y))
    assert not np.isfinite(float(metrics["loss"]))
    assert int(state.step) == 2 and int(state.first_bad) == 2
    np.testing.assert_array_equal(state.params["kernel"][...], kept)
    state, _ = step(state, (X, Y))  # a finite step after a bad one stays frozen
    assert int(state.step) == 3 and int(state.first_bad) == 2
    np.testing.assert_array_equal(state.params["kernel"][...], kept)


def test_resume_restores_the_newest_checkpoint(tmp_path):
    _, _, state, step = _setup()
    ckpt = Checkpointer(tmp_path, max_to_keep=3)
    unchanged, start = resume(ckpt, state)  # nothing saved yet
    assert unchanged is state and start is None
    for _ in range(3):
        state, _ = step(state, (X, Y))
        ckpt.save(int(state.step), state.checkpoint_tree())
    # the on-disk layout is the one of earlier versions: a dict without ``rest``
    assert set(state.checkpoint_tree()) == {"params", "opt_state", "step", "first_bad"}
    _, _, like, _ = _setup()
    restored, start = resume(ckpt, like)
    ckpt.close()
    assert start == 3 and int(restored.step) == 3
    np.testing.assert_array_equal(restored.params["kernel"][...], state.params["kernel"][...])
    assert restored.rest is like.rest
