"""Recurrent step of HadamRNN: fast Walsh-Hadamard transform vs dense n x n matmul.

Times a lax.scan of T steps h <- s * FWHT(h) / sqrt(n) + d (the HadamRNN recurrence) against
h <- h @ W^T + d with the same W materialised, batch B, interleaved after warm-up, median
of repeats. Two forms of the transform: "radix" applies ``fwht(h, radix=16)`` to the
``(B, n)`` batch (``cell.recurrence()``); "layout" is the form the sequence model's scan
uses (``cell.state_layout()``: states kept as ``(a, B, b)``, two plain matmuls by the
Kronecker factors ``H_a``, ``H_b``, no transpose per step). Last column: layout / dense
(< 1 means the transform is faster).

    python benchmarks/rnn_fwht.py [--quick]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from _timing import header, interleaved, print_table, timed
from flax import nnx

from jaxorth.rnn import HadamRNNCell, cell_layout


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
    header(f"batch {B}, {T} steps per call, median of {reps} interleaved runs")
    rows = []
    for n in sizes:
        cell = HadamRNNCell(n, rngs=nnx.Rngs(0))
        w_t = cell.matrix().T
        layout = cell_layout(cell)
        key = jax.random.key(n)
        h0 = jax.random.normal(key, (B, n))
        drive = jax.random.normal(jax.random.fold_in(key, 1), (T, B, n)) * 0.01
        # inputs of each variant: the layout's states and drive are in its own form
        ins = {
            "radix": (scan_fn(cell.recurrence()), h0, drive),
            "layout": (scan_fn(layout.step), layout.to_state(h0), jax.vmap(layout.to_state)(drive)),
            "dense": (scan_fn(lambda h, w_t=w_t: h @ w_t), h0, drive),
        }
        t = interleaved({name: lambda v=v: v[0](v[1], v[2]) for name, v in ins.items()}, reps)
        outs = {name: timed(*v)[0] for name, v in ins.items()}
        outs["layout"] = layout.to_vectors(outs["layout"])
        for name in ("radix", "layout"):
            err = float(jnp.max(jnp.abs(outs[name] - outs["dense"])))
            assert err < 1e-3 * n, (name, err)
        us = {name: t[name].median / T * 1e6 for name in ins}
        rows.append(
            {
                "n": n,
                "compile radix / layout / dense (s)": " / ".join(
                    f"{t[k].first:.2f}" for k in ("radix", "layout", "dense")
                ),
                "radix us/step": f"{us['radix']:.1f}",
                "layout us/step": f"{us['layout']:.1f}",
                "dense us/step": f"{us['dense']:.1f}",
                "radix / dense": f"{us['radix'] / us['dense']:.3f}",
                "layout / dense": f"{us['layout'] / us['dense']:.3f}",
            }
        )
    print_table(rows)


if __name__ == "__main__":
    main()
