"""Shared pieces of the sparse solvers: result type, input validation, least squares."""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from jaxorth._checks import finite, int_at_least


class SparseResult(NamedTuple):
    """What every solver of :mod:`jaxorth.sparse` returns.

    Attributes
    ----------
    x : Float[Array, "n"]
        The k-sparse estimate (zeros off ``support``).
    support : Int[Array, "k"]
        The k selected column indices, sorted increasingly.
    residual : Float[Array, ""]
        ``||A x - y||_2``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import sparse
    >>> A = sparse.gaussian_matrix(jax.random.key(0), 20, 40)
    >>> x = jnp.zeros(40).at[jnp.array([3, 17])].set(jnp.array([1.0, -2.0]))
    >>> result = sparse.omp(A, A @ x, k=2)
    >>> result.support.tolist(), bool(result.residual < 1e-4)
    ([3, 17], True)
    >>> [round(float(v), 3) for v in result.x[result.support]]  # zeros off the support
    [1.0, -2.0]
    """

    x: Float[Array, " n"]
    support: Int[Array, " k"]
    residual: Float[Array, ""]


def _is_concrete(value: Any) -> bool:
    return not isinstance(value, jax.core.Tracer)


def _static_int(value: Any, name: str, fn: str, minimum: int = 1) -> int:
    """``value`` as a static Python ``int >= minimum`` (shapes and loop lengths under jit).

    The bound is checked by :func:`jaxorth._checks.int_at_least`; messages start with
    the solver's name ``fn``.
    """
    try:
        index = operator.index(value)
    except TypeError:
        raise ValueError(
            f"{fn}: {name} must be a static Python int (it fixes array shapes under jit), "
            f"got {value!r} of type {type(value).__name__}"
        ) from None
    try:
        return int_at_least(value if isinstance(value, bool) else index, name, minimum)
    except ValueError as err:
        raise ValueError(f"{fn}: {err}") from None


def validate_problem(
    A: Any,
    y: Any,
    k: Any,
    fn: str,
    *,
    x0: Any = None,
    step: Any = None,
    rows_per_k: int = 1,
) -> tuple[Array, Array, int, Array | None]:
    """Check ``(A, y, k[, x0, step])`` before any compute and cast to a common float dtype.

    Shapes and ``k`` are checked statically (they are static under jit). NaN / inf in
    ``A``, ``y``, ``x0`` are detected with a host check when the inputs are concrete
    arrays (:func:`jaxorth._checks.finite`, the library's NaN policy); under ``jit`` /
    ``vmap`` the values are tracers and that check is skipped (a NaN input then gives a
    NaN result). Zero columns of ``A`` are allowed: they never enter a support (their
    correlation with every residual is 0; SEA ranks them last), and the one impossible
    case, fewer nonzero columns than ``k``, is rejected when ``A`` is concrete.

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix.
    y : Float[Array, "m"]
        Observation.
    k : int
        Sparsity, ``1 <= k <= n`` and ``rows_per_k * k <= m``.
    fn : str
        Name of the calling solver, used in error messages.
    x0 : Float[Array, "n"], optional
        Warm start.
    step : float, optional
        Step size, must be positive when given as a concrete number.
    rows_per_k : int
        The solver solves least squares on ``rows_per_k * k`` columns at once.

    Returns
    -------
    A, y, k, x0
        Cast to a common floating dtype.
    """
    A_shape, y_shape = jnp.shape(A), jnp.shape(y)
    if len(A_shape) != 2:
        raise ValueError(f"{fn}: A must be a matrix of shape (m, n), got shape {A_shape}")
    m, n = A_shape
    if y_shape != (m,):
        raise ValueError(
            f"{fn}: y must have shape (m,) = ({m},) to match A of shape ({m}, {n}), "
            f"got shape {y_shape}"
        )
    k = _static_int(k, "k", fn)
    if k > n:
        raise ValueError(f"{fn}: k={k} exceeds the number of columns of A, n={n} (need k <= n)")
    if rows_per_k * k > m:
        need = "k <= m" if rows_per_k == 1 else f"{rows_per_k}*k <= m"
        raise ValueError(
            f"{fn}: k={k} is too large for m={m} rows of A: least squares on "
            f"{rows_per_k * k} columns needs {need}"
        )
    if x0 is not None and jnp.shape(x0) != (n,):
        raise ValueError(f"{fn}: x0 must have shape (n,) = ({n},), got shape {jnp.shape(x0)}")
    if step is not None and _is_concrete(step):
        step_value = float(np.asarray(step))
        if not (np.isfinite(step_value) and step_value > 0):
            raise ValueError(f"{fn}: step must be a finite positive number, got step={step_value}")
    for name, value in (("A", A), ("y", y), ("x0", x0)):
        if value is not None and _is_concrete(value):
            arr = np.asarray(value)
            if not np.issubdtype(arr.dtype, np.number):
                raise ValueError(f"{fn}: {name} must be numeric, got dtype {arr.dtype}")
            finite(arr, f"{fn}: {name}")
    if _is_concrete(A):
        live = np.any(np.asarray(A) != 0, axis=0)
        n_live = int(live.sum())
        if n_live < k:
            zero = np.flatnonzero(~live)
            shown = ", ".join(str(j) for j in zero[:8]) + (", ..." if len(zero) > 8 else "")
            noun = "column" if n_live == 1 else "columns"
            raise ValueError(
                f"{fn}: A has only {n_live} nonzero {noun} but k={k}: a k-sparse "
                f"least squares needs k linearly independent columns (zero columns: {shown})"
            )
    dtype = jnp.result_type(A, y, jnp.float32)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"{fn}: A and y must be real, got dtype {dtype}")
    A = jnp.asarray(A, dtype)
    y = jnp.asarray(y, dtype)
    if x0 is not None:
        x0 = jnp.asarray(x0, dtype)
    return A, y, k, x0


def prepare(
    A: Any,
    y: Any,
    k: Any,
    fn: str,
    *,
    n_iter: Any,
    x0: Any = None,
    step: Any = None,
    rows_per_k: int = 1,
    min_iter: int = 0,
) -> tuple[Array, Array, int, Array, int]:
    """:func:`validate_problem` plus the iteration count, for every iterative solver.

    ``n_iter`` must be a static int ``>= min_iter``; a missing ``x0`` becomes zeros.

    Returns
    -------
    A, y, k, x0, n_iter
    """
    A, y, k, x0 = validate_problem(A, y, k, fn, x0=x0, step=step, rows_per_k=rows_per_k)
    n_iter = _static_int(n_iter, "n_iter", fn, minimum=min_iter)
    if x0 is None:
        x0 = jnp.zeros(A.shape[1], A.dtype)
    return A, y, k, x0, n_iter


def ls_coefficients(
    As: Float[Array, "m p"], y: Float[Array, " m"]
) -> tuple[Float[Array, " p"], Float[Array, ""]]:
    """Least squares ``argmin_c ||As c - y||`` and its residual norm, by Householder QR.

    The triangular factor of the augmented matrix ``[As | y] = Q [[R, z], [0, rho]]``
    gives ``c = R^{-1} z`` and ``||As c - y|| = |rho|`` without forming Q (one LAPACK
    ``geqrf``): backward stable, and float64 when the inputs are. ``As`` must have full
    column rank (``p <= m``).
    """
    m, p = As.shape
    R = jnp.linalg.qr(jnp.concatenate([As, y[:, None]], axis=1), mode="r")
    coef = jax.scipy.linalg.solve_triangular(R[:p, :p], R[:p, p], lower=False)
    res = jnp.abs(R[p, p]) if m > p else jnp.zeros((), As.dtype)
    return coef, res


def ls_on_support(
    A: Float[Array, "m n"], y: Float[Array, " m"], support: Int[Array, " k"]
) -> tuple[Float[Array, " n"], Float[Array, ""]]:
    """Dense least-squares solution on ``support`` and its residual norm."""
    coef, res = ls_coefficients(jnp.take(A, support, axis=1), y)
    return jnp.zeros(A.shape[1], A.dtype).at[support].set(coef), res


def masked_ls(
    A: Float[Array, "m n"], y: Float[Array, " m"], idx: Int[Array, " p"], mask: Array
) -> Float[Array, " n"]:
    """Least squares on the columns ``idx[mask]`` (p static, the mask dynamic).

    Solves the stacked problem ``[A_T; D] c ~ [y; 0]`` by one Householder QR, with
    ``D = diag(1 - mask) + sqrt(lam) diag(mask)``: unselected coefficients are exactly 0
    and the selected ones get a tiny ridge ``lam = eps * ||A_T||_F^2`` that only matters
    when more than m columns are selected (then it gives the near minimum-norm solution).
    """
    p = idx.shape[0]
    As = jnp.where(mask[None, :], jnp.take(A, idx, axis=1), 0.0)
    lam = jnp.finfo(A.dtype).eps * jnp.sum(As * As)
    D = jnp.diag(jnp.where(mask, jnp.sqrt(lam), 1.0).astype(A.dtype))
    coef, _ = ls_coefficients(
        jnp.concatenate([As, D], axis=0), jnp.concatenate([y, jnp.zeros(p, A.dtype)])
    )
    coef = jnp.where(mask, coef, 0.0)
    return jnp.zeros(A.shape[1], A.dtype).at[idx].add(coef)


def after(x: Array, dep: Array) -> Array:
    """``x``, made to depend on ``dep`` (``x + 0 * dep[0]``, which XLA does not fold).

    Orders LAPACK calls: XLA:CPU (jaxlib 0.10) runs independent custom calls
    concurrently, and two batched LAPACK kernels waiting on the intra-op thread pool
    can deadlock under ``vmap`` (seen with ``orgqr`` next to ``trsm``, batch 400).
    ``optimization_barrier`` is dropped by the CPU pipeline, a data dependency is not.
    """
    return x + jnp.zeros((), x.dtype) * jnp.ravel(dep)[0].astype(x.dtype)


def top_k_support(v: Float[Array, " n"], k: int, live: Array | None = None) -> Int[Array, " k"]:
    """Indices of the k largest ``|v|`` (ties broken towards smaller indices).

    With a boolean mask ``live``, entries where it is false rank below every live entry
    (used to keep zero columns of ``A`` out of a support).
    """
    score = jnp.abs(v)
    if live is not None:
        score = jnp.where(live, score, -1.0)
    return jax.lax.top_k(score, k)[1]


def finish(A: Float[Array, "m n"], y: Float[Array, " m"], x: Float[Array, " n"], support):
    """Pack a :class:`SparseResult` with a sorted support and the residual norm."""
    return SparseResult(x=x, support=jnp.sort(support), residual=jnp.linalg.norm(A @ x - y))


def lstsq_on_support(
    A: Float[Array, "m n"],
    y: Float[Array, " m"],
    support: Int[Array, " k"],
) -> Float[Array, " n"]:
    """Least squares restricted to a support: ``argmin_{supp(x) in S} ||A x - y||_2``.

    The k columns ``A[:, S]`` (m x k) are gathered and solved by a reduced Householder
    QR (backward stable; float64 when x64 is enabled and the inputs are float64). This
    is the inner step of SEA, HTP, OMP (Mohamed et al. 2024, Alg. 1 line 4).

    Parameters
    ----------
    A : Float[Array, "m n"]
        Measurement matrix.
    y : Float[Array, "m"]
        Observation.
    support : Int[Array, "k"]
        Distinct column indices; ``k <= m`` and ``A[:, S]`` of full column rank.

    Returns
    -------
    Float[Array, "n"]
        The solution, zero off the support.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.sparse import lstsq_on_support
    >>> A = jnp.eye(3)
    >>> lstsq_on_support(A, jnp.array([1.0, 2.0, 3.0]), jnp.array([0, 2])).tolist()
    [1.0, 0.0, 3.0]
    """
    s_shape = jnp.shape(support)
    if len(s_shape) != 1:
        raise ValueError(f"lstsq_on_support: support must be 1-D (k,), got shape {s_shape}")
    A, y, _, _ = validate_problem(A, y, s_shape[0], "lstsq_on_support")
    support = jnp.asarray(support)
    if not jnp.issubdtype(support.dtype, jnp.integer):
        raise ValueError(f"lstsq_on_support: support must be integer, got {support.dtype}")
    if _is_concrete(support):
        s = np.asarray(support)
        n = A.shape[1]
        if s.min() < 0 or s.max() >= n:
            raise ValueError(f"lstsq_on_support: support indices must lie in [0, {n}), got {s}")
        if len(np.unique(s)) != len(s):
            raise ValueError(f"lstsq_on_support: support indices must be distinct, got {s}")
    return _lstsq_on_support(A, y, support)


@jax.jit
def _lstsq_on_support(A, y, support):
    # one compiled program (eagerly, the gather, QR, solve and scatter compiled one by one)
    return ls_on_support(A, y, support)[0]
