"""OrthLinear (exact orthogonal dense layer) against a plain dense layer, CPU or GPU.

One training step (forward, backward, Adam update) of ``x -> layer(x)`` with a squared
loss, batch ``B``, for a square ``n x n`` and a rectangular ``n x 4n`` weight (rows
orthonormal), for each orthogonalisation (``bjorck`` 15 iterations of order 2, ``cayley``,
``expm``), interleaved with the plain ``nnx.Linear`` of the same shape, after warm-up.
Prints absolute times (ms) and the ratio to the plain layer, and the first call
(compilation included)::

    python benchmarks/lipschitz_linear.py            # n = 256, 512; B = 256
    python benchmarks/lipschitz_linear.py --sizes 512 --repeats 30
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax
from _timing import header, interleaved, print_table
from flax import nnx

from jaxorth.lipschitz import OrthLinear


def _train_step(layer, batch: int, n_in: int, n_out: int):
    x = jax.random.normal(jax.random.key(0), (batch, n_in))
    y = jax.random.normal(jax.random.key(1), (batch, n_out))
    opt = nnx.Optimizer(layer, optax.adam(1e-3), wrt=nnx.Param)

    @nnx.jit
    def step(layer, opt):
        def loss(layer):
            return jnp.mean((layer(x) - y) ** 2)

        value, grads = nnx.value_and_grad(loss)(layer)
        opt.update(layer, grads)
        return value

    return lambda: step(layer, opt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    header(f"OrthLinear train step, batch {args.batch}")
    rows = []
    for n in args.sizes:
        for n_in, n_out in ((n, n), (4 * n, n)):
            fns = {
                "plain": _train_step(
                    nnx.Linear(n_in, n_out, use_bias=False, rngs=nnx.Rngs(0)),
                    args.batch,
                    n_in,
                    n_out,
                )
            }
            for method in ("bjorck", "cayley", "expm"):
                layer = OrthLinear(n_in, n_out, method=method, use_bias=False, rngs=nnx.Rngs(0))
                fns[method] = _train_step(layer, args.batch, n_in, n_out)
            t = interleaved(fns, args.repeats, warmup=2)
            plain = t["plain"].median
            for name, timing in t.items():
                rows.append(
                    {
                        "shape (in -> out)": f"{n_in} -> {n_out}",
                        "layer": name,
                        "train step ms": 1e3 * timing.median,
                        "/ plain": timing.median / plain,
                        "first call s": timing.first,
                    }
                )
    print_table(
        rows, formats={"train step ms": "{:.2f}", "/ plain": "{:.2f}x", "first call s": "{:.2f}"}
    )


if __name__ == "__main__":
    main()
