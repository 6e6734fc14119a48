"""Top-10 Hessian eigenvalues of an MLP by Lanczos (matfree) vs dense ``jnp.linalg.eigh``.

Part 1: the largest size where the dense Hessian still fits (n ~ 2-3k parameters):
Lanczos time, dense time, ratio. Part 2: an MLP with >= 1M parameters on a small batch:
Lanczos only (must finish in < 2 min).

    python benchmarks/hessian_topk.py [--quick]
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _mlp import make_loss, mlp
from _timing import header, interleaved, print_table, timed

from jaxorth import hessian as hs


def setup(sizes, batch):
    key = jax.random.PRNGKey(0)
    params = mlp(key, sizes)
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, sizes[0]))
    y = jax.random.normal(jax.random.PRNGKey(2), (batch, sizes[-1]))
    return make_loss(x, y), params, sum(w.size + b.size for w, b in params)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--matvecs", type=int, default=60)
    args = ap.parse_args()
    k, m = 10, (30 if args.quick else args.matvecs)
    small = ([8, 16, 4], 32) if args.quick else ([32, 48, 16], 64)
    big = ([64, 128, 10], 16) if args.quick else ([256, 1024, 768, 10], 32)

    header(f"k={k}, {m} matvecs")

    loss, params, n = setup(*small)
    lanczos = jax.jit(lambda p: hs.eigenvalues(loss, p, k, num_matvecs=m))
    dense = jax.jit(lambda p: jnp.linalg.eigh(hs.dense(loss, p))[0][::-1][:k])
    t = interleaved({"lanczos": lambda: lanczos(params), "dense": lambda: dense(params)}, 3)
    ev_l, ev_d = np.asarray(lanczos(params)), np.asarray(dense(params))
    err = float(np.max(np.abs(ev_l - ev_d) / np.abs(ev_d).max()))
    print(f"compile: lanczos {t['lanczos'].first:.2f}s, dense {t['dense'].first:.2f}s")
    tl, td = t["lanczos"].median, t["dense"].median
    print_table(
        [
            {
                "params": n,
                "method": "dense eigh",
                "time s": f"{td:.3f}",
                "top-10 rel err": "-",
                "lanczos / dense": "1.00",
            },
            {
                "params": n,
                "method": f"lanczos m={m}",
                "time s": f"{tl:.3f}",
                "top-10 rel err": f"{err:.1e}",
                "lanczos / dense": f"{tl / td:.3f}",
            },
        ],
    )

    loss, params, n = setup(*big)
    f = jax.jit(lambda p: hs.eigenvalues(loss, p, k, num_matvecs=m, return_eigenvectors=True))
    _, total = timed(f, params)
    res, warm = timed(f, params)
    print_table(
        [
            {
                "params": n,
                "batch": big[1],
                "matvecs": m,
                "first call (incl. compile) s": f"{total:.1f}",
                "warm s": f"{warm:.1f}",
                "max residual / theta_1": (
                    f"{float(jnp.max(res.residuals) / res.eigenvalues[0]):.1e}"
                ),
            }
        ]
    )
    print("top-10:", np.round(np.asarray(res.eigenvalues), 5))


if __name__ == "__main__":
    main()
