"""Exact orthogonal conv layer (BCOP o RKO explicit kernel) vs a plain circular conv.

For each (C = M, stride) row, times, interleaved (A B A B ...) after warm-up, median of
``--repeats`` runs, ``block_until_ready`` on every output:

- ``train``: one jitted forward + backward step, ``(loss, dL/dparams, dL/dx)`` with
  ``loss = mean(layer(x)^2)``, for the exact layer (kernel rebuilt from its unconstrained
  parameters inside the step) vs a plain circular conv with a free kernel of the same shape
  (``jaxorth.orthconv.conv``);
- ``infer-cached``: ``layer(x, kernel=k)`` with ``k = layer.kernel()`` built once (same
  program as the plain conv: expected 1.0x);
- ``infer-rebuilt``: ``layer(x)``, kernel rebuilt at every call.

The last column is the ratio variant / baseline. Compile times are printed separately.

    python benchmarks/orthconv_layers.py            # B=64, 32x32, C=M in {32, 64}, k=3, S in {1, 2}
    python benchmarks/orthconv_layers.py --quick    # tiny sizes, a few seconds
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxorth.orthconv import OrthConv, conv


def _time(fn, *args):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0


def _compile_time(fn, *args):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0


def _interleaved(fa, args_a, fb, args_b, repeats):
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(_time(fa, *args_a))
        tb.append(_time(fb, *args_b))
    return float(np.median(ta)), float(np.median(tb))


def bench_row(batch, size, channels, k, stride, method, repeats, seed=0):
    key_x, key_k = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(key_x, (batch, channels, size, size), jnp.float32)
    layer = OrthConv(channels, channels, k, stride=stride, method=method, rngs=nnx.Rngs(seed))
    graphdef, state = nnx.split(layer)
    plain_kernel = jax.random.normal(key_k, (channels, channels, k, k), jnp.float32) / (
        3.0 * np.sqrt(channels)
    )

    def plain_loss(kernel, x):
        return jnp.mean(conv(x, kernel, stride) ** 2)

    def orth_loss(state, x):
        return jnp.mean(nnx.merge(graphdef, state)(x) ** 2)

    plain_train = jax.jit(jax.value_and_grad(plain_loss, argnums=(0, 1)))
    orth_train = jax.jit(jax.value_and_grad(orth_loss, argnums=(0, 1)))
    plain_infer = jax.jit(lambda kernel, x: conv(x, kernel, stride))
    orth_kernel = jax.jit(lambda state: nnx.merge(graphdef, state).kernel())
    orth_cached = jax.jit(lambda kernel, x: nnx.merge(graphdef, state)(x, kernel=kernel))
    orth_rebuilt = jax.jit(lambda state, x: nnx.merge(graphdef, state)(x))

    compile_s = {
        "train": _compile_time(orth_train, state, x),
        "infer-rebuilt": _compile_time(orth_rebuilt, state, x),
    }
    _compile_time(plain_train, plain_kernel, x)
    _compile_time(plain_infer, plain_kernel, x)
    cached = orth_kernel(state)
    compile_s["infer-cached"] = _compile_time(orth_cached, cached, x)
    kernel_ms = 1e3 * float(np.median([_time(orth_kernel, state) for _ in range(repeats)]))

    rows = []
    cases = [
        ("train", plain_train, (plain_kernel, x), orth_train, (state, x)),
        ("infer-cached", plain_infer, (plain_kernel, x), orth_cached, (cached, x)),
        ("infer-rebuilt", plain_infer, (plain_kernel, x), orth_rebuilt, (state, x)),
    ]
    for name, fb, args_b, fa, args_a in cases:
        for _ in range(2):  # warm-up
            _time(fb, *args_b)
            _time(fa, *args_a)
        t_orth, t_plain = _interleaved(fa, args_a, fb, args_b, repeats)
        rows.append(
            {
                "C=M": channels,
                "S": stride,
                "method": method,
                "mode": name,
                "compile_s": compile_s[name],
                "kernel_ms": kernel_ms,
                "plain_ms": 1e3 * t_plain,
                "orth_ms": 1e3 * t_orth,
                "ratio": t_orth / t_plain,
            }
        )
    return rows


def print_table(rows):
    cols = list(rows[0])
    fmt = {
        "compile_s": "{:.2f}",
        "kernel_ms": "{:.2f}",
        "plain_ms": "{:.1f}",
        "orth_ms": "{:.1f}",
        "ratio": "{:.2f}x",
    }
    cells = [[fmt.get(c, "{}").format(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kernel-size", type=int, default=3)
    parser.add_argument("--methods", nargs="+", default=["bjorck"])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.size, args.channels, args.repeats = 4, 8, [8], 3
    print(
        f"# devices: {jax.devices()}; batch={args.batch}, {args.size}x{args.size}, "
        f"k={args.kernel_size}, float32, median of {args.repeats} interleaved runs"
    )
    rows = []
    for channels in args.channels:
        for stride in args.strides:
            for method in args.methods:
                rows += bench_row(
                    args.batch, args.size, channels, args.kernel_size, stride, method, args.repeats
                )
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
