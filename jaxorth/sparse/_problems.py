"""Random sparse-recovery problems (Gaussian and deconvolution matrices) and recovery criteria."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ._common import _static_int


class SparseProblem(NamedTuple):
    """A sparse recovery instance ``y = A x + e``.

    Attributes
    ----------
    y : Float[Array, "m"]
        Observation.
    x : Float[Array, "n"]
        The k-sparse ground truth.
    support : Int[Array, "k"]
        Its support, sorted.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.sparse import gaussian_matrix, sparse_problem
    >>> A = gaussian_matrix(jax.random.key(0), 20, 40)
    >>> problem = sparse_problem(jax.random.key(1), A, 3)
    >>> support = problem.support.tolist()
    >>> len(support), support == sorted(support), bool((problem.x[problem.support] != 0).all())
    (3, True, True)
    """

    y: Float[Array, " m"]
    x: Float[Array, " n"]
    support: Int[Array, " k"]


def _normalize_columns(A: Array) -> Array:
    return A / jnp.linalg.norm(A, axis=0, keepdims=True)


def gaussian_matrix(
    key: PRNGKeyArray, m: int, n: int, dtype: DTypeLike = jnp.float32
) -> Float[Array, "m n"]:
    """Gaussian matrix with i.i.d. N(0, 1) entries and columns normalised to unit norm.

    Parameters
    ----------
    key : PRNGKeyArray
        Random key.
    m, n : int
        Shape (static).
    dtype : dtype
        Floating dtype.

    Returns
    -------
    Float[Array, "m n"]

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.sparse import gaussian_matrix
    >>> A = gaussian_matrix(jax.random.key(0), 4, 6)
    >>> bool(jnp.allclose(jnp.linalg.norm(A, axis=0), 1.0))  # unit-norm columns
    True
    """
    m = _static_int(m, "m", "gaussian_matrix")
    n = _static_int(n, "n", "gaussian_matrix")
    return _gaussian(key, m, n, jnp.dtype(dtype))


# Jitted draws: run eagerly, every random and indexing operation of a draw was
# compiled on its own for each new shape (~2x slower than one compiled program).
@functools.partial(jax.jit, static_argnames=("m", "n", "dtype"))
def _gaussian(key, m, n, dtype):
    return _normalize_columns(jax.random.normal(key, (m, n), dtype))


def deconvolution_matrix(
    n: int, width: float = 3.0, m: int | None = None, dtype: DTypeLike = jnp.float32
) -> Float[Array, "m n"]:
    """Gaussian-filter convolution matrix with unit-norm (strongly coherent) columns.

    Column j is the sampled Gaussian ``exp(-(t_i - j)^2 / (2 width^2))`` centred at the
    spike position j on the grid ``t_i = i - (m - n) / 2``, ``i = 0..m-1``, then
    normalised. ``m = n`` (default) is the "same"-size convolution; ``m > n`` adds
    ``(m - n) / 2`` observed samples beyond each end of the signal. Neighbouring columns
    have correlation about ``exp(-1 / (4 width^2))`` (0.973 for width 3): the spike
    deconvolution setting of Mohamed et al. 2024 (Sec. 5), where SEA beats its peers.

    Parameters
    ----------
    n : int
        Signal length (number of columns).
    width : float
        Standard deviation of the Gaussian filter, in samples (> 0).
    m : int, optional
        Number of observed samples, ``m >= n``; default ``n``.
    dtype : dtype
        Floating dtype.

    Returns
    -------
    Float[Array, "m n"]

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.sparse import deconvolution_matrix
    >>> A = deconvolution_matrix(50)
    >>> A.shape, round(float(A[:, 10] @ A[:, 11]), 3)  # unit columns, neighbours correlated
    ((50, 50), 0.973)
    """
    n = _static_int(n, "n", "deconvolution_matrix")
    m = n if m is None else _static_int(m, "m", "deconvolution_matrix")
    if m < n:
        raise ValueError(f"deconvolution_matrix: need m >= n, got m={m} < n={n}")
    if not (np.isfinite(width) and width > 0):
        raise ValueError(f"deconvolution_matrix: width must be positive, got width={width}")
    t = np.arange(m, dtype=np.float64)[:, None] - (m - n) / 2
    A = np.exp(-((t - np.arange(n, dtype=np.float64)[None, :]) ** 2) / (2.0 * width**2))
    A /= np.linalg.norm(A, axis=0, keepdims=True)
    return jnp.asarray(A, dtype)


def sparse_problem(
    key: PRNGKeyArray,
    A: Float[Array, "m n"],
    k: int,
    *,
    min_magnitude: float = 1.0,
    noise_std: float = 0.0,
) -> SparseProblem:
    """Draw a k-sparse signal and observe it: ``y = A x + noise_std * e``, ``e ~ N(0, I)``.

    The support is uniform among the k-subsets of ``{0..n-1}``, the signs are uniform
    ``+-1`` and the magnitudes are ``min_magnitude + |N(0, 1)|`` (so ``|x_i| >=
    min_magnitude``). ``vmap``-able over ``key`` (and ``A``).

    Parameters
    ----------
    key : PRNGKeyArray
        Random key.
    A : Float[Array, "m n"]
        Measurement matrix.
    k : int
        Sparsity (static), ``1 <= k <= n``.
    min_magnitude : float
        Smallest non-zero magnitude (>= 0).
    noise_std : float
        Standard deviation of the additive Gaussian noise (>= 0).

    Returns
    -------
    SparseProblem
        ``y: (m,)``, ``x: (n,)``, ``support: (k,)`` sorted.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.sparse import gaussian_matrix, sparse_problem
    >>> A = gaussian_matrix(jax.random.key(0), 20, 40)
    >>> problem = sparse_problem(jax.random.key(1), A, 3)
    >>> int((problem.x != 0).sum()), bool(jax.numpy.allclose(A @ problem.x, problem.y, atol=1e-5))
    (3, True)
    """
    shape = jnp.shape(A)
    if len(shape) != 2:
        raise ValueError(f"sparse_problem: A must be a matrix (m, n), got shape {shape}")
    n = shape[1]
    k = _static_int(k, "k", "sparse_problem")
    if k > n:
        raise ValueError(f"sparse_problem: k={k} exceeds the number of columns n={n}")
    for name, v in (("min_magnitude", min_magnitude), ("noise_std", noise_std)):
        if not isinstance(v, jax.core.Tracer) and not float(v) >= 0:
            raise ValueError(f"sparse_problem: {name} must be >= 0, got {name}={v}")
    return _draw(key, A, k, min_magnitude, noise_std)


@functools.partial(jax.jit, static_argnames=("k",))
def _draw(key, A, k, min_magnitude, noise_std):
    shape = A.shape
    n = shape[1]
    k_supp, k_sign, k_mag, k_noise = jax.random.split(key, 4)
    support = jnp.sort(jax.random.permutation(k_supp, n)[:k])
    dtype = jnp.result_type(A, jnp.float32)
    signs = jnp.where(jax.random.bernoulli(k_sign, 0.5, (k,)), 1.0, -1.0).astype(dtype)
    mags = min_magnitude + jnp.abs(jax.random.normal(k_mag, (k,), dtype))
    x = jnp.zeros(n, dtype).at[support].set(signs * mags)
    y = A @ x + noise_std * jax.random.normal(k_noise, (shape[0],), dtype)
    return SparseProblem(y=y, x=x, support=support)


def exact_recovery(
    supports: Int[ArrayLike, "... k"],  # noqa: F722
    true_supports: Int[ArrayLike, "... k"],  # noqa: F722
) -> np.ndarray:
    """Exact support recovery per trial: ``supp(x_hat) = supp(x)`` as sets.

    The success criterion of the recovery experiments of Mohamed et al. 2024 (Sec. 5):
    the k selected indices are exactly the true ones (order ignored). Host function
    (numpy); the recovery rate is the mean over trials.

    Parameters
    ----------
    supports : Int[Array, "... k"]
        Selected indices per trial (``SparseResult.support``).
    true_supports : Int[Array, "... k"]
        True supports (``SparseProblem.support``), broadcastable against ``supports``.

    Returns
    -------
    numpy.ndarray of bool, shape ``...``

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.sparse import exact_recovery
    >>> exact_recovery(np.array([[3, 1], [0, 2]]), np.array([[1, 3], [0, 1]])).tolist()
    [True, False]
    """
    s = np.sort(np.asarray(supports), axis=-1)
    t = np.sort(np.asarray(true_supports), axis=-1)
    if s.shape[-1] != t.shape[-1]:
        raise ValueError(
            f"supports and true_supports must have the same k, got {s.shape[-1]} and {t.shape[-1]}"
        )
    return np.all(s == t, axis=-1)


def relative_error(x_hat: Float[ArrayLike, "... n"], x: Float[ArrayLike, "... n"]) -> np.ndarray:  # noqa: F722
    """Relative error ``||x_hat - x||_2 / ||x||_2`` per trial, in float64 (host, numpy).

    The noisy-observation measure of Mohamed et al. 2024 (Sec. 5); ``nan`` where
    ``x = 0`` and ``x_hat = 0``, ``inf`` where only ``x = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.sparse import relative_error
    >>> relative_error(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])).round(4).tolist()
    [0.7071]
    """
    a = np.asarray(x_hat, np.float64)
    b = np.asarray(x, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)
