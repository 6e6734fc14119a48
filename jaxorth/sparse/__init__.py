"""jaxorth.sparse: sparse support recovery, the Support Exploration Algorithm and its peers.

Every solver has the call shape ``solver(A, y, k, ...) -> SparseResult(x, support,
residual)`` with ``A: (m, n)``, ``y: (m,)`` and a static Python int ``k``; all are
``jit``- and ``vmap``-able (validate-then-compute: the public functions check shapes
and ``k`` eagerly, NaN/inf only on concrete inputs, the library's NaN policy, then call
a jitted core). Zero columns of ``A`` are allowed: no solver puts one in a support while
``k`` nonzero columns remain, and fewer than ``k`` nonzero columns is rejected::

    solve = jax.jit(jax.vmap(lambda A, y: sparse.sea(A, y, k=8, n_iter=500)))
    results = solve(As, ys)            # As: (B, m, n), ys: (B, m)

SEA: Mohamed, Malgouyres, Emiya, Chaux, "Support Exploration Algorithm for Sparse
Support Recovery", ICML 2024. Peers: OMP, OLS, ELS, IHT / NIHT, HTP, CoSaMP, SP.
"""

from ._common import SparseResult as SparseResult
from ._common import lstsq_on_support as lstsq_on_support
from ._greedy import els as els
from ._greedy import ols as ols
from ._greedy import omp as omp
from ._problems import SparseProblem as SparseProblem
from ._problems import deconvolution_matrix as deconvolution_matrix
from ._problems import exact_recovery as exact_recovery
from ._problems import gaussian_matrix as gaussian_matrix
from ._problems import relative_error as relative_error
from ._problems import sparse_problem as sparse_problem
from ._sea import SeaPath as SeaPath
from ._sea import sea as sea
from ._sea import sea_els as sea_els
from ._sea import sea_omp as sea_omp
from ._sea import sea_path as sea_path
from ._thresholding import cosamp as cosamp
from ._thresholding import htp as htp
from ._thresholding import iht as iht
from ._thresholding import niht as niht
from ._thresholding import sp as sp

SOLVERS = {
    "sea": sea,
    "sea_omp": sea_omp,
    "sea_els": sea_els,
    "omp": omp,
    "ols": ols,
    "els": els,
    "iht": iht,
    "niht": niht,
    "htp": htp,
    "cosamp": cosamp,
    "sp": sp,
}
"""Name -> solver, all with the call shape ``solver(A, y, k, **options)``."""

__all__ = [
    "SOLVERS",
    "SeaPath",
    "SparseProblem",
    "SparseResult",
    "cosamp",
    "deconvolution_matrix",
    "els",
    "exact_recovery",
    "gaussian_matrix",
    "htp",
    "iht",
    "lstsq_on_support",
    "niht",
    "ols",
    "omp",
    "relative_error",
    "sea",
    "sea_els",
    "sea_omp",
    "sea_path",
    "sparse_problem",
    "sp",
]
