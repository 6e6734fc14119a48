"""Resuming past corrupt checkpoints, and a clear error for a checkpoint of another model."""

import json
import logging
import re
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.train import (
    Checkpointer,
    CheckpointMismatchError,
    JsonlTracker,
    LoopConfig,
    SkippedCheckpoint,
    fit,
    make_optimizer,
)

# a 32x32 linear map: its kernel is the biggest file of a checkpoint (4 KiB of floats)
RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 32)).astype(np.float32)
Y = X @ RNG.normal(size=(32, 32)).astype(np.float32)


def _model(width=32):
    return nnx.Linear(32, width, rngs=nnx.Rngs(0))


def _loss(model, batch):
    x, y = batch
    return jnp.mean((model(x) - y[:, : model.out_features]) ** 2), {}


def _batches(step):
    idx = np.random.default_rng([3, step]).choice(64, 16, replace=False)
    return X[idx], Y[idx]


def _params(model):
    return np.concatenate([np.ravel(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))])


TX = make_optimizer("adam", 1e-2)


def _fit(run_dir, steps, model=None, tx=TX, tracker=None):
    model = model or _model()
    res = fit(
        model,
        tx,
        _loss,
        _batches,
        LoopConfig(steps=steps, log_every=1, checkpoint_every=3, progress=False),
        run_dir=run_dir,
        tracker=tracker,
    )
    return model, res


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A run directory after 6 steps (checkpoints 3 and 6, metrics of steps 1-6), and the
    parameters of an uninterrupted 9-step run."""
    run = tmp_path_factory.mktemp("pristine")
    tracker = JsonlTracker(run)
    _fit(run, 6, tracker=tracker)
    tracker.finish()
    straight = _model()
    fit(straight, TX, _loss, _batches, LoopConfig(steps=9, progress=False))
    return run, _params(straight)


def _steps(folder):
    with Checkpointer(folder) as ckpt:
        return ckpt.all_steps()


def _biggest_file(folder):
    return max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def _truncate_biggest(step_dir):
    big = _biggest_file(step_dir)
    assert "/d/" in str(big)  # a data file, not the metadata
    data = big.read_bytes()
    big.write_bytes(data[: len(data) // 2])


def _empty_metadata(step_dir):
    (step_dir / "default" / "_METADATA").write_bytes(b"")


def _drop_manifest(step_dir):
    (step_dir / "default" / "manifest.ocdbt").unlink()


@pytest.mark.parametrize(
    ("corrupt", "error"),
    [
        (_truncate_biggest, "Exception"),
        (_empty_metadata, "JSONDecodeError"),
        (_drop_manifest, "ValueError"),
    ],
    ids=["truncated-data", "empty-METADATA", "missing-manifest"],
)
def test_corrupt_newest_checkpoint_falls_back(pristine, tmp_path, caplog, corrupt, error):
    source, straight = pristine
    run = tmp_path / "run"
    shutil.copytree(source, run)
    corrupt(run / "checkpoints" / "6")

    tracker = JsonlTracker(run)
    with caplog.at_level(logging.WARNING):
        model, res = _fit(run, 9, tracker=tracker)
    tracker.finish()

    # resumed from the intact step 3 and reached the uninterrupted result exactly
    assert res.resumed_from == 3 and res.steps_run == 6
    np.testing.assert_array_equal(_params(model), straight)
    # one readable warning line naming the step and the error type, and no other noise
    (record,) = caplog.records
    message = record.getMessage()
    assert "\n" not in message
    assert f"checkpoint step 6 in {run / 'checkpoints'} cannot be restored ({error}: " in message
    assert f"moved it to {run / 'checkpoints_corrupt' / '6'}" in message
    # reported to the caller, kept aside (not deleted), and step 6 was saved again
    (skipped,) = res.skipped_checkpoints
    assert isinstance(skipped, SkippedCheckpoint)
    assert skipped.step == 6 and skipped.reason.startswith(error + ":")
    assert skipped.moved_to == run / "checkpoints_corrupt" / "6" and skipped.moved_to.is_dir()
    assert _steps(run / "checkpoints") == [6, 9]
    # metrics of the lost steps 4-6 were logged again once, not twice
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 10))


def test_corrupt_step_moved_aside_twice_keeps_both(pristine, tmp_path, caplog):
    source, _ = pristine
    run = tmp_path / "run"
    shutil.copytree(source, run)
    ckpt = Checkpointer(run / "checkpoints")
    like = ckpt.restore(6, _fit_like())
    assert ckpt.corrupt_directory == run / "checkpoints_corrupt"
    _empty_metadata(run / "checkpoints" / "6")
    with caplog.at_level(logging.WARNING):
        tree, step, skipped = ckpt.restore_latest(like)
        assert step == 3 and [s.step for s in skipped] == [6]
        ckpt.save(6, like)  # the same step number can be written again
        _drop_manifest(run / "checkpoints" / "6")
        tree, step, skipped = ckpt.restore_latest(like)
    ckpt.close()
    assert step == 3 and skipped[0].moved_to == run / "checkpoints_corrupt" / "6.1"
    assert sorted(p.name for p in (run / "checkpoints_corrupt").iterdir()) == ["6", "6.1"]


def _fit_like(model=None, tx=TX):
    from jaxorth.train import init_train_state

    return init_train_state(model or _model(), tx)[1].checkpoint_tree()


def test_every_checkpoint_corrupt_starts_over(pristine, tmp_path, caplog):
    source, straight = pristine
    run = tmp_path / "run"
    shutil.copytree(source, run)
    _empty_metadata(run / "checkpoints" / "6")
    _drop_manifest(run / "checkpoints" / "3")
    tracker = JsonlTracker(run)
    with caplog.at_level(logging.WARNING):
        model, res = _fit(run, 9, tracker=tracker)
    tracker.finish()
    assert res.resumed_from is None and res.steps_run == 9
    assert [s.step for s in res.skipped_checkpoints] == [6, 3]
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == [
        "checkpoint step 6",
        "checkpoint step 3",
        "no checkpoint",
    ]
    np.testing.assert_array_equal(_params(model), straight)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 10))


@pytest.mark.parametrize(
    ("model", "tx", "match"),
    [
        (
            lambda: _model(width=8),
            TX,
            r"params/kernel/value: checkpoint \(32, 32\) float32, model \(32, 8\) float32",
        ),
        (_model, make_optimizer("sgd", 1e-2), r"opt_state/0/mu/bias/value: only in the checkpoint"),
    ],
    ids=["other-width", "other-optimizer"],
)
def test_checkpoint_of_another_model_is_a_clear_error(pristine, tmp_path, model, tx, match):
    source, _ = pristine
    run = tmp_path / "run"
    shutil.copytree(source, run)
    with pytest.raises(CheckpointMismatchError) as info:
        _fit(run, 9, model=model(), tx=tx)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"the checkpoint at step 6 in {run / 'checkpoints'} does not match this model ("
    )
    assert "use a new run directory or train.resume=false" in message
    assert re.search(match, message)
    assert isinstance(info.value, ValueError) and info.value.step == 6
    assert info.value.differences
    # an intact checkpoint of another configuration is not corruption: nothing moved
    assert _steps(run / "checkpoints") == [3, 6]
    assert not (run / "checkpoints_corrupt").exists()


def test_only_orbax_read_debris_is_muted():
    import asyncio
    import types

    from jaxorth.train.checkpoint import _is_orbax_leftover, _OrbaxTaskFilter

    loop = asyncio.new_event_loop()
    loop.close()
    try:
        loop.call_soon_threadsafe(print)  # what a late TensorStore callback does
    except RuntimeError as error:
        late = error
    try:
        raise RuntimeError("Event loop is closed")
    except RuntimeError as error:
        elsewhere = error
    for error, muted in ((late, True), (elsewhere, False), (ValueError("x"), False)):
        hit = types.SimpleNamespace(exc_value=error, exc_traceback=error.__traceback__, object=None)
        assert _is_orbax_leftover(hit) is muted

    def record(message):
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, message, None, None)

    keep = _OrbaxTaskFilter().filter
    assert not keep(
        record("Task exception was never retrieved\nfuture: <Task tensorstore_spec=...>")
    )
    assert keep(record("Task exception was never retrieved\nfuture: <Task coro=<mine()>>"))
    assert keep(record("something else about tensorstore"))
