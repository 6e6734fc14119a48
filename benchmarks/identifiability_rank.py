"""jacobian_rank at scale: blocked Gram accumulation, never the dense n d_L x E Jacobian.

python benchmarks/identifiability_rank.py [--quick | --full | --widths 20,70,50,1 --n 5000]

Default: E ~ 2.1e3 parameters and n = 4e3 samples (G = J^T J) and n = 1.5e3 (K = J J^T);
``--full``: the issue's case, E ~ 1.0e4 parameters and n = 1e4 samples (minutes on 2
cores, about 1 GB for the Gram matrix and its eigenvalue workspace). Prints the wall
time of one call (compilation included: each call compiles its block Jacobian once),
the process's peak resident memory, and the size the dense Jacobian would have had.
"""

import argparse
import resource
import sys

import jax
import numpy as np
from _timing import header, print_table, timed

from jaxorth.identifiability import jacobian_rank, n_hidden, n_parameters, random_params


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, B on macOS
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--widths", help="one case: comma-separated d_0,...,d_L (with --n)")
    ap.add_argument("--n", type=int, help="samples of the --widths case")
    args = ap.parse_args()
    if args.widths:
        cases = [(tuple(int(d) for d in args.widths.split(",")), args.n or 1000)]
    elif args.quick:
        cases = [((8, 24, 16, 1), 600), ((8, 24, 16, 1), 300)]
    elif args.full:
        cases = [((20, 100, 80, 1), 10_000)]
    else:
        cases = [((20, 40, 30, 1), 4_000), ((20, 40, 30, 1), 1_500)]
    header("one call each (compile included); float64; method='gram'")
    rows = []
    for dims, n in cases:
        params = random_params(jax.random.PRNGKey(0), dims)
        x = np.random.default_rng(0).normal(size=(n, dims[0]))
        report, seconds = timed(lambda p=params, x=x: jacobian_rank(p, x, method="gram"))
        e = n_parameters(dims)
        rows.append(
            {
                "widths": list(dims),
                "E": e,
                "E - N_h": e - n_hidden(dims),
                "n": n,
                "Gram": "J^T J" if n * dims[-1] > e else "J J^T",
                "rank": report.rank,
                "sufficient": report.sufficient,
                "s_min / s_max": float(report.singular_values[report.rank - 1])
                / float(report.singular_values[0]),
                "time s": seconds,
                "peak RSS MB": _peak_rss_mb(),
                "dense J MB": n * dims[-1] * e * 8 / 2**20,
            }
        )
    print_table(
        rows,
        formats={
            "time s": "{:.1f}",
            "peak RSS MB": "{:.0f}",
            "dense J MB": "{:.0f}",
            "s_min / s_max": "{:.1e}",
        },
    )


if __name__ == "__main__":
    main()
