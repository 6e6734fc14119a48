"""Clean stops on SIGINT and SIGTERM: one line, a checkpoint of the last step, and a
resumed run that reaches exactly the parameters of an uninterrupted one."""

import functools
import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from jaxorth.train import Checkpointer, Interrupted, LoopConfig, fit, make_optimizer
from jaxorth.train.loop import _StopOnSignal

SCRIPT = Path(__file__).with_name("_interrupt_script.py")
_spec = importlib.util.spec_from_file_location("_interrupt_script", SCRIPT)
job = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(job)

TX = make_optimizer("adam", 1e-2)
STEPS = 300  # far more than the interrupted run gets to (each step sleeps 20 ms)
END = 30  # where the resumed runs stop


def _params(model):
    return np.concatenate([np.ravel(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))])


def _steps(folder):
    with Checkpointer(folder) as ckpt:
        return ckpt.all_steps()


def _finish(run_dir, steps, checkpoint_every):
    """Resume the interrupted run in this process and return its parameters."""
    model = job.model()
    res = fit(
        model,
        TX,
        job.loss,
        job.batches,
        LoopConfig(steps=steps, log_every=1, checkpoint_every=checkpoint_every, progress=False),
        run_dir=run_dir,
    )
    return _params(model), res


@functools.cache
def _straight(steps):
    model = job.model()
    fit(model, TX, job.loss, job.batches, LoopConfig(steps=steps, progress=False))
    return _params(model)


def _interrupt(runs, cache, marker_step=3):
    """Run the script on ``runs`` (``[(run_dir, signum, checkpoint_every), ...]``, one
    after the other in one process), sending each run its signal once it reaches
    ``marker_step``; return the exit status and stderr."""
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        JAX_COMPILATION_CACHE_DIR=str(cache),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1",
    )
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(STEPS), str(marker_step)]
        + [f"{run_dir}:{every}" for run_dir, _, every in runs],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for run_dir, signum, _ in runs:
        marker = run_dir / "marker"
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the script never reached the marker step"
            time.sleep(0.01)
        proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr


# (signal, checkpoint_every): a stop with no periodic checkpoint, and one between them
STOPS = [(signal.SIGINT, 0), (signal.SIGTERM, 7)]


def test_signal_stops_cleanly_and_resume_is_exact(tmp_path, compile_cache):
    """SIGINT, then SIGTERM, each stops one run of the same process (one process start
    for both; the handlers of the first run are put back before the second starts)."""
    runs = [(tmp_path / signal.Signals(s).name, s, every) for s, every in STOPS]
    for run_dir, _, _ in runs:
        run_dir.mkdir()
    code, stderr = _interrupt(runs, compile_cache)
    assert code == 128 + signal.SIGTERM, stderr[-3000:]  # the status of the last stop
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()[-len(runs) :]
    for line, (run_dir, signum, checkpoint_every) in zip(lines, runs, strict=True):
        name = signal.Signals(signum).name
        ckpt = run_dir / "checkpoints"
        match = re.fullmatch(
            rf"interrupted by {name} at step (\d+); checkpoint saved in "
            rf"{re.escape(str(ckpt))}; run the same command to resume",
            line,
        )
        assert match, line
        step = int(match.group(1))
        assert 4 <= step < END  # the step asked for at the signal (or a later one) finished
        assert _steps(ckpt)[-1] == step

        # run the same thing again (here, in-process, to a shorter end): it resumes there
        params, res = _finish(run_dir, END, checkpoint_every)
        assert res.resumed_from == step and res.steps_run == END - step
        np.testing.assert_array_equal(params, _straight(END))
        assert _steps(ckpt)[-1] == END


def test_stop_flag_and_second_sigint_force_quits():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with _StopOnSignal() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signal_name == "SIGTERM"  # only a flag: this line still runs
        # the handlers in place before are back: a second Ctrl-C interrupts at once
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_fit_interrupted_in_process_keeps_handlers_and_state(tmp_path):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    def batches(step):
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)  # arrives during step 5 (index 4)
        return job.batches(step)

    model = job.model()
    with pytest.raises(Interrupted) as info:
        fit(model, TX, job.loss, batches, LoopConfig(steps=20, progress=False), run_dir=tmp_path)
    stop = info.value
    assert (stop.step, stop.signal_name, stop.checkpoint_dir) == (
        5,
        "SIGINT",
        tmp_path / "checkpoints",
    )
    assert _steps(tmp_path / "checkpoints") == [5]
    np.testing.assert_array_equal(_params(model), _straight(5))  # the model holds step 5
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_interrupted_message_and_pickling(tmp_path):
    import pickle

    stop = Interrupted(120, "SIGTERM", tmp_path)
    assert str(stop) == (
        f"interrupted by SIGTERM at step 120; checkpoint saved in {tmp_path}; "
        "run the same command to resume"
    )
    assert str(Interrupted(5, "SIGINT", None)) == (
        "interrupted by SIGINT at step 5; no checkpoint written (no run directory)"
    )
    again = pickle.loads(pickle.dumps(stop))
    assert (again.step, again.signal_name, again.checkpoint_dir, str(again)) == (
        120,
        "SIGTERM",
        tmp_path,
        str(stop),
    )
    assert isinstance(stop, RuntimeError)


def test_fit_outside_the_main_thread_installs_no_handler():
    before = signal.getsignal(signal.SIGINT)
    seen = []

    def batches(step):
        seen.append(signal.getsignal(signal.SIGINT))
        return job.batches(step)

    worker = threading.Thread(
        target=fit, args=(job.model(), TX, job.loss, batches, LoopConfig(steps=2, progress=False))
    )
    worker.start()
    worker.join()
    assert seen == [before] * 2
