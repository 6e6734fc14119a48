"""HVP cost / gradient cost on an MLP (forward-over-reverse; expected 2-4x).

python benchmarks/hessian_hvp.py [--quick]
"""

import argparse

import jax
from _mlp import make_loss, mlp
from _timing import header, interleaved, print_table

from jaxorth import hessian as hs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    configs = (
        [(32, [16, 32, 1])]
        if args.quick
        else [(256, [64, 256, 256, 1]), (256, [256, 1024, 512, 10])]
    )
    reps = 3 if args.quick else 15
    header(f"median of {reps} interleaved runs (grad, hvp)")
    rows = []
    for batch, sizes in configs:
        key = jax.random.PRNGKey(0)
        params = mlp(key, sizes)
        x = jax.random.normal(key, (batch, sizes[0]))
        y = jax.random.normal(key, (batch, sizes[-1]))
        loss = make_loss(x, y)
        grad = jax.jit(jax.grad(loss))
        hvp = jax.jit(lambda p, v, loss=loss: hs.hvp(loss, p, v))
        t = interleaved(
            {"grad": lambda g=grad, p=params: g(p), "hvp": lambda h=hvp, p=params: h(p, p)},
            reps,
        )
        g, h = t["grad"].median, t["hvp"].median
        rows.append(
            {
                "batch": batch,
                "sizes": sizes,
                "params": sum(w.size + b.size for w, b in params),
                "grad compile s": t["grad"].first,
                "hvp compile s": t["hvp"].first,
                "grad ms": 1e3 * g,
                "hvp ms": 1e3 * h,
                "hvp / grad": h / g,
            }
        )
    print_table(
        rows,
        formats={
            "grad compile s": "{:.2f}",
            "hvp compile s": "{:.2f}",
            "grad ms": "{:.3f}",
            "hvp ms": "{:.3f}",
            "hvp / grad": "{:.2f}",
        },
    )


if __name__ == "__main__":
    main()
