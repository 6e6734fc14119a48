"""Matrix-free Hessian tools for any scalar loss of a pytree of parameters.

The Hessian is never formed unless :func:`dense` is called. Products with it are computed
forward-over-reverse (``jax.jvp`` of ``jax.grad``). Extreme eigenpairs come from
thick-restart Lanczos with full reorthogonalisation (Wu & Simon 2000; ``_lanczos.py``),
which stops at a residual tolerance and reports whether it got there; the spectral
density by stochastic Lanczos quadrature (Ghorbani, Krishnan & Xiao 2019; Lin, Saad &
Yang 2016) and the escape direction at a saddle run matfree's Lanczos
tridiagonalisation; the trace is Hutchinson's estimator.

Input checks: ``params`` (and ``v``, ``v0``) must be finite; a NaN or inf is rejected
before compute when the values are concrete. Under ``jit`` / ``vmap`` the values are
tracers, the check is skipped and a non-finite point gives non-finite results (the
library's NaN policy, see the README).

Each public function checks its inputs eagerly and then runs its computation as one
compiled program (``jax.jit`` of a closure over ``loss`` and the static arguments).
Lanczos and Hutchinson loop over Hessian-vector products; run eagerly, every operation
of every step is dispatched (and, for each new shape, compiled) on its own, which made
the eager calls several times slower than the same call under ``jit``. Inside a user's
``jit`` / ``vmap`` the inner ``jit`` is simply inlined (and the convergence warning of
:func:`eigenvalues` / :func:`eigsh` is raised from a ``jax.debug.callback`` when the
program runs). The ``loss`` must be traceable (it already had to be: the products are
``jax.jvp`` of ``jax.grad(loss)``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PRNGKeyArray, PyTree
from matfree import decomp, stochtrace

from jaxorth._checks import finite, int_at_least, one_of, positive_int, positive_number

from ._lanczos import thick_restart

Loss = Callable[[PyTree], Float[Array, ""]]  # noqa: F722
Matvec = Callable[[PyTree], PyTree]


def _check_scalar_loss(loss: Loss, params: PyTree) -> None:
    finite(params, "params")
    out = jax.eval_shape(loss, params)
    if not hasattr(out, "shape") or out.shape != ():
        shape = getattr(out, "shape", type(out))
        raise ValueError(f"loss must return a scalar, got output of shape {shape}")


def _num_params(params: PyTree) -> int:
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError("params must contain at least one array leaf, got an empty pytree")
    return int(sum(jnp.size(x) for x in leaves))


def hvp(loss: Loss, params: PyTree, v: PyTree) -> PyTree:
    """Hessian-vector product ``H(params) v`` computed forward over reverse.

    ``jax.jvp`` of ``jax.grad(loss)``: one gradient evaluation plus its tangent, about
    2-4 times the cost of a gradient (Pearlmutter 1994).

    Parameters
    ----------
    loss : callable
        ``loss(params) -> Float[Array, ""]``.
    params : pytree
        Point at which the Hessian is taken.
    v : pytree
        Same structure and shapes as ``params``.

    Returns
    -------
    pytree
        ``H v`` with the structure of ``params``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> def loss(w):
    ...     return 0.5 * w @ jnp.diag(jnp.array([1.0, 2.0, 3.0])) @ w
    >>> hessian.hvp(loss, jnp.zeros(3), jnp.ones(3)).tolist()
    [1.0, 2.0, 3.0]
    """
    if jax.tree_util.tree_structure(params) != jax.tree_util.tree_structure(v):
        raise ValueError("v must have the same pytree structure as params")
    for p, x in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(v)):
        if jnp.shape(p) != jnp.shape(x):
            raise ValueError(f"v leaf shape {jnp.shape(x)} differs from params {jnp.shape(p)}")
    finite(params, "params")
    finite(v, "v")
    return jax.jit(lambda p, u: jax.jvp(jax.grad(loss), (p,), (u,))[1])(params, v)


def hvp_fn(loss: Loss, params: PyTree) -> Matvec:
    """Return ``v -> H(params) v``, linearising ``grad(loss)`` once at ``params``.

    ``jax.linearize`` stores the forward pass of the gradient, so repeated products (as in
    Lanczos) only pay for the tangent computation.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> matvec = hessian.hvp_fn(lambda w: (w**3).sum(), jnp.array([1.0, 2.0]))  # H = diag(6 w)
    >>> matvec(jnp.ones(2)).tolist()
    [6.0, 12.0]
    """
    _check_scalar_loss(loss, params)
    _, lin = jax.linearize(jax.grad(loss), params)
    return lin


def dense(loss: Loss, params: PyTree) -> Float[Array, "n n"]:  # noqa: F722
    """Dense Hessian of ``loss`` in the flattened coordinates of ``params``.

    Only for small models: memory is ``n^2`` for ``n`` parameters. The flattening order
    is :func:`jax.flatten_util.ravel_pytree`'s. Pure and traceable: ``jax.jit`` and
    ``jax.vmap`` apply, e.g. the Hessians at a stack of points (leaves with a leading
    batch axis) are ``jax.vmap(lambda p: dense(loss, p))(stacked)``, or
    :func:`dense_batched`.

    Returns
    -------
    Float[Array, "n n"]
        Symmetric Hessian (forward-over-reverse ``jax.hessian``).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> def loss(p):
    ...     return 0.5 * (3.0 * p["a"] ** 2 + p["b"] ** 2).sum()
    >>> hessian.dense(loss, {"a": jnp.zeros(1), "b": jnp.zeros(1)}).tolist()
    [[3.0, 0.0], [0.0, 1.0]]
    """
    _check_scalar_loss(loss, params)
    return jax.jit(lambda p: _dense(loss, p))(params)


def _dense(loss: Loss, params: PyTree) -> Array:
    flat, unravel = ravel_pytree(params)
    return jax.hessian(lambda x: loss(unravel(x)))(flat)


def dense_batched(loss: Loss, params: PyTree) -> Float[Array, "b n n"]:  # noqa: F722
    """Dense Hessians of ``loss`` at a stack of points: :func:`dense` under ``jax.vmap``.

    ``params`` has the structure of one point with a leading batch axis of size ``b`` on
    every leaf (e.g. ``[W_1, ..., W_H]`` with ``W_h: (b, d_h, d_{h-1})``); row ``i`` of
    the result is ``dense(loss, params_i)``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> H = hessian.dense_batched(lambda w: (w**3).sum(), jnp.array([[1.0], [2.0]]))
    >>> H.tolist()  # 6 w at each of the two points
    [[[6.0]], [[12.0]]]
    """
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves or any(jnp.ndim(x) < 1 for x in leaves):
        raise ValueError("params must be a non-empty pytree whose leaves have a batch axis")
    sizes = {jnp.shape(x)[0] for x in leaves}
    if len(sizes) != 1:
        raise ValueError(f"every leaf of params needs the same batch size, got {sorted(sizes)}")
    finite(params, "params")
    return jax.jit(jax.vmap(lambda p: dense(loss, p)))(params)


class EigResult(NamedTuple):
    """Extreme eigenpairs from thick-restart Lanczos, with what it takes to trust them.

    Attributes
    ----------
    eigenvalues : Float[Array, "k"]
        Ritz values, descending for ``which="largest"``, ascending for ``"smallest"``.
    eigenvectors : pytree
        Ritz vectors: each leaf has a leading axis of size ``k``; unit norm overall.
    residuals : Float[Array, "k"]
        Residual norms ``||H y - theta y||`` of the pairs, by the Lanczos identity
        ``|beta_j s_{j,i}|`` (no extra product). In exact arithmetic the two are equal;
        a product computed in floating point cannot resolve residuals below its own
        rounding error (about ``1e-6 ||H||`` for a float32 MLP; see
        :func:`eigenvalues`). For a symmetric ``H`` an eigenvalue lies within
        ``residuals[i]`` of ``eigenvalues[i]``.
    converged : Bool[Array, ""]
        Every residual is ``<= tol * max|theta|`` (``max|theta|`` over the Ritz
        values of the last basis, an estimate of ``||H||``).
    num_matvecs : Int[Array, ""]
        Products with the operator (Hessian-vector products) used.
    num_restarts : Int[Array, ""]
        Thick restarts of the basis.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> D = jnp.arange(1.0, 7.0)
    >>> result = hessian.eigsh(lambda v: D * v, jnp.ones(6), 2)  # the two largest of diag(1..6)
    >>> [round(float(v), 3) for v in result.eigenvalues], result.eigenvectors.shape
    ([6.0, 5.0], (2, 6))
    >>> bool(result.residuals.max() < 1e-3)
    True
    """

    eigenvalues: Array
    eigenvectors: PyTree
    residuals: Array
    converged: Array
    num_matvecs: Array
    num_restarts: Array


class _Options(NamedTuple):
    k: int
    which: str
    tol: float
    basis_size: int  # m, the rows of the preallocated basis
    keep: int  # Ritz vectors kept at a restart
    num_matvecs: int  # the budget


def _lanczos_options(
    k: Any, n: int, which: Any, tol: Any, num_matvecs: Any, basis_size: Any
) -> _Options:
    """Check the options of :func:`eigsh` / :func:`eigenvalues` before any compute."""
    one_of(which, "which", ("largest", "smallest"))
    k = positive_int(k, "k")
    if k > n:
        raise ValueError(f"k must be <= n={n} (the dimension of the operator), got k={k}")
    tol = positive_number(tol, "tol")
    if basis_size is None:
        m = min(n, max(2 * k + 10, 20))
    else:
        m = int_at_least(basis_size, "basis_size", min(k + 1, n))
        if m > n:
            raise ValueError(
                f"basis_size must be <= n={n} (the dimension of the operator), got {m}"
            )
    budget = 50 * m if num_matvecs is None else positive_int(num_matvecs, "num_matvecs")
    # keep < m: each cycle then adds a product, so the budget always ends the loop
    return _Options(k, which, tol, m, max(min(k + (m - k) // 2, m - 1), 0), budget)


def _eigsh(matvec: Matvec, v0: PyTree, opts: _Options, tol: Array, budget: Array) -> EigResult:
    """:func:`eigsh` after its checks, without the warning; traceable.

    ``tol`` and ``budget`` (``opts.tol``, ``opts.num_matvecs`` as arrays) are arguments
    of the compiled program, not constants in it: one program serves every value.
    """
    flat0, unravel = ravel_pytree(v0)
    mv = _flat_matvec(matvec, unravel)
    smallest = opts.which == "smallest"
    out = thick_restart(
        (lambda x: -mv(x)) if smallest else mv,
        flat0,
        tol,
        budget,
        k=opts.k,
        basis_size=opts.basis_size,
        keep=opts.keep,
    )
    return EigResult(
        -out.theta if smallest else out.theta,
        jax.vmap(unravel)(out.vectors),
        out.estimates,
        jnp.all(out.estimates <= tol * out.scale),
        out.matvecs,
        out.restarts,
    )


def _not_converged_message(
    caller: str, opts: _Options, converged: Any, worst: Any, matvecs: Any
) -> str | None:
    """The warning when the budget ran out first, or ``None`` (``worst``: max res / scale)."""
    converged, worst, matvecs = np.asarray(converged), np.asarray(worst), np.asarray(matvecs)
    if converged.all():
        return None
    return (
        f"{caller}: Lanczos did not reach tol={opts.tol:g}: after {int(matvecs.max())} "
        f"matvecs (the budget num_matvecs={opts.num_matvecs}) the worst relative residual "
        f"||H y - theta y|| / max|theta| is {float(worst.max()):.2e}; the {opts.k} "
        f"eigenvalue(s) may be inaccurate (raise num_matvecs or basis_size; "
        f"result.converged is False)"
    )


def _warn_if_not_converged(caller: str, opts: _Options, res: EigResult) -> None:
    """``warnings.warn`` when ``res`` did not converge; a ``jax.debug.callback`` if traced."""
    scale = jnp.max(jnp.abs(res.eigenvalues), axis=-1)
    scale = jnp.maximum(scale, jnp.finfo(res.residuals.dtype).tiny)
    worst = jnp.max(res.residuals, axis=-1) / scale

    def warn(converged, worst, matvecs):
        message = _not_converged_message(caller, opts, converged, worst, matvecs)
        if message is not None:
            warnings.warn(message, RuntimeWarning, stacklevel=4)

    if isinstance(res.converged, jax.core.Tracer):
        jax.debug.callback(warn, res.converged, worst, res.num_matvecs)
    else:
        warn(res.converged, worst, res.num_matvecs)


def eigsh(
    matvec: Matvec,
    v0: PyTree,
    k: int,
    *,
    which: str = "largest",
    tol: float = 1e-6,
    num_matvecs: int | None = None,
    basis_size: int | None = None,
) -> EigResult:
    """Extreme eigenpairs of a symmetric operator given by a matvec over pytrees.

    Thick-restart Lanczos (Lanczos 1950; Wu & Simon 2000, SIAM J. Matrix Anal. Appl.
    22(2), 602-616) with full reorthogonalisation, run from ``v0`` as one compiled
    loop on a preallocated basis of ``basis_size`` vectors. It stops as soon as the
    ``k`` wanted Ritz pairs all have ``||A y - theta y|| <= tol * max|theta|``, or
    when ``num_matvecs`` products are spent; then it warns (``RuntimeWarning``) and
    the result has ``converged=False``. Memory: ``basis_size * n`` numbers of
    ``v0``'s dtype, whatever the number of products.

    Parameters
    ----------
    matvec : callable
        ``v -> A v`` for a symmetric ``A``, over pytrees shaped like ``v0``; it must
        be traceable (it runs inside ``jax.lax.while_loop``).
    v0 : pytree
        Starting vector (random is best); defines the flattening, the dimension ``n``
        and the dtype of the basis.
    k : int
        Number of eigenpairs, ``1 <= k <= n``.
    which : {"largest", "smallest"}
        Algebraically largest or smallest eigenvalues.
    tol : float
        Relative tolerance on the residual norms (default ``1e-6``).
    num_matvecs : int, optional
        Budget of products with ``A`` (default ``50 * basis_size``).
    basis_size : int, optional
        Vectors kept in memory, ``min(k + 1, n) <= basis_size <= n`` (default
        ``min(n, max(2k + 10, 20))``); at a restart the ``k + (basis_size - k) // 2``
        leading Ritz vectors are kept.

    Returns
    -------
    EigResult

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> D = jnp.arange(1.0, 7.0)
    >>> result = hessian.eigsh(lambda v: D * v, jnp.ones(6), 1, which="smallest")
    >>> [round(float(v), 3) for v in result.eigenvalues], bool(result.converged)
    ([1.0], True)
    """
    finite(v0, "v0")
    n = sum(int(jnp.size(x)) for x in jax.tree_util.tree_leaves(v0))
    if n == 0:
        raise ValueError("v0 must contain at least one array entry, got an empty pytree")
    opts = _lanczos_options(k, n, which, tol, num_matvecs, basis_size)
    res = jax.jit(lambda v, tol, budget: _eigsh(matvec, v, opts, tol, budget))(
        v0, opts.tol, opts.num_matvecs
    )
    _warn_if_not_converged("eigsh", opts, res)
    return res


def _flat_matvec(matvec: Matvec, unravel: Callable[[Array], PyTree]) -> Callable[[Array], Array]:
    """``x -> ravel(matvec(unravel(x)))``: a pytree matvec as one on flat vectors.

    The one place the Hessian matvec is flattened (Lanczos and SLQ work on flat vectors,
    in :func:`jax.flatten_util.ravel_pytree` order).
    """

    def mv_flat(x: Array) -> Array:
        return ravel_pytree(matvec(unravel(x)))[0]

    return mv_flat


def _lanczos(matvec, flat0, unravel, num_matvecs):
    """Lanczos (matfree, full reorthogonalisation): ascending Ritz values and vectors."""
    tridiag = decomp.tridiag_sym(num_matvecs, reortho="full", custom_vjp=False)
    Q, T, residual, _ = tridiag(_flat_matvec(matvec, unravel), flat0)
    theta, S = jnp.linalg.eigh(T)
    return theta, S, Q, jnp.linalg.norm(residual)


def _random_like(key: PRNGKeyArray, params: PyTree) -> PyTree:
    flat, unravel = ravel_pytree(params)
    return unravel(jax.random.normal(key, flat.shape, flat.dtype))


def eigenvalues(
    loss: Loss,
    params: PyTree,
    k: int,
    *,
    which: str = "largest",
    key: PRNGKeyArray | None = None,
    tol: float = 1e-6,
    num_matvecs: int | None = None,
    basis_size: int | None = None,
    return_eigenvectors: bool = False,
) -> Any:
    """The ``k`` largest or smallest Hessian eigenvalues to a residual tolerance, matrix-free.

    Thick-restart Lanczos (Wu & Simon 2000, SIAM J. Matrix Anal. Appl. 22(2), 602-616)
    on Hessian-vector products (:func:`hvp_fn`), with full reorthogonalisation, as in
    :func:`eigsh`: it stops once every requested Ritz pair ``(theta_i, y_i)`` has
    ``||H y_i - theta_i y_i|| <= tol * max|theta|``, and otherwise warns
    (``RuntimeWarning``, naming ``tol`` and the worst residual) when ``num_matvecs``
    products are spent. For a symmetric ``H``, an eigenvalue lies within the
    residual ``r_i`` of ``theta_i``, and within ``r_i^2 / gap_i`` when the other
    eigenvalues are at least ``gap_i`` away (Kato-Temple; Parlett 1998, *The Symmetric
    Eigenvalue Problem*, Theorems 4.5.1 and 11.7.1 [to confirm in the book]).

    The residuals are the Lanczos estimates (no extra product). A Hessian-vector
    product computed in float32 carries a rounding error of about ``1e-6 ||H||``
    (measured on the 1.06M-parameter MLP of ``benchmarks/hessian_topk.py``), so the
    explicit ``||H y - theta y||`` of float32 pairs stays near that level even when
    the estimates are far below it; float64 parameters resolve both.

    Memory: ``basis_size * n`` numbers of the parameters' dtype (``n`` parameters),
    e.g. 30 float32 vectors = 127 MB for ``n = 1.06M``.

    Parameters
    ----------
    loss : callable
        ``loss(params) -> Float[Array, ""]``.
    params : pytree
        Point at which the Hessian is taken (``n`` entries in all).
    k : int
        Number of eigenvalues, ``1 <= k <= n``.
    which : {"largest", "smallest"}
        Which end of the spectrum.
    key : PRNGKeyArray, optional
        Key for the random starting vector (default ``PRNGKey(0)``).
    tol : float
        Relative tolerance on the residual norms (default ``1e-6``).
    num_matvecs : int, optional
        Budget of Hessian-vector products (default ``50 * basis_size``); the
        iteration stops earlier once converged.
    basis_size : int, optional
        Lanczos vectors held in memory, ``min(k + 1, n) <= basis_size <= n`` (default
        ``min(n, max(2k + 10, 20))``).
    return_eigenvectors : bool
        Return the full :class:`EigResult` (eigenvectors, residuals, ``converged``,
        the counts) instead of the eigenvalues only.

    Returns
    -------
    Float[Array, "k"] or EigResult

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> def loss(w):  # a quadratic with Hessian diag(1, ..., 8)
    ...     return 0.5 * (jnp.arange(1.0, 9.0) * w**2).sum()
    >>> top = hessian.eigenvalues(loss, jnp.zeros(8), 2, key=jax.random.key(0))
    >>> [round(float(v), 3) for v in top]
    [8.0, 7.0]
    >>> res = hessian.eigenvalues(loss, jnp.zeros(8), 2, return_eigenvectors=True)
    >>> bool(res.converged), bool((res.residuals <= 1e-6 * 8.0).all()), res.eigenvectors.shape
    (True, True, (2, 8))
    """
    _check_scalar_loss(loss, params)
    n = _num_params(params)
    opts = _lanczos_options(k, n, which, tol, num_matvecs, basis_size)
    key = jax.random.PRNGKey(0) if key is None else key

    def compute(params, key, tol, budget):
        return _eigsh(hvp_fn(loss, params), _random_like(key, params), opts, tol, budget)

    res = jax.jit(compute)(params, key, opts.tol, opts.num_matvecs)
    _warn_if_not_converged("eigenvalues", opts, res)
    return res if return_eigenvectors else res.eigenvalues


class Density(NamedTuple):
    """Spectral density estimate from stochastic Lanczos quadrature.

    Attributes
    ----------
    grid : Float[Array, "g"]
        Points where the smoothed density is evaluated.
    density : Float[Array, "g"]
        Gaussian-smoothed density (integrates to ~1 over the grid).
    nodes : Float[Array, "probes m"]
        Gauss quadrature nodes (Ritz values) per probe.
    weights : Float[Array, "probes m"]
        Quadrature weights per probe (each row sums to 1).

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> def loss(w):  # Hessian diag(1, 2, 3, 4)
    ...     return 0.5 * (jnp.arange(1.0, 5.0) * w**2).sum()
    >>> d = hessian.density(loss, jnp.zeros(4), key=jax.random.key(0), num_matvecs=4,
    ...                     num_probes=2, grid=50)
    >>> d.grid.shape, d.density.shape, d.nodes.shape, d.weights.shape
    ((50,), (50,), (2, 4), (2, 4))
    """

    grid: Array
    density: Array
    nodes: Array
    weights: Array


def density(
    loss: Loss,
    params: PyTree,
    *,
    key: PRNGKeyArray,
    num_matvecs: int = 40,
    num_probes: int = 8,
    grid: Float[Array, " g"] | int = 200,  # noqa: F722
    sigma: float | None = None,
) -> Density:
    """Hessian spectral density by stochastic Lanczos quadrature.

    For Rademacher probes ``v`` (matfree's ``sampler_signs``), Lanczos with full
    reorthogonalisation gives ``T = S diag(theta) S^T``; the density is approximated by
    ``mean_v sum_j S_{1j}^2 N(t; theta_j, sigma^2)`` (Ghorbani et al. 2019, eq. (4);
    Lin, Saad & Yang 2016).

    Parameters
    ----------
    loss, params
        Scalar loss and the point of evaluation.
    key : PRNGKeyArray
        Key for the probes.
    num_matvecs : int
        Lanczos depth per probe (<= number of parameters).
    num_probes : int
        Number of random probes.
    grid : array or int
        Evaluation points, or their number (spanning the Ritz values with a margin).
    sigma : float, optional
        Gaussian smoothing width; default 1% of the spectral range.

    Returns
    -------
    Density

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> def loss(w):  # Hessian diag(1, 2, 3, 4)
    ...     return 0.5 * (jnp.arange(1.0, 5.0) * w**2).sum()
    >>> d = hessian.density(loss, jnp.zeros(4), key=jax.random.key(0), num_matvecs=4,
    ...                     num_probes=2, grid=50)
    >>> # 4 Lanczos steps on 4 parameters: the Ritz values are the exact eigenvalues
    >>> np.asarray(d.nodes, np.float64).round(3).tolist()
    [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]]
    >>> # a Rademacher probe v weighs each eigenvector e_i by (v . e_i)^2 / n = 1 / n
    >>> np.asarray(d.weights, np.float64).round(3).tolist()
    [[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]]
    """
    _check_scalar_loss(loss, params)
    n = _num_params(params)
    if not 1 <= num_matvecs <= n:
        raise ValueError(f"num_matvecs must be in [1, n={n}], got {num_matvecs}")
    if num_probes < 1:
        raise ValueError(f"num_probes must be >= 1, got {num_probes}")
    return jax.jit(
        lambda params, key: _density(loss, params, key, num_matvecs, num_probes, grid, sigma)
    )(params, key)


def _density(loss, params, key, num_matvecs, num_probes, grid, sigma) -> Density:
    flat, unravel = ravel_pytree(params)
    mv_flat = _flat_matvec(hvp_fn(loss, params), unravel)
    probes = stochtrace.sampler_signs(flat, num=num_probes)(key)
    tridiag = decomp.tridiag_sym(num_matvecs, reortho="full", custom_vjp=False)

    def one(v):
        _, T, _, _ = tridiag(mv_flat, v)
        theta, S = jnp.linalg.eigh(T)
        return theta, S[0, :] ** 2

    nodes, weights = jax.lax.map(one, probes)
    lo, hi = jnp.min(nodes), jnp.max(nodes)
    width = jnp.maximum(hi - lo, jnp.finfo(flat.dtype).eps * (1 + jnp.abs(hi)))
    s = 0.01 * width if sigma is None else jnp.asarray(sigma, flat.dtype)
    if isinstance(grid, int):
        grid = jnp.linspace(lo - 0.05 * width - 3 * s, hi + 0.05 * width + 3 * s, grid)
    grid = jnp.asarray(grid, flat.dtype)
    z = (grid[:, None, None] - nodes[None]) / s
    dens = jnp.sum(weights[None] * jnp.exp(-0.5 * z**2), axis=(1, 2)) / (
        num_probes * s * jnp.sqrt(2 * jnp.pi)
    )
    return Density(grid, dens, nodes, weights)


def trace(
    loss: Loss, params: PyTree, *, key: PRNGKeyArray, num_probes: int = 100
) -> tuple[Float[Array, ""], Float[Array, ""]]:  # noqa: F722
    """Hutchinson estimate of ``tr H`` with its standard error.

    ``mean_v v^T H v`` over Rademacher probes (Hutchinson 1989), using matfree's
    ``estimator_monte_carlo_mean_and_sem`` with ``monte_carlo_trace``.

    Returns
    -------
    (estimate, standard_error)

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> def loss(w):  # Hessian 2 I: trace 8
    ...     return (w**2).sum()
    >>> estimate, stderr = hessian.trace(loss, jnp.zeros(4), key=jax.random.key(0), num_probes=4)
    >>> round(float(estimate), 4)  # Rademacher probes are exact on a multiple of I
    8.0
    """
    _check_scalar_loss(loss, params)
    _num_params(params)
    if num_probes < 1:
        raise ValueError(f"num_probes must be >= 1, got {num_probes}")

    def compute(params, key):
        lin = hvp_fn(loss, params)
        sampler = stochtrace.sampler_signs(params, num=num_probes)
        est = stochtrace.estimator_monte_carlo_mean_and_sem(stochtrace.monte_carlo_trace(), sampler)
        return est(lambda v: lin(v), key)

    return jax.jit(compute)(params, key)


class NegativeCurvature(NamedTuple):
    """An escape direction at a saddle point.

    Attributes
    ----------
    eigenvalue : Float[Array, ""]
        Smallest Ritz value ``theta`` (negative at a strict saddle).
    direction : pytree
        Unit-norm ``d`` with ``d^T H d = theta``, signed so that ``<grad, d> <= 0``.
    is_negative : Bool[Array, ""]
        ``theta < -tol * max|theta_i|``: the point is a strict saddle up to ``tol``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> def loss(w):  # a saddle at 0: Hessian diag(2, -2)
    ...     return w[0] ** 2 - w[1] ** 2
    >>> escape = hessian.negative_curvature_direction(loss, jnp.zeros(2))
    >>> round(float(escape.eigenvalue), 3), bool(escape.is_negative)
    (-2.0, True)
    """

    eigenvalue: Array
    direction: PyTree
    is_negative: Array


def negative_curvature_direction(
    loss: Loss,
    params: PyTree,
    *,
    key: PRNGKeyArray | None = None,
    num_matvecs: int | None = None,
    tol: float = 1e-6,
) -> NegativeCurvature:
    """Direction of most negative curvature, to escape a strict saddle.

    At a strict saddle (``lambda_min(H) < 0``) a step ``params + eta * d`` decreases the
    loss at second order by ``eta^2 |theta| / 2``. The direction is the Ritz vector of
    the smallest Ritz value from Lanczos with full reorthogonalisation.

    Parameters
    ----------
    loss, params
        Scalar loss and the (near-)critical point.
    key : PRNGKeyArray, optional
        Key for the Lanczos starting vector.
    num_matvecs : int, optional
        Lanczos depth (default ``min(n, 40)``).
    tol : float
        Relative threshold for calling the curvature negative.

    Returns
    -------
    NegativeCurvature

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import hessian
    >>> def loss(w):  # a saddle at 0: Hessian diag(2, -2), escape along +-e_2
    ...     return w[0] ** 2 - w[1] ** 2
    >>> escape = hessian.negative_curvature_direction(loss, jnp.zeros(2))
    >>> [round(abs(float(v)), 4) for v in escape.direction]
    [0.0, 1.0]
    >>> round(float(loss(0.1 * escape.direction)), 4)  # the loss decreases along it
    -0.01
    """
    _check_scalar_loss(loss, params)
    n = _num_params(params)
    num_matvecs = min(n, 40) if num_matvecs is None else num_matvecs
    if not 1 <= num_matvecs <= n:
        raise ValueError(f"num_matvecs must be in [1, n={n}], got {num_matvecs}")
    key = jax.random.PRNGKey(0) if key is None else key

    def compute(params, key):
        flat0, unravel = ravel_pytree(_random_like(key, params))
        thetas, S, Q, _ = _lanczos(hvp_fn(loss, params), flat0, unravel, num_matvecs)
        theta = thetas[0]
        d = S[:, 0] @ Q
        g = ravel_pytree(jax.grad(loss)(params))[0]
        d = jnp.where(jnp.vdot(g, d) > 0, -d, d)
        d = unravel(d / jnp.linalg.norm(d))
        scale = jnp.max(jnp.abs(thetas))
        return NegativeCurvature(theta, d, theta < -tol * scale)

    return jax.jit(compute)(params, key)


def from_nnx(
    model: Any,
    loss_fn: Callable[..., Float[Array, ""]],  # noqa: F722
    *args: Any,
) -> tuple[Loss, PyTree]:
    """Turn an NNX model and ``loss_fn(model, *args)`` into ``(loss(params), params)``.

    Splits the model into its graph definition, its ``nnx.Param`` state and the rest
    (``flax.nnx.split``); ``loss(params)`` merges them back, so every tool here applies
    to the trainable parameters only.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth import hessian
    >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    >>> x, y = jnp.ones((4, 2)), jnp.zeros((4, 1))
    >>> loss, params = hessian.from_nnx(model, lambda m, x, y: ((m(x) - y) ** 2).mean(), x, y)
    >>> hessian.dense(loss, params).shape  # 2 weights and 1 bias
    (3, 3)
    """
    from flax import nnx

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(p):
        return loss_fn(nnx.merge(graphdef, p, rest), *args)

    return loss, params
