"""Recurrent step of HadamRNN: fast Walsh-Hadamard transform vs dense n x n matmul.

Times a lax.scan of T steps h <- s * FWHT(h) / sqrt(n) + d (the HadamRNN recurrence) against
h <- h @ W^T + d with the same W materialised, batch B, A and B interleaved after warm-up,
median of repeats. Last column: fast / dense (< 1 means the transform is faster).

    python benchmarks/rnn_fwht.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
from flax import nnx

from jaxorth.rnn import HadamRNNCell


def scan_fn(step):
    def run(h0, drive):
        def body(h, d):
            h = step(h) + d
            return h, None

        h, _ = jax.lax.scan(body, h0, drive)
        return h

    return jax.jit(run)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    sizes = [128, 256] if args.quick else [128, 256, 512, 1024, 2048, 4096]
    T = 10 if args.quick else args.steps
    reps = 3 if args.quick else args.repeats
    B = args.batch
    print(f"device: {jax.devices()[0].device_kind}, batch {B}, {T} steps per call")
    print(
        "| n | radix | compile fast (s) | compile dense (s) | fast us/step | dense us/step "
        "| fast / dense |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        cell = HadamRNNCell(n, rngs=nnx.Rngs(0))
        w_t = cell.matrix().T
        fast = scan_fn(cell.recurrence())
        dense = scan_fn(lambda h, w_t=w_t: h @ w_t)
        key = jax.random.key(n)
        h0 = jax.random.normal(key, (B, n))
        drive = jax.random.normal(jax.random.fold_in(key, 1), (T, B, n)) * 0.01
        comp = {}
        for name, f in (("fast", fast), ("dense", dense)):
            t = time.perf_counter()
            f(h0, drive).block_until_ready()
            comp[name] = time.perf_counter() - t
        err = float(jnp.max(jnp.abs(fast(h0, drive) - dense(h0, drive))))
        assert err < 1e-3 * n, err
        times = {"fast": [], "dense": []}
        for _ in range(reps):
            for name, f in (("fast", fast), ("dense", dense)):
                t = time.perf_counter()
                f(h0, drive).block_until_ready()
                times[name].append((time.perf_counter() - t) / T * 1e6)
        tf, td = statistics.median(times["fast"]), statistics.median(times["dense"])
        print(
            f"| {n} | {cell.radix} | {comp['fast']:.2f} | {comp['dense']:.2f} | {tf:.1f} "
            f"| {td:.1f} | {tf / td:.3f} |"
        )


if __name__ == "__main__":
    main()
