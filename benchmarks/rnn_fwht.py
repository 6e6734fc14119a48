"""Recurrent step of HadamRNN: fast Walsh-Hadamard transform vs dense n x n matmul.

Times a lax.scan of T steps h <- s * FWHT(h) / sqrt(n) + d (the HadamRNN recurrence) against
h <- h @ W^T + d with the same W materialised, batch B, forward and forward + backward
(the gradient of sum(h_T^2) with respect to h_0 through the scan: what training runs),
interleaved after warm-up, median of repeats. Three forms of the transform: "fwht" applies
``jaxorth.linalg.fwht`` to the ``(B, n)`` batch (``cell.recurrence()``, the cell's default
radix: the split ``fwht`` measured fastest for n, printed in the "split" column);
"butterfly" is ``fwht(h, radix=2)`` (log2 n passes of additions); "layout"
is the form the sequence model's scan uses (``cell.state_layout()``: states kept as
``(a, B, b)``, two plain matmuls by the Kronecker factors ``H_a``, ``H_b``, no transpose per
step). Absolute times (microseconds per step) beside the ratios; ratio columns are
dense / variant (> 1 means the transform is faster). The load average is printed at the
start and at the end (the machine's cores may be shared).

    python benchmarks/rnn_fwht.py [--quick] [--batch 128] [--steps 100] [--repeats 7]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from _timing import header, interleaved, load_average, print_table, timed
from flax import nnx

from jaxorth.rnn import HadamRNNCell, cell_layout


def _eqns(jaxpr):
    for eqn in jaxpr.eqns:
        yield eqn
        for param in eqn.params.values():
            inner = getattr(param, "jaxpr", None)
            if inner is not None:
                yield from _eqns(getattr(inner, "jaxpr", inner))


def split_of(step, h: jax.Array) -> str:
    """The Kronecker factors ``step`` multiplies by, read off its jaxpr (``r x r`` operands)."""
    eqns = _eqns(jax.make_jaxpr(step)(h).jaxpr)
    dots = [e.invars[1].aval.shape[0] for e in eqns if e.primitive.name == "dot_general"]
    return " x ".join(map(str, dots)) or "butterfly"


def scan_fn(step, grad: bool):
    def run(h0, drive):
        def body(h, d):
            h = step(h) + d
            return h, None

        h, _ = jax.lax.scan(body, h0, drive)
        return h

    if grad:
        return jax.jit(jax.grad(lambda h0, drive: jnp.sum(run(h0, drive) ** 2)))
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
    tables = {False: [], True: []}
    for n in sizes:
        cell = HadamRNNCell(n, rngs=nnx.Rngs(0))
        w_t = cell.matrix().T
        layout = cell_layout(cell)
        key = jax.random.key(n)
        h0 = jax.random.normal(key, (B, n))
        drive = jax.random.normal(jax.random.fold_in(key, 1), (T, B, n)) * 0.01
        steps = {
            "fwht": cell.recurrence(),
            "butterfly": HadamRNNCell(n, radix=2, rngs=nnx.Rngs(0)).recurrence(),
            "layout": layout.step,
            "dense": lambda h, w_t=w_t: h @ w_t,
        }
        ins = {  # the layout's states and drive are in its own form
            "fwht": (h0, drive),
            "butterfly": (h0, drive),
            "layout": (layout.to_state(h0), jax.vmap(layout.to_state)(drive)),
            "dense": (h0, drive),
        }
        for grad in (False, True):
            fns = {name: scan_fn(steps[name], grad) for name in steps}
            t = interleaved({name: lambda f=f, a=ins[name]: f(*a) for name, f in fns.items()}, reps)
            outs = {name: timed(fns[name], *ins[name])[0] for name in fns}
            outs["layout"] = layout.to_vectors(outs["layout"])
            for name in ("fwht", "butterfly", "layout"):
                err = float(jnp.max(jnp.abs(outs[name] - outs["dense"])))
                scale = float(jnp.max(jnp.abs(outs["dense"])))
                assert err < 1e-4 * max(scale, 1.0) * n**0.5, (n, grad, name, err)
            us = {name: t[name].median / T * 1e6 for name in fns}
            tables[grad].append(
                {
                    "n": n,
                    "split": split_of(steps["fwht"], h0),
                    "compile fwht / layout / dense (s)": " / ".join(
                        f"{t[k].first:.2f}" for k in ("fwht", "layout", "dense")
                    ),
                    "fwht us/step": f"{us['fwht']:.1f}",
                    "butterfly us/step": f"{us['butterfly']:.1f}",
                    "layout us/step": f"{us['layout']:.1f}",
                    "dense us/step": f"{us['dense']:.1f}",
                    "dense / fwht": f"{us['dense'] / us['fwht']:.2f}",
                    "dense / butterfly": f"{us['dense'] / us['butterfly']:.2f}",
                    "dense / layout": f"{us['dense'] / us['layout']:.2f}",
                }
            )
    print_table(tables[False], title="forward (scan of T steps)")
    print_table(tables[True], title="forward + backward (gradient through the scan)")
    one, five, fifteen = load_average()
    print(f"\nload average at end: {one:.2f} {five:.2f} {fifteen:.2f}")


if __name__ == "__main__":
    main()
