"""Run by test_data_parallel.py in a subprocess with 4 host devices."""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxorth.data import copy_task_batch
from jaxorth.rnn import HadamRNNCell, SequenceModel
from jaxorth.train import LoopConfig, fit, make_optimizer, sharded_batch_mean

rng = np.random.default_rng(0)
X = rng.normal(size=(256, 6)).astype(np.float32)
Y = np.tanh(X @ rng.normal(size=(6, 3))).astype(np.float32)


class MLP(nnx.Module):
    def __init__(self):
        self.l1 = nnx.Linear(6, 32, rngs=nnx.Rngs(0))
        self.l2 = nnx.Linear(32, 3, rngs=nnx.Rngs(1))

    def __call__(self, x):
        return self.l2(jnp.tanh(self.l1(x)))


def loss(m, batch):
    x, y = batch
    return jnp.mean((m(x) - y) ** 2), {}


def batches(step):
    idx = np.random.default_rng([1, step]).choice(256, 32, replace=False)
    return X[idx], Y[idx]


def params(m):
    return np.concatenate([np.ravel(x) for x in jax.tree.leaves(nnx.state(m, nnx.Param))])


out = {"devices": jax.device_count()}
run_dir = Path(tempfile.mkdtemp())
for dp in (False, True):
    res = fit(
        MLP(),
        make_optimizer("adam", 1e-2),
        loss,
        batches,
        # the data-parallel run also writes checkpoints (of its replicated state)
        LoopConfig(
            steps=30, log_every=30, data_parallel=dp, progress=False, checkpoint_every=15 * dp
        ),
        run_dir=run_dir if dp else None,
    )
    out[f"loss_dp{int(dp)}"] = res.train_metrics["loss"]
# the data-parallel run again, from its step-15 checkpoint (restored onto the mesh)
straight = params(res.model)
shutil.rmtree(run_dir / "checkpoints" / "30")
config = LoopConfig(steps=30, log_every=30, data_parallel=True, progress=False, checkpoint_every=15)
res = fit(MLP(), make_optimizer("adam", 1e-2), loss, batches, config, run_dir=run_dir)
out["resumed_from"] = res.resumed_from
out["resumed_equal"] = bool(np.array_equal(params(res.model), straight))
shutil.rmtree(run_dir)


# sharded_batch_mean against the same means in numpy float64 over the whole batch
mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("data",))
w = rng.normal(size=(6, 3)).astype(np.float32)


def batch_means(w, x, y):
    r = x @ w - y
    return jnp.mean(r**2), jnp.mean(r, axis=0)


got = sharded_batch_mean(batch_means, mesh, n_replicated=1)(w, X, Y)
r64 = X.astype(np.float64) @ w.astype(np.float64) - Y
out["sharded_err"] = max(
    abs(float(got[0]) - float(np.mean(r64**2))),
    float(np.max(np.abs(np.asarray(got[1]) - r64.mean(0)))),
)


# a scan-based model: per-step losses inside lax.scan, sharded batch of 8 sequences
def rnn_loss(m, batch):
    x, y = batch
    ce, acc = m.stepwise_cross_entropy(x, y)
    return ce.mean(), {"acc": acc.mean()}


def rnn_batches(step):
    return copy_task_batch(jax.random.fold_in(jax.random.key(0), step), 8, 6, 4, 3)


for dp in (False, True):
    res = fit(
        SequenceModel(HadamRNNCell(32, rngs=nnx.Rngs(0)), 6, 5, rngs=nnx.Rngs(1)),
        make_optimizer("adam", 1e-2),
        rnn_loss,
        rnn_batches,
        LoopConfig(steps=10, log_every=10, data_parallel=dp, progress=False),
    )
    out[f"rnn_loss_dp{int(dp)}"] = res.train_metrics["loss"]
    out[f"rnn_acc_dp{int(dp)}"] = res.train_metrics["acc"]
try:
    fit(
        MLP(),
        make_optimizer(),
        loss,
        lambda s: (X[:30], Y[:30]),
        LoopConfig(steps=1, data_parallel=True, progress=False),
    )
except ValueError as err:
    out["error"] = str(err)
json.dump(out, sys.stdout)
