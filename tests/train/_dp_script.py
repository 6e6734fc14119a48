"""Run by test_data_parallel.py in a subprocess with 4 host devices."""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxorth.train import LoopConfig, fit, make_optimizer

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


out = {"devices": jax.device_count()}
for dp in (False, True):
    res = fit(
        MLP(),
        make_optimizer("adam", 1e-2),
        loss,
        batches,
        LoopConfig(steps=30, log_every=30, data_parallel=dp, progress=False),
    )
    out[f"loss_dp{int(dp)}"] = res.train_metrics["loss"]
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
