import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.train import (
    Checkpointer,
    JsonlTracker,
    LoopConfig,
    NonFiniteError,
    fit,
    make_optimizer,
)

X = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
W_TRUE = np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32)
Y = X @ W_TRUE + 0.01 * np.random.default_rng(2).normal(size=(64, 2)).astype(np.float32)


def _model():
    return nnx.Linear(5, 2, rngs=nnx.Rngs(0))


def _loss(model, batch):
    x, y = batch
    err = model(x) - y
    return jnp.mean(err**2), {"max_err": jnp.max(jnp.abs(err))}


def _batches(step):
    idx = np.random.default_rng([7, step]).choice(64, 16, replace=False)
    return X[idx], Y[idx]


def _params(model):
    return np.concatenate([np.ravel(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))])


def test_fit_reaches_least_squares_solution():
    model = _model()
    res = fit(
        model, make_optimizer("adam", 5e-2), _loss, _batches, LoopConfig(steps=600, progress=False)
    )
    # independent reference: the float64 least-squares fit with intercept
    design = np.concatenate([X, np.ones((64, 1))], 1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, Y.astype(np.float64), rcond=None)
    np.testing.assert_allclose(np.asarray(model.kernel[...]), coef[:5], atol=2e-2)
    np.testing.assert_allclose(np.asarray(model.bias[...]), coef[5], atol=2e-2)
    assert res.step == 600 and res.steps_run == 600 and res.resumed_from is None
    assert set(res.train_metrics) == {"loss", "max_err"}


def test_nan_guard_keeps_last_good_parameters(tmp_path):
    def bad_batches(step):
        x, y = _batches(step)
        if step == 6:  # the 7th step sees a NaN
            x = x.copy()
            x[0, 0] = np.nan
        return x, y

    tx = make_optimizer("sgd", 1e-2)
    model = _model()
    with pytest.raises(
        NonFiniteError, match=r"step 7 .*parameters of step 6 are kept.*checkpoint: step 4"
    ):
        fit(
            model,
            tx,
            _loss,
            bad_batches,
            LoopConfig(steps=20, log_every=10, checkpoint_every=4, progress=False),
            run_dir=tmp_path,
        )
    reference = _model()
    fit(reference, tx, _loss, _batches, LoopConfig(steps=6, progress=False))
    np.testing.assert_array_equal(_params(model), _params(reference))
    assert Checkpointer(tmp_path / "checkpoints").all_steps() == [4]


def test_resume_equals_uninterrupted(tmp_path):
    tx = make_optimizer("adam", 1e-2)
    tracker = JsonlTracker(tmp_path)
    first = _model()
    fit(
        first,
        tx,
        _loss,
        _batches,
        LoopConfig(steps=10, log_every=1, checkpoint_every=5, progress=False),
        run_dir=tmp_path,
        tracker=tracker,
    )
    tracker.finish()
    tracker = JsonlTracker(tmp_path)
    resumed = _model()
    res = fit(
        resumed,
        tx,
        _loss,
        _batches,
        LoopConfig(steps=20, log_every=1, checkpoint_every=5, progress=False),
        run_dir=tmp_path,
        tracker=tracker,
    )
    tracker.finish()
    assert res.resumed_from == 10 and res.steps_run == 10
    straight = _model()
    fit(straight, tx, _loss, _batches, LoopConfig(steps=20, progress=False))
    np.testing.assert_array_equal(_params(resumed), _params(straight))
    steps = [
        json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == list(range(1, 21))


def test_jsonl_truncate_drops_lines_after_resume_point(tmp_path):
    tr = JsonlTracker(tmp_path)
    for s in range(1, 6):
        tr.log({"a": jnp.asarray(float(s))}, step=s)
    tr.truncate_after(3)
    tr.log({"a": 9.0}, step=4)
    tr.finish()
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and rows[-1]["a"] == 9.0
    other = JsonlTracker(tmp_path)
    with pytest.raises(ValueError, match="must be a scalar"):
        other.log({"v": np.ones(3)}, step=1)
    other.finish()


def test_eval_called_periodically():
    calls = []

    def eval_fn(model):
        calls.append(1)
        return {"mse": jnp.mean((model(X) - Y) ** 2)}

    res = fit(
        _model(),
        make_optimizer("adam", 1e-2),
        _loss,
        _batches,
        LoopConfig(steps=9, eval_every=4, progress=False),
        eval_fn=eval_fn,
    )
    assert len(calls) == 3  # steps 4, 8 and the last
    assert "mse" in res.eval_metrics


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "adam", "lr": -1.0}, "optim.lr must be a positive number"),
        ({"name": "lbfgs"}, "optim.name must be one of"),
        ({"name": "adam", "schedule": "cyclic"}, "optim.schedule"),
        ({"name": "adam", "grad_clip": 0.0}, "optim.grad_clip"),
    ],
)
def test_optimizer_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_optimizer(**kwargs)


def test_loop_config_bad_input(tmp_path):
    with pytest.raises(ValueError, match="train.steps must be >= 1"):
        LoopConfig(steps=0)
    with pytest.raises(ValueError, match="needs a run directory"):
        fit(
            _model(),
            make_optimizer(),
            _loss,
            _batches,
            LoopConfig(steps=2, checkpoint_every=1, progress=False),
        )


def _warmup_cosine(t, peak, warmup, total):
    """Linear warm-up from 0 to ``peak`` over ``warmup`` steps, then a half cosine to 0
    at step ``total``, 0 after (closed form, float64)."""
    t = np.asarray(t, np.float64)
    rise = peak * t / warmup
    frac = np.clip((t - warmup) / (total - warmup), 0.0, 1.0)
    decay = peak * 0.5 * (1.0 + np.cos(np.pi * frac))
    return np.where(t < warmup, rise, decay)


@pytest.mark.parametrize(("warmup", "total"), [(2, 10), (3, 12)])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_schedules_shape(warmup, total, momentum):
    peak = 0.5
    tx = make_optimizer(
        "sgd", peak, schedule="cosine", warmup_steps=warmup, total_steps=total, momentum=momentum
    )
    params = {"w": jnp.zeros(())}
    state = tx.init(params)
    updates = []
    for _ in range(total + 3):  # a few steps past the end: the rate stays at 0
        upd, state = tx.update({"w": jnp.ones(())}, state, params)
        updates.append(-float(upd["w"]))
    t = np.arange(total + 3)
    # with a unit gradient, SGD with momentum m moves by lr(t) * sum_i m^i (heavy ball)
    trace = np.cumsum(momentum ** np.arange(total + 3)) if momentum else np.ones(total + 3)
    expected = _warmup_cosine(t, peak, warmup, total) * trace
    np.testing.assert_allclose(updates, expected, rtol=1e-5, atol=1e-7)
    assert updates[0] == 0.0 and max(updates[: total + 1]) > 0


def test_train_step_traced_once():
    traces = []

    def counting_loss(model, batch):
        traces.append(1)  # Python side effect: runs only while tracing
        return _loss(model, batch)

    fit(
        _model(),
        make_optimizer("adam", 1e-2),
        counting_loss,
        _batches,
        LoopConfig(steps=25, log_every=5, progress=False),
    )
    assert len(traces) == 1


@jax.jit
def _kernel_sum(kernel):
    return jnp.sum(kernel)


def test_resumed_run_reuses_the_programs_of_a_fresh_run(tmp_path, caplog):
    """Restored arrays are placed as a fresh model's (not committed to a device), so a
    program compiled for the fresh model is not compiled again for the resumed one."""

    def evaluate(model):
        return {"w": _kernel_sum(model.kernel[...])}

    tx = make_optimizer("adam", 1e-2)
    config = LoopConfig(steps=4, checkpoint_every=2, progress=False)
    with jax.log_compiles(), caplog.at_level("WARNING"):
        first = fit(_model(), tx, _loss, _batches, config, run_dir=tmp_path, eval_fn=evaluate)
        again = fit(_model(), tx, _loss, _batches, config, run_dir=tmp_path, eval_fn=evaluate)
    assert again.resumed_from == 4 and again.steps_run == 0
    assert again.eval_metrics == first.eval_metrics
    said = [r.getMessage() for r in caplog.records]
    compiles = [m for m in said if m.startswith("Compiling jit(_kernel_sum)")]
    assert len(compiles) == 1, [m[:200] for m in compiles]
