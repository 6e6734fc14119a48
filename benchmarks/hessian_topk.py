"""Top-10 Hessian eigenvalues of an MLP by Lanczos (matfree) vs dense ``jnp.linalg.eigh``.

Part 1: the largest size where the dense Hessian still fits (n ~ 2-3k parameters):
Lanczos time, dense time, ratio. Part 2: an MLP with >= 1M parameters on a small batch:
Lanczos only (must finish in < 2 min).

    python benchmarks/hessian_topk.py [--quick]
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

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


def setup(sizes, batch):
    key = jax.random.PRNGKey(0)
    params = mlp(key, sizes)
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, sizes[0]))
    y = jax.random.normal(jax.random.PRNGKey(2), (batch, sizes[-1]))
    return make_loss(x, y), params, sum(w.size + b.size for w, b in params)


def timed(f, *a):
    t = time.perf_counter()
    out = jax.block_until_ready(f(*a))
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--matvecs", type=int, default=60)
    args = ap.parse_args()
    k, m = 10, (30 if args.quick else args.matvecs)
    small = ([8, 16, 4], 32) if args.quick else ([32, 48, 16], 64)
    big = ([64, 128, 10], 16) if args.quick else ([256, 1024, 768, 10], 32)

    loss, params, n = setup(*small)
    lanczos = jax.jit(lambda p: hs.eigenvalues(loss, p, k, num_matvecs=m))
    dense = jax.jit(lambda p: jnp.linalg.eigh(hs.dense(loss, p))[0][::-1][:k])
    _, c1 = timed(lanczos, params)
    _, c2 = timed(dense, params)
    tl, td = [], []
    for _ in range(3):  # interleaved
        ev_l, t = timed(lanczos, params)
        tl.append(t)
        ev_d, t = timed(dense, params)
        td.append(t)
    err = float(
        np.max(np.abs(np.asarray(ev_l) - np.asarray(ev_d)) / np.abs(np.asarray(ev_d)).max())
    )
    print(f"compile: lanczos {c1:.2f}s, dense {c2:.2f}s")
    print("| params | method | time s | top-10 rel err | lanczos / dense |")
    print("|---|---|---|---|---|")
    print(f"| {n} | dense eigh | {np.median(td):.3f} | - | 1.00 |")
    print(
        f"| {n} | lanczos m={m} | {np.median(tl):.3f} | {err:.1e} | "
        f"{np.median(tl) / np.median(td):.3f} |"
    )

    loss, params, n = setup(*big)
    f = jax.jit(lambda p: hs.eigenvalues(loss, p, k, num_matvecs=m, return_eigenvectors=True))
    t0 = time.perf_counter()
    res = jax.block_until_ready(f(params))
    total = time.perf_counter() - t0
    res, t = timed(f, params)
    print(
        "\n| params | batch | matvecs | first call (incl. compile) s | warm s "
        "| max residual / theta_1 |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| {n} | {big[1]} | {m} | {total:.1f} | {t:.1f} | "
        f"{float(jnp.max(res.residuals) / res.eigenvalues[0]):.1e} |"
    )
    print("top-10:", np.round(np.asarray(res.eigenvalues), 5))


if __name__ == "__main__":
    main()
