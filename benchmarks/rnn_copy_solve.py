"""Train HadamRNN on the copy task until it is solved; report steps and wall time.

Solved: test cross-entropy below ``baseline / target_ratio`` (default 100, i.e. below 1%
of the memoryless baseline 10 ln 8 / (T + 20)). Uses only jaxorth.rnn / quant / data
(no Hydra), so it also runs where the experiment framework is not installed.

    python benchmarks/rnn_copy_solve.py --T 1000 --lr 1e-3 --max-seconds 400
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time

import jax
import optax
from _timing import header, timed
from flax import nnx

from jaxorth.data import copy_task_baseline, copy_task_batch, copy_task_spec
from jaxorth.quant import KBitSTE
from jaxorth.rnn import BlockHadamRNNCell, HadamRNNCell, QORNNCell, SequenceModel


def build(model: str, n: int, block: int, bits: int, seed: int) -> SequenceModel:
    spec = copy_task_spec()
    r = nnx.Rngs(seed)
    if model == "hadamrnn":
        cell = HadamRNNCell(n, rngs=r)
    elif model == "block_hadamrnn":
        cell = BlockHadamRNNCell(n, block, rngs=r)
    else:
        cell = QORNNCell(n, bits, rngs=r)
    return SequenceModel(
        cell,
        spec["in_features"],
        spec["out_features"],
        rngs=r,
        input_transform=KBitSTE(4),
        output_transform=KBitSTE(4),
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="hadamrnn")
    p.add_argument("--T", type=int, default=1000)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--block", type=int, default=16)
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument("--max-seconds", type=float, default=600)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--target-ratio", type=float, default=100.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    model = build(a.model, a.hidden, a.block, a.bits, a.seed)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(a.lr)
    opt = tx.init(params)
    base = copy_task_baseline(a.T)
    draw = functools.partial(copy_task_batch, batch_size=a.batch, T=a.T)
    test_x, test_y = copy_task_batch(jax.random.key(10_000 + a.seed), 1000, a.T)

    def ce(p, x, y):
        logits = nnx.merge(graphdef, p, rest)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(p, o, key):
        x, y = draw(key)
        v, g = jax.value_and_grad(ce)(p, x, y)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, v

    evaluate = jax.jit(ce)
    header(f"{a.model}, copy task T={a.T}, hidden {a.hidden}, batch {a.batch}")
    (params, opt, loss), compile_s = timed(step, params, opt, jax.random.key(0))
    t0 = time.perf_counter()
    hist = []
    solved_at = None
    s = 1
    while s < a.max_steps and time.perf_counter() - t0 < a.max_seconds:
        params, opt, loss = step(params, opt, jax.random.key(s))
        s += 1
        if s % a.eval_every == 0:
            test_ce = float(evaluate(params, test_x, test_y))
            el = time.perf_counter() - t0
            hist.append({"step": s, "s": round(el, 1), "train": float(loss), "test_ce": test_ce})
            print(json.dumps({**hist[-1], "ce/baseline": test_ce / base}), flush=True)
            if test_ce < base / a.target_ratio:
                solved_at = (s, el)
                break
    wall = time.perf_counter() - t0
    res = {
        "model": a.model,
        "T": a.T,
        "lr": a.lr,
        "hidden": a.hidden,
        "batch": a.batch,
        "device": jax.devices()[0].device_kind,
        "compile_s": round(compile_s, 1),
        "steps": s,
        "wall_s": round(wall, 1),
        "ms_per_step": round(wall / max(s - 1, 1) * 1e3, 2),
        "seq_per_s": round(a.batch * (s - 1) / wall, 1),
        "baseline": base,
        "final_test_ce": hist[-1]["test_ce"] if hist else None,
        "solved": solved_at is not None,
        "solved_step": None if solved_at is None else solved_at[0],
        "solved_s": None if solved_at is None else round(solved_at[1], 1),
    }
    print(json.dumps(res), flush=True)
    if a.out:
        os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
        with open(a.out, "w") as f:
            json.dump({"result": res, "history": hist}, f)


if __name__ == "__main__":
    main()
