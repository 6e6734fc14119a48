"""Exact singular values of a circular strided conv layer: jaxorth vs dense SVD vs numpy.

Usage: python benchmarks/orthconv_spectrum.py [--quick] [--repeats R] [--budget SECONDS]

Three baselines for ``jaxorth.orthconv.singular_values`` (polyphase rfft + batched SVD,
jitted, float32):

1. ``dense``: ``numpy.linalg.svd`` (values only, float32) of the explicit layer matrix
   built by ``conv_matrix`` (build time excluded), for sizes where it fits;
2. ``numpy``: a plain numpy reference, polyphase kernel + full ``fftn`` + batched
   ``numpy.linalg.svd`` on complex64;
3. the largest input size ``S N`` whose full spectrum each method computes within the
   time budget (default 10 s), growing ``N`` until one call exceeds it (a size whose
   time, extrapolated as ``N^2`` from the last one, exceeds 1.5x the budget is skipped).

Timings: A and B interleaved in one process after a warm-up call (jaxorth's compile time
is reported separately), median of the repeats, ``block_until_ready`` on JAX outputs.
In the first table the last column is the time ratio jaxorth / baseline (< 1: jaxorth is
faster); in the second, the ratio of the largest sizes (jaxorth / numpy, > 1: jaxorth
goes further).
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _timing import header, interleaved, print_table, timed

from jaxorth.orthconv import conv_matrix, singular_values


def numpy_reference(kernel: np.ndarray, input_size: int, stride: int) -> np.ndarray:
    """Polyphase + full FFT + batched SVD in plain numpy (complex64), d = 2."""
    m, c, k, _ = kernel.shape
    n = input_size // stride
    kp = -(-k // stride)
    padded = np.zeros((m, c, kp * stride, kp * stride), np.float32)
    padded[:, :, :k, :k] = kernel
    poly = padded.reshape(m, c, kp, stride, kp, stride).transpose(0, 1, 3, 5, 2, 4)
    poly = poly.reshape(m, c * stride * stride, kp, kp)
    sym = np.fft.fftn(poly, s=(n, n), axes=(2, 3)).astype(np.complex64)
    sym = sym.transpose(2, 3, 0, 1).reshape(n * n, m, c * stride * stride)
    return np.sort(np.linalg.svd(sym, compute_uv=False).ravel())[::-1]


def make_kernel(m: int, c: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)


def compare(rows, label, kernel, input_size, stride, baseline, repeats):
    kj = jnp.asarray(kernel)
    t = interleaved(
        {"jaxorth": lambda: singular_values(kj, input_size, stride), "baseline": baseline},
        repeats,
        warmup=0,  # the first calls are the warm-up
    )
    compile_s, ta, tb = t["jaxorth"].first, t["jaxorth"].median, t["baseline"].median
    ours = np.asarray(singular_values(kj, input_size, stride))
    ref = baseline()  # the values, for the accuracy column
    err = float(np.max(np.abs(ours - ref[: ours.size])) / ref[0])
    m, c, k, _ = kernel.shape
    rows.append(
        {
            "baseline": label,
            "M=C": m,
            "k": k,
            "S": stride,
            "input": f"{input_size}x{input_size}",
            "#sv": ours.size,
            "max rel diff": f"{err:.1e}",
            "compile+1st [s]": f"{compile_s:.3f}",
            "jaxorth [s]": f"{ta:.4f}",
            "baseline [s]": f"{tb:.4f}",
            "ratio": f"{ta / tb:.3f}",
        }
    )
    print(rows[-1], flush=True)


def largest_within(budget: float, m: int, k: int, stride: int, sizes, which: str):
    """Largest input size whose spectrum one call computes within ``budget`` seconds."""
    kernel = make_kernel(m, m, k, seed=1)
    kj = jnp.asarray(kernel)
    best, best_t = None, None
    for n in sizes:
        size = stride * n
        if best_t is not None and best_t * (size / best) ** 2 > 1.5 * budget:
            # the cost grows at least like N^d (d = 2): skip sizes predicted far over budget
            print(
                f"  {which} M=C={m} S={stride} input {size}x{size}: skipped (predicted "
                f"{best_t * (size / best) ** 2:.1f} s)",
                flush=True,
            )
            break
        if which == "jaxorth":
            timed(singular_values, kj, size, stride)  # compile
            _, t = timed(singular_values, kj, size, stride)
        else:
            _, t = timed(numpy_reference, kernel, size, stride)
        print(f"  {which} M=C={m} S={stride} input {size}x{size}: {t:.2f} s", flush=True)
        if t > budget:
            break
        best, best_t = size, t
    return best, best_t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--budget", type=float, default=10.0, help="seconds (largest size)")
    args = parser.parse_args()
    repeats = args.repeats or 3
    header(f"backend {jax.default_backend()}, median of {repeats} interleaved runs")

    rows = []
    dense_cases = (
        [(4, 3, 1, 8), (4, 3, 2, 8)]
        if args.quick
        else [
            (16, 3, 1, 8),
            (16, 3, 1, 12),
            (16, 3, 2, 16),
            (32, 3, 1, 8),
        ]
    )
    for m, k, s, size in dense_cases:
        kernel = make_kernel(m, m, k)
        a = conv_matrix(kernel, size, s).astype(np.float32)
        compare(
            rows,
            f"dense SVD {a.shape[0]}x{a.shape[1]}",
            kernel,
            size,
            s,
            lambda a=a: np.linalg.svd(a, compute_uv=False),
            max(1, repeats // 2),
        )
    fft_cases = (
        [(8, 3, 1, 8), (8, 3, 2, 8)]
        if args.quick
        else [
            (64, 3, 1, 32),
            (64, 3, 2, 32),
            (256, 3, 1, 16),
            (256, 3, 2, 16),
        ]
    )
    for m, k, s, size in fft_cases:
        kernel = make_kernel(m, m, k)
        compare(
            rows,
            "numpy FFT+SVD",
            kernel,
            size,
            s,
            lambda kernel=kernel, size=size, s=s: numpy_reference(kernel, size, s),
            repeats,
        )
    print_table(rows, "singular_values vs baselines (float32, median times)")

    budget = 0.5 if args.quick else args.budget
    big = []
    configs = (
        [(8, [8, 16])]
        if args.quick
        else [
            (64, [64, 128, 192, 256]),
            (256, [16, 32, 48]),
        ]
    )
    for m, sizes in configs:
        ours, t_ours = largest_within(budget, m, 3, 1, sizes, "jaxorth")
        ref, t_ref = largest_within(budget, m, 3, 1, sizes, "numpy")
        big.append(
            {
                "M=C": m,
                "k": 3,
                "S": 1,
                "budget [s]": budget,
                "jaxorth largest": f"{ours}x{ours} ({t_ours:.2f} s)" if ours else "-",
                "numpy largest": f"{ref}x{ref} ({t_ref:.2f} s)" if ref else "-",
                "size ratio": f"{(ours or 0) / (ref or 1):.2f}",
            }
        )
    print_table(big, f"largest input size handled within {budget:g} s (tried sizes shown above)")


if __name__ == "__main__":
    main()
