"""Exact orthogonal conv layer (BCOP o RKO explicit kernel) vs a plain circular conv.

For each (C = M, stride) row, times, interleaved (A B A B ...) after warm-up, median of
``--repeats`` runs, ``block_until_ready`` on every output:

- ``train``: one jitted forward + backward step, ``(loss, dL/dparams, dL/dx)`` with
  ``loss = mean(layer(x)^2)``, for the exact layer (kernel rebuilt from its unconstrained
  parameters inside the step) vs a plain circular conv with a free kernel of the same shape
  (``jaxorth.orthconv.conv``);
- ``infer-cached``: ``layer(x, kernel=k)`` with ``k = layer.kernel()`` built once (same
  program as the plain conv: expected 1.0x);
- ``infer-rebuilt``: ``layer(x)``, kernel rebuilt at every call;
- ``train-nhwc`` (with ``--nhwc``): the same exact layer's train step channels-last
  (``OrthConv(..., channels_last=True)``, XLA's NHWC convolution) against its
  channels-first step: the ratio is NHWC / NCHW.

The last column is the ratio variant / baseline. Compile times are printed separately.

    python benchmarks/orthconv_layers.py            # B=64, 32x32, C=M in {32, 64}, k=3, S in {1, 2}
    python benchmarks/orthconv_layers.py --quick    # tiny sizes, a few seconds
    python benchmarks/orthconv_layers.py --nhwc     # add the channels-last train step
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _timing import header, interleaved, print_table
from flax import nnx

from jaxorth.orthconv import OrthConv, conv


def bench_row(batch, size, channels, k, stride, method, repeats, seed=0, nhwc=False):
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

    cached = orth_kernel(state)
    if nhwc:
        layer_last = OrthConv(
            channels,
            channels,
            k,
            stride=stride,
            method=method,
            channels_last=True,
            rngs=nnx.Rngs(seed),
        )
        graphdef_last, state_last = nnx.split(layer_last)
        x_last = jnp.moveaxis(x, 1, -1)

        def last_loss(state, x):
            return jnp.mean(nnx.merge(graphdef_last, state)(x) ** 2)

        last_train = jax.jit(jax.value_and_grad(last_loss, argnums=(0, 1)))
    kernel_ms = 1e3 * interleaved({"kernel": lambda: orth_kernel(state)}, repeats)["kernel"].median

    rows = []
    cases = [
        ("train", plain_train, (plain_kernel, x), orth_train, (state, x)),
        ("infer-cached", plain_infer, (plain_kernel, x), orth_cached, (cached, x)),
        ("infer-rebuilt", plain_infer, (plain_kernel, x), orth_rebuilt, (state, x)),
    ]
    if nhwc:  # variant: the channels-last step; baseline: the channels-first one
        cases.append(("train-nhwc", orth_train, (state, x), last_train, (state_last, x_last)))
    for name, fb, args_b, fa, args_a in cases:
        t = interleaved(
            {"orth": lambda f=fa, a=args_a: f(*a), "plain": lambda f=fb, a=args_b: f(*a)},
            repeats,
            warmup=2,
        )
        rows.append(
            {
                "C=M": channels,
                "S": stride,
                "method": method,
                "mode": name,
                "compile_s": t["orth"].first,
                "kernel_ms": kernel_ms,
                "plain_ms": 1e3 * t["plain"].median,
                "orth_ms": 1e3 * t["orth"].median,
                "ratio": t["orth"].median / t["plain"].median,
            }
        )
    return rows


FORMATS = {
    "compile_s": "{:.2f}",
    "kernel_ms": "{:.2f}",
    "plain_ms": "{:.1f}",
    "orth_ms": "{:.1f}",
    "ratio": "{:.2f}x",
}


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
    parser.add_argument("--nhwc", action="store_true", help="add the channels-last step")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.size, args.channels, args.repeats = 4, 8, [8], 3
    header(
        f"batch={args.batch}, {args.size}x{args.size}, k={args.kernel_size}, float32, "
        f"median of {args.repeats} interleaved runs"
    )
    rows = []
    for channels in args.channels:
        for stride in args.strides:
            for method in args.methods:
                rows += bench_row(
                    args.batch,
                    args.size,
                    channels,
                    args.kernel_size,
                    stride,
                    method,
                    args.repeats,
                    nhwc=args.nhwc,
                )
    print_table(rows, formats=FORMATS)
    return rows


if __name__ == "__main__":
    main()
