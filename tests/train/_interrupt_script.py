"""Run by test_interrupt.py in a subprocess: ``fit`` on a tiny linear model, stopped by a
signal sent from the test, once per run directory given.

Usage: ``python _interrupt_script.py STEPS MARKER_STEP RUN_DIR:CHECKPOINT_EVERY ...``.
The runs go one after the other in this process (so one process start serves several
stops). In each, the batch function sleeps a little and writes ``RUN_DIR/marker`` when
it is asked for step ``MARKER_STEP``; the test then sends SIGINT or SIGTERM. On
:class:`Interrupted` the script prints the message (one line) to stderr and goes on
with the next run; after the last, it exits 128 + the number of the last signal, as a
shell reports a process killed by that signal (130 for SIGINT, 143 for SIGTERM).
"""

import signal
import sys
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx

X = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
Y = X @ np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32)


def model():
    return nnx.Linear(5, 2, rngs=nnx.Rngs(0))


def loss(m, batch):
    x, y = batch
    return jnp.mean((m(x) - y) ** 2), {}


def batches(step):
    idx = np.random.default_rng([7, step]).choice(64, 16, replace=False)
    return X[idx], Y[idx]


def main(run_dir: Path, steps: int, checkpoint_every: int, marker_step: int) -> int:
    from jaxorth.train import Interrupted, LoopConfig, fit, make_optimizer

    def slow_batches(step):
        if step == marker_step:
            (run_dir / "marker").write_text(str(step))
        time.sleep(0.02)
        return batches(step)

    # a child of a non-interactive shell may inherit an ignored SIGINT: take it back
    signal.signal(signal.SIGINT, signal.default_int_handler)
    config = LoopConfig(steps=steps, log_every=1, checkpoint_every=checkpoint_every, progress=False)
    try:
        fit(model(), make_optimizer("adam", 1e-2), loss, slow_batches, config, run_dir=run_dir)
    except Interrupted as stop:
        print(stop, file=sys.stderr, flush=True)
        return 128 + getattr(signal, stop.signal_name)
    return 0


if __name__ == "__main__":
    steps, marker, *runs = sys.argv[1:]
    code = 0
    for run in runs:
        run_dir, every = run.rsplit(":", 1)
        code = main(Path(run_dir), int(steps), int(every), int(marker))
    sys.exit(code)
