"""Copy-task training throughput (sequences / s) of the recurrent models, T = 1000.

One Adam training step (forward, backward, update) on a batch of copy-task sequences,
hidden 128, batch 128 (HadamRNN's reference setting), through the study's training path
(``SequenceModel.stepwise_cross_entropy``: readout and loss inside the scan, states in
the cell's layout). Baseline: the same HadamRNN with its recurrent matrix applied as a
dense n x n matmul. The row "unfused" is the plain ``model(x)`` + cross-entropy path,
which stores the ``(B, T, n)`` inputs and states.

The rows "data-parallel xK" split the host into ``K = --cpu-devices`` XLA devices
(default: one per core) and give each device one shard of the batch, as
``train.data_parallel=true train.cpu_devices=K`` does in the studies: the time loop is
sequential, so on a single device XLA keeps one core busy. The other rows run on one
device. Steps of all rows interleaved after warm-up (compile time reported
separately), median over repeats. Peer figure (DESIGN.md, authors' PyTorch code on
this kind of machine): 325-406 sequences/s at T = 1000 (3,000-3,700 at T = 100). Last
column: throughput / dense-W HadamRNN on one device.

    python benchmarks/rnn_copy_throughput.py [--quick] [--T 1000] [--cpu-devices K]
        [--only hadamrnn] [--repeats 5]

``--only`` keeps the rows whose label contains one of the given words (the dense-W
baseline row always runs).
"""

from __future__ import annotations

import argparse
import os

import jax
import optax
from _timing import header, interleaved, print_table
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from omegaconf import OmegaConf

import jaxorth.studies  # noqa: F401  (registers the model options)
from jaxorth.data import copy_task_batch, copy_task_spec
from jaxorth.studies.rnn_models import (
    BlockHadamRNNConfig,
    HadamRNNConfig,
    ORNNConfig,
    QORNNConfig,
    build_rnn,
    rnn_optimizer,
)
from jaxorth.train import set_cpu_devices, sharded_batch_mean


class DenseCell(nnx.Module):
    """A Hadamard cell whose W is materialised and applied by a dense matmul."""

    def __init__(self, cell):
        self.inner = cell
        self.hidden_size = cell.hidden_size

    def recurrence(self):
        w_t = self.inner.matrix().T
        return lambda h: h @ w_t

    def matrix(self):
        return self.inner.matrix()


def make_step(model, model_cfg, lr, fused=True, mesh=None):
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    # the option's own optimizer hook (e.g. the STE-projUNN projection after each step)
    tx = rnn_optimizer(model_cfg, optax.adam(lr))
    opt = tx.init(params)

    def loss(p, x, y):
        m = nnx.merge(graphdef, p, rest)
        if fused:
            return m.stepwise_cross_entropy(x, y)[0].mean()
        return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()

    value_and_grad = jax.value_and_grad(loss)
    if mesh is not None:
        # as jaxorth.train.fit with data_parallel: one batch shard per device, then pmean
        value_and_grad = sharded_batch_mean(value_and_grad, mesh, n_replicated=1)
        params, opt = jax.device_put((params, opt), NamedSharding(mesh, P()))

    @jax.jit
    def step(params, opt, x, y):
        value, g = value_and_grad(params, x, y)
        upd, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, upd), opt, value

    return step, params, opt


def _training(step, state, batch):
    """A no-argument call running one training step from the previous call's state."""
    box = [state]

    def call():
        params, opt = box[0]
        params, opt, loss = step(params, opt, *batch)
        box[0] = (params, opt)
        return params, opt, loss

    return call


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--T", type=int, default=1000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cpu-devices", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--only", nargs="*", default=None)
    args = p.parse_args()
    set_cpu_devices(args.cpu_devices)  # before JAX runs anything
    T, B, n, reps = args.T, args.batch, args.hidden, args.repeats
    if args.quick:
        T, B, n, reps = 50, 16, 32, 2
    header(f"copy task T={T}, hidden {n}, batch {B}, median of {reps} interleaved steps")
    spec = copy_task_spec()
    configs = {
        "hadamrnn (dense W)": HadamRNNConfig(hidden=n),
        "hadamrnn (FWHT)": HadamRNNConfig(hidden=n),
        "hadamrnn (FWHT), unfused": HadamRNNConfig(hidden=n),
        "block_hadamrnn m=16": BlockHadamRNNConfig(hidden=n, block=min(16, n)),
        "qornn 4-bit bjorck": QORNNConfig(hidden=n),
        "qornn 4-bit projunn": QORNNConfig(hidden=n, method="projunn"),
    }
    if not args.quick:
        configs["ornn (expm)"] = ORNNConfig(hidden=n)
    k = len(jax.devices())
    mesh = None
    if k > 1 and B % k == 0:
        mesh = jax.sharding.Mesh(jax.devices(), ("data",))
        configs[f"hadamrnn (FWHT), data-parallel x{k}"] = HadamRNNConfig(hidden=n)
        configs[f"block_hadamrnn m=16, data-parallel x{k}"] = BlockHadamRNNConfig(
            hidden=n, block=min(16, n)
        )
        configs[f"ornn (expm), data-parallel x{k}"] = ORNNConfig(hidden=n)
    if args.only:
        configs = {
            k: c for k, c in configs.items() if "dense" in k or any(word in k for word in args.only)
        }
    batch = copy_task_batch(jax.random.key(0), B, T)
    calls = {}
    for label, c in configs.items():
        model_cfg = OmegaConf.structured(c)
        model = build_rnn(model_cfg, spec["in_features"], spec["out_features"], 0)
        if "dense" in label:
            model.cell = DenseCell(model.cell)
        dp = "data-parallel" in label
        step, params, opt = make_step(
            model, model_cfg, 1e-4, fused="unfused" not in label, mesh=mesh if dp else None
        )
        xy = jax.device_put(batch, NamedSharding(mesh, P("data"))) if dp else batch
        calls[label] = _training(step, (params, opt), xy)
    runs = interleaved(calls, reps, warmup=0)
    base = B / runs["hadamrnn (dense W)"].median
    rows = []
    for label, r in runs.items():
        sps = B / r.median
        rows.append(
            {
                "model": label,
                "compile (s)": f"{r.first:.1f}",
                "ms / step": f"{r.median * 1e3:.1f}",
                "sequences / s": f"{sps:.0f}",
                "/ dense-W HadamRNN": f"{sps / base:.2f}",
            }
        )
    print_table(rows)
    if T == 1000 and B == 128 and n == 128:
        for label in runs:
            if label.startswith("hadamrnn (FWHT)") and "unfused" not in label:
                sps = B / runs[label].median
                print(
                    f"{label}: {sps:.0f} seq/s = {sps / 406:.2f}x to {sps / 325:.2f}x the "
                    "authors' PyTorch figure (325-406 seq/s, DESIGN.md); target >= 3x"
                )


if __name__ == "__main__":
    main()
