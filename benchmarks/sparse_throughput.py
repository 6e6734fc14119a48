"""Throughput of the vmapped sparse solvers vs a straightforward numpy loop, and SEA vs
scikit-learn's OMP per problem.

    python benchmarks/sparse_throughput.py [--quick]

Table 1: time per problem of ``jax.jit(jax.vmap(solver))`` on a batch of B problems
(Gaussian m x n, unit-norm columns) vs a numpy loop over the same problems (the same
algorithm, ``np.linalg.lstsq`` per least squares). Table 2: SEA (batched and one
problem per call) vs ``sklearn.linear_model.OrthogonalMatchingPursuit`` per problem.
Variants are interleaved (A B A B ...) after a warm-up; medians of the repeats; the
compile time is reported separately. Absolute times (ms per batch of B problems, ms per
problem) beside the ratios; last column: variant / baseline time ratio. The load average
is printed at the start and at the end (the machine's cores may be shared). The numpy
loop gets each problem's step ``1 / ||A||_2^2`` precomputed (outside its timing); the
jax solvers compute what they need themselves (SEA from ``X^0 = 0`` needs none).
"""

from __future__ import annotations

import argparse
import functools
import os

os.environ.setdefault("OMP_NUM_THREADS", "2")

import jax
import jax.numpy as jnp
import numpy as np
from _timing import header, interleaved, load_average, print_table, timed

from jaxorth import sparse


def np_ls(A, y, s):
    coef = np.linalg.lstsq(A[:, s], y, rcond=None)[0]
    x = np.zeros(A.shape[1], A.dtype)
    x[s] = coef
    return x


def np_omp(A, y, k):
    s, r = [], y.copy()
    for _ in range(k):
        c = np.abs(A.T @ r)
        c[s] = -np.inf
        s.append(int(np.argmax(c)))
        x = np_ls(A, y, s)
        r = y - A @ x
    return x


def np_sea(A, y, k, n_iter, step):
    X = np.zeros(A.shape[1], A.dtype)
    best, best_res = None, np.inf
    for _ in range(n_iter):
        s = np.argpartition(-np.abs(X), k - 1)[:k]
        x = np_ls(A, y, s)
        r = A @ x - y
        res = np.linalg.norm(r)
        if res < best_res:
            best, best_res = x, res
        X -= step * (A.T @ r)
    return best


def np_htp(A, y, k, n_iter):
    x = np_ls(A, y, np.argpartition(-np.abs(A.T @ y), k - 1)[:k])
    for _ in range(n_iter):
        x = np_ls(A, y, np.argpartition(-np.abs(x + A.T @ (y - A @ x)), k - 1)[:k])
    return x


def np_iht(A, y, k, n_iter, step):
    x = np.zeros(A.shape[1], A.dtype)
    for _ in range(n_iter):
        v = x + step * (A.T @ (y - A @ x))
        s = np.argpartition(-np.abs(v), k - 1)[:k]
        x = np.zeros_like(v)
        x[s] = v[s]
    return x


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        B, m, n, k, sea_iter, it, repeats, n_skl = 8, 16, 32, 3, 20, 10, 2, 4
    else:
        B, m, n, k, sea_iter, it, repeats, n_skl = 200, 64, 256, 12, 200, 100, 5, 30
    keys = jax.random.split(jax.random.PRNGKey(0), B)
    As = jax.vmap(lambda kk: sparse.gaussian_matrix(kk, m, n))(keys)
    ys = jax.vmap(lambda kk, a: sparse.sparse_problem(kk, a, k, noise_std=0.01).y)(keys, As)
    As_np, ys_np = np.asarray(As), np.asarray(ys)
    steps = np.asarray(jax.vmap(lambda a: 1.0 / jnp.linalg.eigvalsh(a @ a.T)[-1])(As))
    header(
        f"B={B} problems, Gaussian {m}x{n}, k={k}, SEA n_iter={sea_iter}, IHT/HTP n_iter={it}, "
        f"float32, median of {repeats} interleaved runs"
    )
    print()

    solvers = {
        "omp": (lambda A, y: sparse.omp(A, y, k), lambda A, y, s: np_omp(A, y, k)),
        "sea": (
            lambda A, y: sparse.sea(A, y, k, sea_iter),
            lambda A, y, s: np_sea(A, y, k, sea_iter, s),
        ),
        "htp": (lambda A, y: sparse.htp(A, y, k, it), lambda A, y, s: np_htp(A, y, k, it)),
        "iht": (lambda A, y: sparse.iht(A, y, k, it), lambda A, y, s: np_iht(A, y, k, it, s)),
    }
    rows = []
    for name, (jfn, nfn) in solvers.items():
        batched = jax.jit(jax.vmap(jfn))
        compile_s = timed(batched, As, ys)[1]
        fns = {
            "jax": lambda b=batched: b(As, ys).x,
            "numpy": lambda f=nfn: [f(As_np[i], ys_np[i], steps[i]) for i in range(B)],
        }
        med = {name: t.median for name, t in interleaved(fns, repeats, warmup=1).items()}
        res = batched(As, ys)
        ref = np.stack([nfn(As_np[i], ys_np[i], steps[i]) for i in range(B)])
        agree = np.mean(np.all((np.asarray(res.x) != 0) == (ref != 0), axis=1))
        rows.append(
            {
                "solver": name,
                "compile s": f"{compile_s:.2f}",
                "jax ms / batch": f"{1e3 * med['jax']:.1f}",
                "numpy loop ms / batch": f"{1e3 * med['numpy']:.1f}",
                "jax problems/s": f"{B / med['jax']:.0f}",
                "numpy loop problems/s": f"{B / med['numpy']:.0f}",
                "same support": f"{agree:.2f}",
                "time ratio jax/numpy": f"{med['jax'] / med['numpy']:.3f}",
                "speed-up numpy/jax": f"{med['numpy'] / med['jax']:.1f}x",
            }
        )
    print_table(rows)
    print()

    from sklearn.linear_model import OrthogonalMatchingPursuit

    def skl(i):
        model = OrthogonalMatchingPursuit(n_nonzero_coefs=k, fit_intercept=False)
        return model.fit(As_np[i], ys_np[i]).coef_

    sea_one = jax.jit(functools.partial(sparse.sea, k=k, n_iter=sea_iter))
    sea_batched = jax.jit(jax.vmap(functools.partial(sparse.sea, k=k, n_iter=sea_iter)))
    omp_one = jax.jit(functools.partial(sparse.omp, k=k))
    compile_one = timed(sea_one, As[0], ys[0])[1]
    timed(sea_batched, As, ys)
    timed(omp_one, As[0], ys[0])
    fns = {
        "sklearn OMP (loop)": lambda: [skl(i) for i in range(n_skl)],
        "SEA one problem per call": lambda: [sea_one(As[i], ys[i]).x for i in range(n_skl)],
        "SEA vmapped batch": lambda: sea_batched(As, ys).x,
        "OMP (ours) one per call": lambda: [omp_one(As[i], ys[i]).x for i in range(n_skl)],
    }
    med = {name: t.median for name, t in interleaved(fns, repeats, warmup=1).items()}
    per = {name: med[name] / (B if name == "SEA vmapped batch" else n_skl) for name in fns}
    base = per["sklearn OMP (loop)"]
    print_table(
        [
            {
                "variant": name,
                "ms per problem": f"{1e3 * t:.3f}",
                "time ratio variant/sklearn OMP": f"{t / base:.3f}",
            }
            for name, t in per.items()
        ]
    )
    print()
    print(f"SEA single-problem compile: {compile_one:.2f} s")
    one, five, fifteen = load_average()
    print(f"load average at end: {one:.2f} {five:.2f} {fifteen:.2f}")


if __name__ == "__main__":
    main()
