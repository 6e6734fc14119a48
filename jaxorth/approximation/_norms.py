r"""Estimates of :math:`L^p([0,1]^d)` norms and distances, for the uniform measure.

Achour, Foucault, Gerchinovitz, Malgouyres (NeurIPS 2022, arXiv 2206.04360) bound from
below ``sup_f inf_g ||f - g||_{L^p(mu)}`` with ``mu`` the uniform probability measure on
``[0, 1]^d``, for every ``p`` in ``[1, inf]``. This module measures such errors for
concrete ``f`` and ``g`` (a target, a trained network):

- :func:`lp_norm`: ``(int |fn|^p dmu)^(1/p)`` by the midpoint rule on a grid (``d <= 3``)
  or by Monte Carlo with a delta-method standard error; ``p = inf`` goes to
  :func:`sup_norm`;
- :func:`sup_norm`: a dense grid (or sample) followed by a derivative-free local search
  from the best points: a lower bound of ``sup |fn|`` that is never below the grid's
  maximum;
- :func:`lp_distance`, :func:`lp_errors`: the same for ``f - g``, at one or several ``p``.

``fn`` is any JAX-traceable callable mapping points ``(n, d)`` to values ``(n,)``. The
points are generated and evaluated in chunks of ``chunk`` points inside one compiled
``lax.scan`` (so ``10^6`` points never materialise one ``(10^6, width)`` activation), and
the compiled program is reused where that is safe: the arrays of a pytree ``fn`` (a
target, an NNX module, a dataclass registered as a pytree) are arguments of the program,
not constants, so a new instance with the same structure, or the same network after a
training step, is evaluated without recompiling. A closure (``lambda x: net(x) -
f(x)``) may read state that changes between calls, so it is traced and compiled afresh
at every call (:func:`lp_distance` of two pytrees stays a pytree).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxorth._checks import int_at_least, one_of, positive_int, positive_number

from ._targets import _check_key, _check_p, _float_dtype

__all__ = ["ErrorEstimate", "lp_distance", "lp_errors", "lp_norm", "sup_norm"]

_Fn = Callable[[Any], Any]

_GRID_DEFAULT = {1: 4096, 2: 256, 3: 64}
_SUP_GRID_DEFAULT = {1: 2048, 2: 128}
_SUP_SAMPLES_DEFAULT = 2**14
_MC_DEFAULT = 2**16
_MAX_POINTS = 2**31 - 1
#: the local search's radius shrinks geometrically by this factor over its steps
_SHRINK = 1e-3


class ErrorEstimate(NamedTuple):
    """An estimate of a norm or an error.

    ``value``: the estimate; ``stderr``: its standard error (Monte Carlo only, else
    ``nan``); ``p``: the exponent (``inf`` for the sup norm); ``method``: ``"grid"``,
    ``"monte_carlo"`` or ``"sup_search"``; ``n_points``: evaluations of the function.

    Examples
    --------
    >>> import math
    >>> from jaxorth.approximation import lp_norm
    >>> estimate = lp_norm(lambda x: x[:, 0], d=1, p=2.0, points=1000)  # ||x||_2 = 1/sqrt(3)
    >>> round(float(estimate.value), 4), estimate.method, estimate.n_points
    (0.5774, 'grid', 1000)
    >>> math.isnan(estimate.stderr)  # a standard error for Monte Carlo only
    True
    """

    value: float
    stderr: float
    p: float
    method: str
    n_points: int


# ------------------------------------------------------------------------------------
# fn as (arrays, static): one compiled program per structure, not per instance


_VALUES = (bool, int, float, complex, str, bytes, np.generic)


def _immutable(leaf: Any) -> bool:
    """Whether a non-array leaf is safe to bake into a cached program.

    Numbers and strings are; so is a plain function without a closure (a module-level
    ``def``). A closure or any other callable object may read state that changes between
    calls (a network trained in place), so it is traced afresh at every call.
    """
    if isinstance(leaf, _VALUES):
        return True
    if isinstance(leaf, types.BuiltinFunctionType):
        return True
    return isinstance(leaf, types.FunctionType) and not leaf.__closure__


def _partition(fn: Any) -> tuple[list, Any]:
    """Split ``fn`` into its array leaves (traced) and a hashable static rest (or ``None``).

    ``None`` when some non-array leaf is not :func:`_immutable` (or not hashable): then
    ``fn`` is compiled as a closure, afresh at each call.
    """
    leaves, treedef = jax.tree_util.tree_flatten(fn)
    is_array = tuple(isinstance(leaf, jax.Array | np.ndarray) for leaf in leaves)
    dynamic = [leaf for leaf, a in zip(leaves, is_array) if a]
    others = tuple(leaf for leaf, a in zip(leaves, is_array) if not a)
    if not all(_immutable(leaf) for leaf in others):
        return [], None
    static = (treedef, is_array, others)
    try:
        hash(static)
    except TypeError:
        return [], None
    return dynamic, static


def _combine(dynamic: list, static: Any) -> Any:
    treedef, is_array, others = static
    dyn, oth = iter(dynamic), iter(others)
    return jax.tree_util.tree_unflatten(treedef, [next(dyn) if a else next(oth) for a in is_array])


def _run(kernel: Callable, fn: Any, *args: Any, **static: Any) -> Any:
    """``kernel(fn, *args, **static)`` compiled, with ``fn``'s arrays as arguments if possible."""
    dynamic, structure = _partition(fn)
    if structure is not None:
        return _compiled(kernel, structure, **static)(dynamic, *args)
    # a closure or an unhashable callable: compiled afresh (it may read mutable state)
    return jax.jit(functools.partial(kernel, fn, **static))(*args)


@functools.lru_cache(maxsize=256)
def _compiled_cache(kernel: Callable, structure: Any, static_items: tuple) -> Callable:
    static = dict(static_items)

    def run(dynamic, *args):
        return kernel(_combine(dynamic, structure), *args, **static)

    return jax.jit(run)


def _compiled(kernel: Callable, structure: Any, **static: Any) -> Callable:
    return _compiled_cache(kernel, structure, tuple(sorted(static.items())))


# ------------------------------------------------------------------------------------
# points of one chunk


def _grid_chunk(i: Any, *, d: int, m: int, chunk: int, lo: float, step: float) -> Any:
    """Chunk ``i`` of the C-ordered grid ``lo + j * step``, ``j`` in ``{0..m-1}^d``."""
    index = i * chunk + jnp.arange(chunk, dtype=jnp.int32)
    cols = [(index // (m ** (d - 1 - k))) % m for k in range(d)]
    j = jnp.stack(cols, axis=1).astype(_float_dtype())
    return lo + j * step


def _sample_chunk(i: Any, key: Any, *, d: int, chunk: int) -> Any:
    return jax.random.uniform(jax.random.fold_in(key, i), (chunk, d), dtype=_float_dtype())


def _values(fn: Any, x: Any, name: str = "fn") -> Any:
    out = jax.eval_shape(fn, x)
    if getattr(out, "shape", None) != (x.shape[0],):
        raise ValueError(
            f"{name} must map points of shape (n, d) to values of shape (n,); for points of "
            f"shape {x.shape} it returned {getattr(out, 'shape', type(out).__name__)}"
        )
    if not jnp.issubdtype(out.dtype, jnp.floating) and not jnp.issubdtype(out.dtype, jnp.integer):
        raise ValueError(f"{name} must return real values, got dtype {out.dtype}")
    y = fn(x)
    return y.astype(jnp.promote_types(y.dtype, jnp.float32))


# ------------------------------------------------------------------------------------
# kernels


def _scan(body: Callable, init: Any, length: int) -> Any:
    """``lax.scan`` over ``arange(length)``; one chunk is a plain call (cheaper to compile)."""
    if length == 1:
        return body(init, jnp.asarray(0, jnp.int32))
    return jax.lax.scan(body, init, jnp.arange(length, dtype=jnp.int32))


def _moments_kernel(fn, key, p, *, kind, d, n, m, chunk):
    """Count, mean and centred sum of squares of ``|fn|^p`` over the points.

    Chunk statistics are merged with the pairwise update of Chan, Golub and LeVeque
    (1979), which avoids the cancellation of ``E[y^2] - E[y]^2`` in float32. ``p`` is a
    traced scalar: one compiled program serves every exponent.
    """
    n_chunks = -(-n // chunk)

    def points(i):
        if kind == "grid":
            return _grid_chunk(i, d=d, m=m, chunk=chunk, lo=0.5 / m, step=1.0 / m)
        return _sample_chunk(i, key, d=d, chunk=chunk)

    def body(carry, i):
        count, mean, m2 = carry
        valid = i * chunk + jnp.arange(chunk) < n
        y = jnp.abs(_values(fn, points(i))) ** p
        c = jnp.sum(valid).astype(mean.dtype)
        mc = jnp.sum(jnp.where(valid, y, 0.0)) / c
        m2c = jnp.sum(jnp.where(valid, (y - mc) ** 2, 0.0))
        total = count + c
        delta = mc - mean
        mean = mean + delta * (c / total)
        m2 = m2 + m2c + delta**2 * (count * c / total)
        return (total, mean, m2), None

    probe = jax.eval_shape(lambda: _values(fn, points(0)))
    zero = jnp.zeros((), probe.dtype)
    (count, mean, m2), _ = _scan(body, (zero, zero, zero), n_chunks)
    return count, mean, m2


def _sup_kernel(fn, key, *, kind, d, n, m, chunk, starts, steps, radius):
    """Best ``starts`` points of a grid / sample, then a random local search from each."""
    n_chunks = -(-n // chunk)
    key_points, key_search = jax.random.split(key)

    def points(i):
        if kind == "grid":
            return _grid_chunk(i, d=d, m=m, chunk=chunk, lo=0.0, step=1.0 / (m - 1))
        return _sample_chunk(i, key_points, d=d, chunk=chunk)

    def scan_points(carry, i):
        best_v, best_x = carry
        x = points(i)
        valid = i * chunk + jnp.arange(chunk) < n
        v = jnp.where(valid, jnp.abs(_values(fn, x)), -jnp.inf)
        top_v, top_i = jax.lax.top_k(v, starts)
        all_v = jnp.concatenate([best_v, top_v])
        all_x = jnp.concatenate([best_x, x[top_i]])
        keep_v, keep_i = jax.lax.top_k(all_v, starts)
        return (keep_v, all_x[keep_i]), None

    probe = jax.eval_shape(lambda: _values(fn, points(0)))
    init = (jnp.full((starts,), -jnp.inf, probe.dtype), jnp.zeros((starts, d), _float_dtype()))
    (v0, x0), _ = _scan(scan_points, init, n_chunks)
    grid_max = v0[0]

    def search(carry, t):
        v, x = carry
        r = radius * _SHRINK ** (t.astype(jnp.float32) / max(steps - 1, 1))
        noise = jax.random.normal(jax.random.fold_in(key_search, t), x.shape, x.dtype)
        x_new = jnp.clip(x + r.astype(x.dtype) * noise, 0.0, 1.0)
        v_new = jnp.abs(_values(fn, x_new))
        better = v_new > v
        return (jnp.where(better, v_new, v), jnp.where(better[:, None], x_new, x)), None

    (v, x), _ = jax.lax.scan(search, (v0, x0), jnp.arange(steps))
    best = jnp.argmax(v)
    return jnp.maximum(v[best], grid_max), x[best], grid_max


# ------------------------------------------------------------------------------------
# public functions


def _check_fn(fn: Any, name: str = "fn") -> None:
    if not callable(fn):
        raise ValueError(f"{name} must be a callable mapping points (n, d) to values (n,)")


def _check_points_count(points: Any, name: str, minimum: int = 1) -> int:
    return int_at_least(points, name, minimum)


def _total(m: int, d: int, name: str) -> int:
    n = m**d
    if n > _MAX_POINTS:
        raise ValueError(f"{name}**d = {m}**{d} = {n} points is more than 2**31 - 1")
    return n


def lp_norm(
    fn: _Fn,
    *,
    d: int,
    p: float,
    method: str = "auto",
    points: int | None = None,
    key: Any = None,
    chunk: int = 65536,
) -> ErrorEstimate:
    r"""An estimate of :math:`\|fn\|_{L^p([0,1]^d)} = (\int |fn|^p\, dx)^{1/p}`.

    Parameters
    ----------
    fn
        JAX-traceable callable, points ``Float[Array, "n d"]`` to values
        ``Float[Array, "n"]`` (a target, a network, a difference).
    d
        Dimension of the cube.
    p
        Exponent in ``[1, inf]``; ``float('inf')`` delegates to :func:`sup_norm` (which
        needs ``key``; ``method`` is then ignored, ``points`` passed on).
    method
        ``"grid"``: the midpoint rule on ``points`` nodes per axis (default 4096 for
        ``d = 1``, 256 for ``d = 2``, 64 for ``d = 3``; ``d <= 3`` only), error
        ``O(points^-2)`` for smooth ``|fn|^p``; ``"monte_carlo"``: ``points`` uniform
        samples (default ``2**16``) drawn from ``key``, ``value = M^(1/p)`` with ``M`` the
        sample mean of ``|fn|^p``, and the delta-method standard error ``(1/p) M^(1/p-1)
        sd(|fn|^p) / sqrt(points)``; ``"auto"``: grid if ``d <= 2``, else Monte Carlo.
    points
        Nodes per axis (grid) or samples (Monte Carlo).
    key
        JAX PRNG key, required by Monte Carlo and by ``p = inf``.
    chunk
        Points evaluated at once.

    Returns
    -------
    ErrorEstimate
        ``stderr`` is ``nan`` for the grid (its error is deterministic, not random).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import lp_norm
    >>> estimate = lp_norm(lambda x: x[:, 0], d=1, p=2.0, points=1000)  # 1/sqrt(3)
    >>> round(float(estimate.value), 4)
    0.5774
    """
    _check_fn(fn)
    d = positive_int(d, "d")
    p = _check_p(p)
    method = one_of(method, "method", ("auto", "grid", "monte_carlo"))
    chunk = positive_int(chunk, "chunk")
    if math.isinf(p):
        if key is None:
            raise ValueError("key is required for p = inf (the sup norm's local search)")
        return sup_norm(fn, d=d, key=key, points=points, chunk=chunk)
    if method == "auto":
        method = "grid" if d <= 2 else "monte_carlo"
    if method == "grid":
        if d > 3:
            raise ValueError(
                f"method='grid' is for d <= 3 (points**d nodes), got d = {d}; use "
                "method='monte_carlo'"
            )
        m = _GRID_DEFAULT[d] if points is None else _check_points_count(points, "points")
        n = _total(m, d, "points")
        key = None
    else:
        if key is None:
            raise ValueError("key is required for method='monte_carlo' (the random samples)")
        key = _check_key(key)
        n = _MC_DEFAULT if points is None else _check_points_count(points, "points", 2)
        m = 0
    chunk = min(chunk, n)
    count, mean, m2 = _run(_moments_kernel, fn, key, p, kind=method, d=d, n=n, m=m, chunk=chunk)
    mean = max(float(mean), 0.0)
    value = mean ** (1.0 / p)
    stderr = math.nan
    if method == "monte_carlo":
        sd = math.sqrt(max(float(m2), 0.0) / (n - 1))
        stderr = 0.0 if mean == 0.0 else (1.0 / p) * mean ** (1.0 / p - 1.0) * sd / math.sqrt(n)
    return ErrorEstimate(value=value, stderr=stderr, p=p, method=method, n_points=n)


def sup_norm(
    fn: _Fn,
    *,
    d: int,
    key: Any,
    points: int | None = None,
    starts: int = 16,
    steps: int = 64,
    radius: float | None = None,
    chunk: int = 65536,
) -> ErrorEstimate:
    r"""An estimate (from below) of ``sup_{[0,1]^d} |fn|``: dense points, then local search.

    1. ``|fn|`` on a dense set: for ``d <= 2`` the grid ``{0, 1/(M-1), ..., 1}^d`` with
       ``M = points`` nodes per axis (default 2048 for ``d = 1``, 128 for ``d = 2``), for
       ``d >= 3`` ``points`` uniform samples from ``key`` (default ``2**14``);
    2. from the ``starts`` best points, ``steps`` rounds of a derivative-free search
       (vectorised over the starts, one compiled ``lax.scan``): a Gaussian perturbation of
       scale ``r_t`` (shrinking geometrically from ``radius`` to ``radius * 1e-3``),
       clipped to the cube, kept when ``|fn|`` grows.

    ``value`` is the largest ``|fn|`` seen: a lower bound of the true sup, and never
    below the maximum over the dense points. ``radius`` defaults to the grid spacing
    ``1/(M-1)`` (``points^(-1/d)`` for samples). ``n_points`` counts every evaluation.

    Every ``|fn(x)|`` seen is a value of ``|fn|``, so the estimate can only err on the low
    side; for ``fn`` of Lebesgue-null peaks (a jump exactly at one point) it estimates
    the ess sup from above only in the limit of that peak's measure.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.approximation import sup_norm
    >>> estimate = sup_norm(lambda x: x[:, 0] * (1 - x[:, 0]), d=1, key=jax.random.key(0))
    >>> round(float(estimate.value), 4), estimate.method  # the maximum 1/4 at x = 1/2
    (0.25, 'sup_search')
    """
    _check_fn(fn)
    d = positive_int(d, "d")
    if key is None:
        raise ValueError("key is required by sup_norm (samples and local search)")
    key = _check_key(key)
    starts = positive_int(starts, "starts")
    steps = int_at_least(steps, "steps", 0)
    chunk = positive_int(chunk, "chunk")
    if d <= 2:
        kind = "grid"
        m = _SUP_GRID_DEFAULT[d] if points is None else _check_points_count(points, "points", 2)
        n = _total(m, d, "points")
        default_radius = 1.0 / (m - 1)
    else:
        kind = "samples"
        n = _SUP_SAMPLES_DEFAULT if points is None else _check_points_count(points, "points")
        m = 0
        default_radius = n ** (-1.0 / d)
    radius = default_radius if radius is None else positive_number(radius, "radius")
    starts = min(starts, n)
    chunk = min(max(chunk, starts), n)
    best, _, _ = _run(
        _sup_kernel,
        fn,
        key,
        kind=kind,
        d=d,
        n=n,
        m=m,
        chunk=chunk,
        starts=starts,
        steps=steps,
        radius=radius,
    )
    return ErrorEstimate(
        value=float(best),
        stderr=math.nan,
        p=math.inf,
        method="sup_search",
        n_points=n + starts * steps,
    )


@dataclasses.dataclass(frozen=True)
class _Difference:
    """``x -> f(x) - g(x)`` as a pytree (so that the compiled program is reused)."""

    f: Any
    g: Any

    def __call__(self, x: Any) -> Any:
        return self.f(x) - self.g(x)


jax.tree_util.register_dataclass(_Difference, data_fields=["f", "g"], meta_fields=[])


def lp_distance(f: _Fn, g: _Fn, **options: Any) -> ErrorEstimate:
    """:func:`lp_norm` of ``x -> f(x) - g(x)``; ``options`` as for :func:`lp_norm`.

    Examples
    --------
    >>> from jaxorth.approximation import lp_distance
    >>> estimate = lp_distance(lambda x: x[:, 0], lambda x: x[:, 0] ** 2, d=1, p=2.0, points=1000)
    >>> round(float(estimate.value), 4), round((1 / 30) ** 0.5, 4)  # ||x - x^2||_2 = 1/sqrt(30)
    (0.1826, 0.1826)
    """
    _check_fn(f, "f")
    _check_fn(g, "g")
    return lp_norm(_Difference(f, g), **options)


_SUP_OPTIONS = ("points", "starts", "steps", "radius", "chunk")
_LP_OPTIONS = ("points", "method", "chunk")


def lp_errors(
    f: _Fn,
    g: _Fn,
    *,
    d: int,
    ps: Any = (1.0, 2.0, math.inf),
    key: Any,
    **options: Any,
) -> dict[float, ErrorEstimate]:
    """``{p: ||f - g||_{L^p}}`` for every ``p`` in ``ps`` (one estimate each, same ``key``).

    ``options``: ``method``, ``points`` and ``chunk`` go to :func:`lp_norm` for finite
    ``p``; ``points``, ``starts``, ``steps``, ``radius`` and ``chunk`` to :func:`sup_norm`
    for ``p = inf``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import lp_errors
    >>> errors = lp_errors(lambda x: x[:, 0], lambda x: jnp.zeros(x.shape[0]), d=1,
    ...                    ps=(1.0, 2.0), key=jax.random.key(0), points=1000)
    >>> {p: round(float(e.value), 4) for p, e in errors.items()}  # 1/2, 1/sqrt(3)
    {1.0: 0.5, 2.0: 0.5774}
    """
    _check_fn(f, "f")
    _check_fn(g, "g")
    unknown = sorted(set(options) - set(_SUP_OPTIONS) - set(_LP_OPTIONS))
    if unknown:
        allowed = ", ".join(sorted(set(_SUP_OPTIONS) | set(_LP_OPTIONS)))
        raise ValueError(f"unknown options {unknown} for lp_errors (allowed: {allowed})")
    if isinstance(ps, int | float | np.integer | np.floating):
        ps = (ps,)
    ps = [_check_p(p, "ps entries") for p in ps]
    if not ps:
        raise ValueError("ps must name at least one exponent")
    diff = _Difference(f, g)
    out = {}
    for p in ps:
        if math.isinf(p):
            kw = {k: v for k, v in options.items() if k in _SUP_OPTIONS}
            out[p] = sup_norm(diff, d=d, key=key, **kw)
        else:
            kw = {k: v for k, v in options.items() if k in _LP_OPTIONS}
            out[p] = lp_norm(diff, d=d, p=p, key=key, **kw)
    return out
