"""HVP cost / gradient cost on an MLP (forward-over-reverse; expected 2-4x).

python benchmarks/hessian_hvp.py [--quick]
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from jaxorth import hessian as hs


def mlp(key, sizes):
    keys = jax.random.split(key, len(sizes))
    return [
        (jax.random.normal(k, (a, b)) / jnp.sqrt(a), jnp.zeros(b))
        for k, a, b in zip(keys, sizes[:-1], sizes[1:])
    ]


def make_loss(x, y):
    def loss(p):
        h = x
        for w, b in p[:-1]:
            h = jnp.tanh(h @ w + b)
        w, b = p[-1]
        return jnp.mean((h @ w + b - y) ** 2)

    return loss


def timeit(f, *args, reps):
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        out.append(time.perf_counter() - t)
    return out


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
    print("| batch | sizes | params | grad ms | hvp ms | hvp / grad |")
    print("|---|---|---|---|---|---|")
    for batch, sizes in configs:
        key = jax.random.PRNGKey(0)
        params = mlp(key, sizes)
        x = jax.random.normal(key, (batch, sizes[0]))
        y = jax.random.normal(key, (batch, sizes[-1]))
        loss = make_loss(x, y)
        grad = jax.jit(jax.grad(loss))
        hvp = jax.jit(lambda p, v, loss=loss: hs.hvp(loss, p, v))
        t0 = time.perf_counter()
        jax.block_until_ready(grad(params))
        tg_c = time.perf_counter() - t0
        t0 = time.perf_counter()
        jax.block_until_ready(hvp(params, params))
        th_c = time.perf_counter() - t0
        tg, th = [], []
        for _ in range(reps):  # interleaved A B A B
            tg += timeit(grad, params, reps=1)
            th += timeit(hvp, params, params, reps=1)
        n = sum(w.size + b.size for w, b in params)
        g, h = statistics.median(tg), statistics.median(th)
        print(f"| {batch} | {sizes} | {n} | {1e3 * g:.3f} | {1e3 * h:.3f} | {h / g:.2f} |")
        print(f"(compile: grad {tg_c:.2f}s, hvp {th_c:.2f}s)")


if __name__ == "__main__":
    main()
