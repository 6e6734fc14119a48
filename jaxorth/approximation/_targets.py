r"""Target functions on ``[0, 1]^d``: hard Hölder instances, monotone functions, smooth targets.

Achour, Foucault, Gerchinovitz, Malgouyres, "A general approximation lower bound in
:math:`L^p` norm, with applications to feed-forward neural networks" (NeurIPS 2022,
arXiv 2206.04360). Their lower bound needs, for a function class ``F``, a large packing
of ``F`` in :math:`L^p(\mu)` (here ``mu`` is the uniform measure on ``[0, 1]^d``). This
module builds the members of such packings as callables, so that approximation errors of
networks can be measured against them (:mod:`jaxorth.approximation._norms`):

- :func:`holder_instance`: the classical "bump" construction for the Hölder ball (a grid
  of ``N = m^d`` cells, one bump per cell with a random sign), with its exact
  :math:`L^p` norm (:func:`holder_instance_norm`), the distance of two instances
  (:func:`holder_instance_distance`) and the packing they form (:func:`holder_packing`,
  Varshamov–Gilbert);
- :func:`monotone_instance`: mixtures of orthant indicators, nondecreasing in every
  coordinate (the class of the paper's monotone-function application), with jumps
  (``temperature = 0``) or smoothed (``temperature > 0``);
- :func:`smooth_target`: a few classical smooth functions with closed-form integrals.

Every target is a frozen dataclass registered as a JAX pytree (arrays are data, Python
scalars are static metadata), so ``jax.vmap(lambda k: holder_instance(k, d=2,
cells_per_side=4))(keys)`` is a batch of instances, and every target is a pure callable
``target(x: Float[Array, "n d"]) -> Float[Array, "n"]``, defined on all of ``R^d``
(zero or its natural extension outside the cube) and usable under ``jit``, ``vmap`` and
``grad``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Real

from jaxorth._checks import finite, number_at_least, one_of, positive_int, positive_number

__all__ = [
    "HolderInstance",
    "MonotoneInstance",
    "Packing",
    "SMOOTH_TARGETS",
    "SmoothTarget",
    "check_points",
    "holder_instance",
    "holder_instance_distance",
    "holder_instance_norm",
    "holder_packing",
    "monotone_instance",
    "smooth_target",
]

_Points = Real[Array | np.ndarray, "n d"]

#: the names :func:`smooth_target` accepts
SMOOTH_TARGETS = ("sine", "gaussian", "product", "polynomial")

_GAUSSIAN_WIDTH = 0.15


def check_points(x: Any, d: int, name: str = "x") -> Array:
    """``x`` as a floating JAX array of shape ``(n, d)``; ``ValueError`` before compute if not.

    Checked: 2-D with ``d`` columns, a real (integer or floating) dtype, and, when the
    values are concrete, every entry finite (skipped under ``jit`` / ``vmap``, see
    :mod:`jaxorth._checks`). Integer arrays are converted to the default float dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.approximation import check_points
    >>> check_points(np.zeros((5, 2)), 2).shape
    (5, 2)
    """
    shape = tuple(np.shape(x))
    if len(shape) != 2 or shape[1] != d:
        raise ValueError(f"{name} must have shape (n, d={d}) (one point per row), got {shape}")
    dtype = getattr(x, "dtype", None)
    dtype = np.dtype(dtype) if dtype is not None else np.asarray(x).dtype
    if dtype == np.bool_ or not (
        np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)
    ):
        raise ValueError(f"{name} must be a real array, got dtype {dtype}")
    finite(x, name)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jax.dtypes.canonicalize_dtype(jnp.float64))
    return x


def _check_key(key: Any, name: str = "key") -> Any:
    """``key`` if it is a JAX PRNG key (typed, or raw ``uint32``), tracers included."""
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key) and shape == ():
        return key
    if dtype is not None and dtype == jnp.uint32 and shape is not None and len(shape) == 1:
        return key
    raise ValueError(f"{name} must be a JAX PRNG key (jax.random.key(0)), got {key!r}")


def _float_dtype() -> Any:
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def _beta(a: float, b: float) -> float:
    return math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))


# ------------------------------------------------------------------------------------
# Hölder instances


def _check_alpha(alpha: Any) -> float:
    alpha = number_at_least(alpha, "alpha", 0.0, strict=True)
    if alpha > 1.0:
        raise ValueError(
            f"alpha must lie in (0, 1], got {alpha!r}: for alpha > 1 the Hölder class "
            "constrains derivatives, and these bumps (1/2 - |u|_inf)_+^alpha have kinks; "
            "this construction covers 0 < alpha <= 1 only"
        )
    return alpha


def _check_p(p: Any, name: str = "p") -> float:
    ok = isinstance(p, int | float | np.integer | np.floating) and not isinstance(p, bool)
    if not ok or math.isnan(float(p)) or float(p) < 1.0:
        raise ValueError(
            f"{name} must be a number in [1, inf] (L^p is a norm for p >= 1; "
            f"float('inf') for the sup norm), got {p!r}"
        )
    return float(p)


@functools.partial(jax.jit, static_argnames=("m", "alpha", "scale"))
def _holder_eval(signs: Array, x: Array, m: int, alpha: float, scale: float) -> Array:
    d = x.shape[1]
    t = x * m
    cell = jnp.clip(jnp.floor(t), 0, m - 1)
    u = t - cell - 0.5  # (x - c) / h for the cell that holds x (or the nearest edge cell)
    bump = jnp.maximum(0.5 - jnp.max(jnp.abs(u), axis=1), 0.0) ** alpha
    strides = jnp.asarray([m ** (d - 1 - k) for k in range(d)], dtype=jnp.int32)
    index = jnp.sum(cell.astype(jnp.int32) * strides[None, :], axis=1)
    h_alpha = (1.0 / m) ** alpha
    return (scale * h_alpha) * signs[index].astype(x.dtype) * bump


@dataclasses.dataclass(frozen=True)
class HolderInstance:
    r"""One member of the Hölder packing: signed bumps on a grid of cubic cells.

    With ``m = cells_per_side``, ``h = 1/m``, cells ``Q_i`` of side ``h`` and centres
    ``c_i`` (``N = m^d`` of them, in C order over the grid), signs ``sigma_i`` in
    ``{-1, +1}``:

    .. math::

        f(x) = s \sum_i \sigma_i\, h^\alpha\, \psi\big((x - c_i)/h\big), \qquad
        \psi(u) = (1/2 - |u|_\infty)_+^\alpha, \qquad s = C\, 2^{\alpha - 1}

    (``C = constant``). The bumps have disjoint supports (the closed cells), so at most
    one term is nonzero at any ``x``; ``f`` vanishes outside ``[0, 1]^d``.

    Facts (tested in ``tests/approximation/test_targets.py``):

    - ``psi`` is ``alpha``-Hölder with constant 1 for the Euclidean norm
      (``t -> t^alpha`` is, on ``t >= 0``, and ``u -> 1/2 - |u|_inf`` is 1-Lipschitz
      since ``|.|_inf <= |.|_2``); inside one cell ``|f(x) - f(y)| <= s |x - y|^alpha``;
      across two cells, with ``d_x`` the sup-norm distance of ``x`` to the boundary of its
      cell, ``|f(x) - f(y)| <= s (d_x^alpha + d_y^alpha) <= s 2^(1-alpha) (d_x + d_y)^alpha
      <= C |x - y|^alpha`` (concavity). So the Hölder seminorm is ``<= C``, with equality
      at the centres of two adjacent cells of opposite signs (``|f(x) - f(y)| = C h^alpha``
      at distance ``h``): :attr:`holder_constant` is tight.
    - ``sup |f| = s (h/2)^alpha = C h^alpha / 2``.
    - ``||f||_p^p = (s h^alpha 2^-alpha)^p d B(d, alpha p + 1)`` for every choice of signs
      (:func:`holder_instance_norm`), since ``|{u : |u|_inf <= r}| = (2r)^d``.

    Attributes
    ----------
    signs : Float[Array, "N"]
        The signs ``sigma_i`` (``+-1``), C order over the grid of cells (data field).
    d, cells_per_side, alpha, constant
        The construction's parameters (static metadata).

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import holder_instance
    >>> f = holder_instance(jax.random.key(0), d=1, cells_per_side=4)  # alpha = 1, C = 1
    >>> f.n_cells, f.signs.shape, f.holder_constant
    (4, (4,), 1.0)
    >>> abs(float(f(jnp.array([[0.125]]))[0]))  # at a cell centre: sup |f| = C h^alpha / 2
    0.125
    """

    signs: Any
    d: int
    cells_per_side: int
    alpha: float
    constant: float

    @property
    def n_cells(self) -> int:
        """``N = cells_per_side ** d``."""
        return self.cells_per_side**self.d

    @property
    def holder_constant(self) -> float:
        """The Hölder seminorm ``sup |f(x) - f(y)| / |x - y|_2^alpha``: exactly ``constant``.

        Attained by the centres of two adjacent cells of opposite signs (every instance
        with both signs present on neighbouring cells); an upper bound otherwise.
        """
        return self.constant

    def __call__(self, x: _Points) -> Float[Array, " n"]:
        """``f(x)`` for ``x`` of shape ``(n, d)``."""
        x = check_points(x, self.d)
        scale = self.constant * 2.0 ** (self.alpha - 1.0)
        return _holder_eval(self.signs, x, self.cells_per_side, self.alpha, scale)


jax.tree_util.register_dataclass(
    HolderInstance,
    data_fields=["signs"],
    meta_fields=["d", "cells_per_side", "alpha", "constant"],
)


@functools.partial(jax.jit, static_argnames=("n", "dtype"))
def _rademacher(key: Any, n: int, dtype: Any) -> Array:
    return jax.random.rademacher(key, (n,)).astype(dtype)


def holder_instance(
    key: Any,
    *,
    d: int,
    cells_per_side: int,
    alpha: float = 1.0,
    constant: float = 1.0,
) -> HolderInstance:
    r"""A random hard instance of the Hölder ball: i.i.d. Rademacher signs on ``m^d`` cells.

    See :class:`HolderInstance` for the formula and its facts: an ``alpha``-Hölder function
    on ``[0, 1]^d`` with seminorm exactly ``constant``, ``sup |f| = constant h^alpha / 2``
    with ``h = 1 / cells_per_side``. Works under ``jax.vmap`` over ``key`` (a batch of
    instances).

    Parameters
    ----------
    key
        JAX PRNG key of the signs.
    d
        Input dimension.
    cells_per_side
        ``m``: the grid has ``N = m^d`` cells of side ``1/m``.
    alpha
        Hölder exponent in ``(0, 1]``.
    constant
        Hölder constant ``C > 0``.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.approximation import holder_instance
    >>> f = holder_instance(jax.random.key(0), d=1, cells_per_side=8)
    >>> f(jax.numpy.linspace(0.0, 1.0, 5)[:, None]).shape
    (5,)
    """
    key = _check_key(key)
    d = positive_int(d, "d")
    m = positive_int(cells_per_side, "cells_per_side")
    alpha = _check_alpha(alpha)
    constant = positive_number(constant, "constant")
    signs = _rademacher(key, m**d, _float_dtype())
    return HolderInstance(signs=signs, d=d, cells_per_side=m, alpha=alpha, constant=constant)


def _holder_args(d: Any, cells_per_side: Any, alpha: Any, constant: Any) -> tuple:
    return (
        positive_int(d, "d"),
        positive_int(cells_per_side, "cells_per_side"),
        _check_alpha(alpha),
        positive_number(constant, "constant"),
    )


def holder_instance_norm(
    *, d: int, cells_per_side: int, alpha: float, constant: float, p: float
) -> float:
    r"""``||f||_{L^p([0,1]^d)}`` of every :class:`HolderInstance` with these parameters.

    .. math::

        \|f\|_p^p = \big(s\, h^\alpha 2^{-\alpha}\big)^p\, d\, B(d, \alpha p + 1),
        \qquad s = C 2^{\alpha - 1},\ h = 1/m,

    (``B`` the Euler beta function; independent of the signs): each of the ``N = h^-d``
    cells contributes ``h^d (s h^alpha)^p \int_{[-1/2,1/2]^d} (1/2 - |u|_inf)^{alpha p}
    du``, and ``|u|_inf`` has density ``d 2^d r^(d-1)`` on ``[0, 1/2]``. For ``p = inf``:
    ``sup |f| = C h^alpha / 2``.

    Examples
    --------
    >>> from jaxorth.approximation import holder_instance_norm
    >>> sup = holder_instance_norm(d=1, cells_per_side=4, alpha=1.0, constant=1.0, p=float("inf"))
    >>> l2 = holder_instance_norm(d=1, cells_per_side=4, alpha=1.0, constant=1.0, p=2.0)
    >>> bool(0 < l2 < sup)
    True
    """
    d, m, alpha, constant = _holder_args(d, cells_per_side, alpha, constant)
    p = _check_p(p)
    peak = constant * 2.0 ** (alpha - 1.0) * (1.0 / m) ** alpha * 2.0**-alpha
    if math.isinf(p):
        return peak
    return peak * (d * _beta(d, alpha * p + 1.0)) ** (1.0 / p)


def holder_instance_distance(first: HolderInstance, second: HolderInstance, *, p: float) -> float:
    r"""``||f_sigma - f_sigma'||_{L^p}`` of two instances with the same parameters (closed form).

    The difference is ``2 s sigma_i h^alpha psi`` on the ``k`` cells where the signs differ
    (``k`` = Hamming distance), zero elsewhere, so for ``p < inf``

    .. math::

        \|f_\sigma - f_{\sigma'}\|_p = 2\, (k / N)^{1/p}\, \|f\|_p

    with ``||f||_p`` from :func:`holder_instance_norm`; for ``p = inf`` it is ``2 sup |f|``
    if ``k > 0`` (else 0). Reads the signs (concrete arrays, not tracers).

    Examples
    --------
    >>> import jax
    >>> from jaxorth.approximation import holder_instance, holder_instance_distance
    >>> f = holder_instance(jax.random.key(0), d=1, cells_per_side=8)
    >>> holder_instance_distance(f, f, p=2.0)
    0.0
    """
    for name, inst in (("first", first), ("second", second)):
        if not isinstance(inst, HolderInstance):
            raise ValueError(f"{name} must be a HolderInstance, got {type(inst).__name__}")
    params = ("d", "cells_per_side", "alpha", "constant")
    if any(getattr(first, a) != getattr(second, a) for a in params):
        raise ValueError(
            "first and second must have the same d, cells_per_side, alpha and constant, got "
            f"{[getattr(first, a) for a in params]} and {[getattr(second, a) for a in params]}"
        )
    p = _check_p(p)
    s1, s2 = np.asarray(first.signs), np.asarray(second.signs)
    if s1.shape != (first.n_cells,) or s2.shape != (first.n_cells,):
        raise ValueError(
            f"first.signs and second.signs must have shape ({first.n_cells},) (one instance, "
            f"not a batch), got {s1.shape} and {s2.shape}"
        )
    k = int(np.count_nonzero(s1 != s2))
    norm = holder_instance_norm(
        d=first.d,
        cells_per_side=first.cells_per_side,
        alpha=first.alpha,
        constant=first.constant,
        p=p,
    )
    if math.isinf(p):
        return 2.0 * norm if k > 0 else 0.0
    return 2.0 * (k / first.n_cells) ** (1.0 / p) * norm


class Packing(NamedTuple):
    """A packing of a function class: ``exp(log_size)`` members, pairwise ``>= separation``.

    ``log_size`` is the natural logarithm of the number of members (nats).

    Examples
    --------
    >>> import math
    >>> from jaxorth.approximation import holder_packing
    >>> packing = holder_packing(d=1, cells_per_side=4, alpha=1.0, constant=1.0, p=float("inf"))
    >>> round(packing.log_size / math.log(2), 6), packing.separation  # 2^4 members, C h^alpha apart
    (4.0, 0.25)
    """

    log_size: float
    separation: float


def holder_packing(
    *, d: int, cells_per_side: int, alpha: float, constant: float, p: float
) -> Packing:
    r"""A packing of the ``alpha``-Hölder ball (constant ``constant``) by :class:`HolderInstance`.

    ``N = cells_per_side^d`` cells. For ``p < inf`` and ``N >= 8``: the Varshamov–Gilbert
    bound in the form of Tsybakov (Introduction to Nonparametric Estimation, 2009,
    Lemma 2.9): there are ``M + 1 >= 2^(N/8)`` sign vectors (one of them may be taken as
    all ``+1``) with pairwise Hamming distance ``>= N/8``; by
    :func:`holder_instance_distance` their instances are pairwise at
    :math:`L^p` distance ``>= 2 (1/8)^(1/p) ||f||_p``. Returned: ``log_size = (N/8) log 2``
    and that separation. For ``p < inf`` and ``N < 8``: all ``2^N`` sign vectors (pairwise
    Hamming ``>= 1``), ``log_size = N log 2``, separation ``2 (1/N)^(1/p) ||f||_p``. For
    ``p = inf``: all ``2^N`` sign vectors, separation ``2 sup |f| = C h^alpha``.

    Achour et al. 2022 combine such a packing with the fat-shattering dimension of the
    network class; the Hölder ball's ``log`` packing number is of order
    ``eps^(-d/alpha)`` (Kolmogorov–Tikhomirov), which this construction attains up to
    constants (``eps ~ h^alpha``, ``log_size ~ h^-d``).

    Examples
    --------
    >>> import math
    >>> from jaxorth.approximation import holder_instance_norm, holder_packing
    >>> packing = holder_packing(d=1, cells_per_side=16, alpha=1.0, constant=1.0, p=2.0)
    >>> round(packing.log_size / math.log(2), 6)  # Varshamov-Gilbert: 2^(N/8) members, N = 16
    2.0
    >>> norm = holder_instance_norm(d=1, cells_per_side=16, alpha=1.0, constant=1.0, p=2.0)
    >>> math.isclose(packing.separation, 2 * (1 / 8) ** (1 / 2) * norm)
    True
    """
    d, m, alpha, constant = _holder_args(d, cells_per_side, alpha, constant)
    p = _check_p(p)
    n = m**d
    norm = holder_instance_norm(d=d, cells_per_side=m, alpha=alpha, constant=constant, p=p)
    if math.isinf(p):
        return Packing(log_size=n * math.log(2.0), separation=2.0 * norm)
    if n < 8:
        return Packing(log_size=n * math.log(2.0), separation=2.0 * (1.0 / n) ** (1.0 / p) * norm)
    return Packing(log_size=n / 8.0 * math.log(2.0), separation=2.0 * 0.125 ** (1.0 / p) * norm)


# ------------------------------------------------------------------------------------
# Monotone instances


@functools.partial(jax.jit, static_argnames=("temperature",))
def _monotone_eval(corners: Array, weights: Array, x: Array, temperature: float) -> Array:
    diff = x[:, None, :] - corners[None, :, :].astype(x.dtype)  # (n, K, d)
    if temperature == 0.0:
        step = (diff >= 0).astype(x.dtype)
    else:
        step = jax.nn.sigmoid(diff / temperature)
    return jnp.sum(weights[None, :].astype(x.dtype) * jnp.prod(step, axis=2), axis=1)


@dataclasses.dataclass(frozen=True)
class MonotoneInstance:
    r"""A mixture of orthant indicators, nondecreasing in every coordinate.

    .. math::

        f(x) = \sum_k w_k \prod_j H\big((x_j - z_{kj}) / T\big)

    with corners ``z_k``, weights ``w_k >= 0`` summing to 1 (so ``0 <= f <= 1``), ``H`` the
    Heaviside step (``H(0) = 1``) when ``T = temperature = 0`` and the logistic sigmoid
    when ``T > 0``. Each factor is nondecreasing in ``x_j``, and the factors are
    nonnegative, so ``f`` is nondecreasing in every coordinate.

    Attributes
    ----------
    corners : Float[Array, "K d"]
        Corners ``z_k`` (data field).
    weights : Float[Array, "K"]
        Weights ``w_k`` (data field).
    d, temperature
        Static metadata.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import monotone_instance
    >>> f = monotone_instance(jax.random.key(0), d=1, corners=3)
    >>> f.corners.shape, round(float(f.weights.sum()), 4)  # weights sum to 1
    ((3, 1), 1.0)
    >>> round(float(f(jnp.ones((1, 1)))[0]), 4)  # every orthant holds (1, ..., 1)
    1.0
    """

    corners: Any
    weights: Any
    d: int
    temperature: float

    @property
    def max_jump(self) -> Any:
        r"""``max_k w_k`` if ``temperature == 0`` (else ``0.0``): the largest jump of ``f``.

        Crossing the face ``{x_j = z_kj}`` of orthant ``k`` away from the other orthants'
        boundaries, ``f`` jumps by ``w_k``; hence every continuous ``g`` has ``ess sup |f -
        g| >= max_jump / 2`` on ``[0, 1]^d`` (near such a face ``f`` takes two values
        ``w_k`` apart on sets of positive measure where ``g`` varies arbitrarily little).
        A batch of instances gives one value per instance.
        """
        if self.temperature > 0:
            return 0.0
        return jnp.max(self.weights, axis=-1)

    def __call__(self, x: _Points) -> Float[Array, " n"]:
        """``f(x)`` for ``x`` of shape ``(n, d)``."""
        x = check_points(x, self.d)
        return _monotone_eval(self.corners, self.weights, x, self.temperature)


jax.tree_util.register_dataclass(
    MonotoneInstance, data_fields=["corners", "weights"], meta_fields=["d", "temperature"]
)


@functools.partial(jax.jit, static_argnames=("k", "d", "dtype"))
def _monotone_draw(key: Any, k: int, d: int, dtype: Any) -> tuple[Array, Array]:
    key_z, key_w = jax.random.split(key)
    z = jax.random.uniform(key_z, (k, d), dtype=dtype)
    # Dirichlet(1, ..., 1) = i.i.d. standard exponentials over their sum
    e = jax.random.exponential(key_w, (k,), dtype=dtype)
    return z, e / jnp.sum(e)


def monotone_instance(
    key: Any, *, d: int, corners: int = 16, temperature: float = 0.0
) -> MonotoneInstance:
    """A random monotone target: ``corners`` orthant indicators with Dirichlet(1) weights.

    Corners ``z_k ~ U[0, 1]^d`` i.i.d., weights ``w ~ Dirichlet(1, ..., 1)`` (uniform on
    the simplex; drawn as i.i.d. standard exponentials divided by their sum); see
    :class:`MonotoneInstance`. ``temperature = 0`` gives a step function with jumps (the
    hard case of the paper's monotone application: no continuous function approximates
    it in sup norm better than ``max_jump / 2``), ``temperature > 0`` a smooth one. Works
    under ``jax.vmap`` over ``key``.

    Parameters
    ----------
    key
        JAX PRNG key of the corners and weights.
    d
        Input dimension.
    corners
        Number ``K`` of orthants.
    temperature
        ``T >= 0``: 0 for Heaviside steps, ``> 0`` for logistic steps of width ``~T``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import monotone_instance
    >>> f = monotone_instance(jax.random.key(0), d=2, corners=4)
    >>> values = f(jnp.array([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]))
    >>> bool((jnp.diff(values) >= 0).all())  # non-decreasing along the diagonal
    True
    """
    key = _check_key(key)
    d = positive_int(d, "d")
    k = positive_int(corners, "corners")
    temperature = number_at_least(temperature, "temperature", 0.0)
    z, w = _monotone_draw(key, k, d, _float_dtype())
    return MonotoneInstance(corners=z, weights=w, d=d, temperature=temperature)


# ------------------------------------------------------------------------------------
# Smooth targets


@functools.partial(jax.jit, static_argnames=("name",))
def _smooth_eval(x: Array, name: str) -> Array:
    if name == "sine":
        return jnp.sin(2.0 * jnp.pi * jnp.mean(x, axis=1))
    if name == "gaussian":
        r2 = jnp.sum((x - 0.5) ** 2, axis=1)
        return jnp.exp(-r2 / (2.0 * _GAUSSIAN_WIDTH**2))
    if name == "product":
        return jnp.prod(jnp.sin(jnp.pi * x), axis=1)
    return jnp.mean(x**2, axis=1)  # "polynomial"


@dataclasses.dataclass(frozen=True)
class SmoothTarget:
    r"""A classical smooth target on ``[0, 1]^d`` (no arrays: a pytree without leaves).

    ``name``:

    - ``"sine"``: ``sin(2 pi mean_j x_j)``; for ``d = 1``, ``||f||_p^p = Gamma((p+1)/2) /
      (sqrt(pi) Gamma(p/2 + 1))``.
    - ``"gaussian"``: ``exp(-|x - 1/2|_2^2 / (2 * 0.15^2))``, a bump of width 0.15 at the
      centre, ``sup = 1`` at ``x = 1/2``.
    - ``"product"``: ``prod_j sin(pi x_j)``; ``||f||_p^p = (Gamma((p+1)/2) / (sqrt(pi)
      Gamma(p/2 + 1)))^d``, ``sup = 1`` at the centre.
    - ``"polynomial"``: ``mean_j x_j^2``; mean ``1/3``, ``||f||_2^2 = 1/(5d) + (d-1)/(9d)``,
      ``sup = 1`` at ``(1, ..., 1)``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import smooth_target
    >>> f = smooth_target("polynomial", d=2)  # mean_j x_j^2
    >>> f(jnp.array([[1.0, 1.0], [0.0, 1.0]])).tolist(), jax.tree_util.tree_leaves(f)
    ([1.0, 0.5], [])
    """

    name: str
    d: int

    def __call__(self, x: _Points) -> Float[Array, " n"]:
        """``f(x)`` for ``x`` of shape ``(n, d)``."""
        x = check_points(x, self.d)
        return _smooth_eval(x, self.name)


jax.tree_util.register_dataclass(SmoothTarget, data_fields=[], meta_fields=["name", "d"])


def smooth_target(name: str, *, d: int) -> SmoothTarget:
    """The smooth target ``name`` (one of :data:`SMOOTH_TARGETS`) on ``[0, 1]^d``.

    See :class:`SmoothTarget` for the formulas and their integrals.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import smooth_target
    >>> f = smooth_target("sine", d=1)  # sin(2 pi mean(x))
    >>> f(jnp.array([[0.25]])).round(4).tolist()
    [1.0]
    """
    name = one_of(name, "name", SMOOTH_TARGETS)
    return SmoothTarget(name=name, d=positive_int(d, "d"))
