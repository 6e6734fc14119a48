r"""Certified overestimators: the asymmetric loss, the output shift and the whole method.

Gauffriau, Malgouyres & Ducoffe, "Overestimation learning with guarantees" (AAAI-21
SafeAI workshop, arXiv 2101.11717). For ``f`` monotone on a box and a partition of the
box into cells ``[l_i, u_i]`` (:func:`~jaxorth.overestimate.majoring_points`), every
``x`` of cell ``i`` has ``f(x) <= f(u_i)``. A surrogate ``g`` is then certified by one
number per cell, a lower bound ``L_i <= min_{x in cell i} g(x)``:

.. math::

    c = \max_i \big(f(u_i) - L_i\big)_+ \quad\Longrightarrow\quad
    g(x) + c \ge L_i + c \ge f(u_i) \ge f(x) \ \text{on cell } i,

hence ``g + c >= f`` on the whole box. Two routes give ``L_i``:

- ``"monotone"`` (the paper's): ``g`` is a :class:`~jaxorth.overestimate.MonotoneMLP`,
  so ``L_i = g(l_i)`` exactly, and only the pruned majoring points ``(l_i, f(u_i))``
  are needed;
- ``"ibp"`` / ``"crown"`` (what a decomon / auto_LiRPA user would do): ``g`` is an
  unconstrained :class:`~jaxorth.overestimate.MLP` and ``L_i`` is its certified lower
  bound over the cell (:func:`~jaxorth.overestimate.interval_bounds`,
  :func:`~jaxorth.overestimate.crown_bounds`).

The shift is computed in float64 with a small safety margin (``rel_margin``) that covers
rounding differences between the evaluation at the points and elsewhere.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jaxtyping import Array, ArrayLike, Float

from jaxorth._checks import finite, number_at_least, one_of, positive_int
from jaxorth._precision import float64

from ._bounds import crown_bounds, interval_bounds
from ._majoring import MajoringPoints, check_box, majoring_points
from ._networks import MLP, MonotoneMLP, apply_layers

__all__ = [
    "Certificate",
    "Overestimator",
    "Route",
    "asymmetric_loss",
    "certify",
    "certify_bounds",
    "certified_surrogate",
    "fit_full_batch",
    "overestimate",
    "overestimation_loss",
    "to_unit_box",
]

LossFn = Callable[[nnx.Module, Any], tuple[jax.Array, Mapping[str, jax.Array]]]
#: ``train(model, loss_fn, (x, y)) -> model``: how :func:`overestimate` trains.
Trainer = Callable[[nnx.Module, LossFn, tuple[np.ndarray, np.ndarray]], nnx.Module]


class Route(enum.StrEnum):
    """Where the per-cell lower bound of the surrogate comes from.

    Examples
    --------
    >>> from jaxorth.overestimate import Route
    >>> [route.value for route in Route], Route("ibp") is Route.ibp
    (['monotone', 'ibp', 'crown'], True)
    """

    monotone = "monotone"
    ibp = "ibp"
    crown = "crown"


def asymmetric_loss(
    pred: Float[Array, " n"], target: Float[Array, " n"], *, under_weight: float = 10.0
) -> Float[Array, ""]:
    r"""``mean(under_weight * (t - p)_+^2 + (p - t)_+^2)``: underestimation costs more.

    The training loss of the paper's Sec. 3: it pulls the surrogate ``p`` towards the
    majoring values ``t`` from above. ``under_weight > 1`` makes a point below its
    target ``under_weight`` times as costly as one above it, which keeps the final
    shift (the largest underestimation) small; ``under_weight = 1`` is the plain squared
    error.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.overestimate import asymmetric_loss
    >>> t = jnp.zeros(1)
    >>> float(asymmetric_loss(jnp.array([-1.0]), t)), float(asymmetric_loss(jnp.array([1.0]), t))
    (10.0, 1.0)
    """
    under = jax.nn.relu(target - pred)
    over = jax.nn.relu(pred - target)
    return jnp.mean(under_weight * under**2 + over**2)


def overestimation_loss(under_weight: float = 10.0) -> LossFn:
    """``loss_fn(model, (x, y)) -> (loss, metrics)`` of :func:`asymmetric_loss`.

    In the form :func:`jaxorth.train.fit` takes; the metrics are the mean under- and
    overestimation on the batch.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.overestimate import overestimation_loss
    >>> class Identity(nnx.Module):
    ...     def __call__(self, x):
    ...         return x[:, 0]
    >>> loss_fn = overestimation_loss(under_weight=10.0)
    >>> x, y = jnp.array([[0.0], [1.0]]), jnp.array([1.0, 0.0])
    >>> loss, metrics = loss_fn(Identity(), (x, y))  # under by 1, then over by 1
    >>> float(loss), {name: float(v) for name, v in sorted(metrics.items())}  # (10 + 1) / 2
    (5.5, {'over': 0.5, 'under': 0.5})
    """
    number_at_least(under_weight, "under_weight", 0.0, strict=True)

    def loss_fn(model: nnx.Module, batch: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        x, y = batch
        pred = model(x)
        loss = asymmetric_loss(pred, y, under_weight=under_weight)
        return loss, {
            "under": jnp.mean(jax.nn.relu(y - pred)),
            "over": jnp.mean(jax.nn.relu(pred - y)),
        }

    return loss_fn


def fit_full_batch(
    model: nnx.Module,
    loss_fn: LossFn,
    data: tuple[Any, Any],
    *,
    steps: int = 2000,
    learning_rate: float = 1e-2,
) -> nnx.Module:
    """Train ``model`` in place on the whole of ``data`` with Adam (cosine decay).

    The default trainer of :func:`overestimate`: one jitted ``lax.scan`` over ``steps``
    full-batch steps, nothing written to disk. For checkpoints, resume, a NaN guard,
    minibatches and tracking, pass a trainer built on :func:`jaxorth.train.fit`
    instead (the ``overestimation`` study does).

    Raises
    ------
    FloatingPointError
        If the loss became non-finite (the model is left unchanged).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.overestimate import MLP, fit_full_batch, overestimation_loss
    >>> x = jnp.linspace(-1.0, 1.0, 16)[:, None]
    >>> data, loss_fn = (x, 2.0 * x[:, 0]), overestimation_loss()
    >>> model = MLP(1, [8], rngs=nnx.Rngs(0))
    >>> before = float(loss_fn(model, data)[0])
    >>> model = fit_full_batch(model, loss_fn, data, steps=50, learning_rate=0.05)
    >>> bool(float(loss_fn(model, data)[0]) < before / 4)
    True
    """
    steps = positive_int(steps, "steps")
    number_at_least(learning_rate, "learning_rate", 0.0, strict=True)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(optax.cosine_decay_schedule(learning_rate, steps))
    batch = jax.tree.map(jnp.asarray, data)

    @jax.jit
    def run(params: Any, batch: Any) -> tuple[Any, jax.Array]:
        # the data is an argument, not a closed-over constant folded into the program
        def step(carry: Any, _: Any) -> tuple[Any, jax.Array]:
            p, opt_state = carry

            def loss(p: Any) -> jax.Array:
                return loss_fn(nnx.merge(graphdef, p, rest), batch)[0]

            value, grads = jax.value_and_grad(loss)(p)
            updates, opt_state = tx.update(grads, opt_state, p)
            return (optax.apply_updates(p, updates), opt_state), value

        (p, _), losses = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
        return p, losses

    new_params, losses = run(params, batch)
    losses = np.asarray(losses)
    if not np.isfinite(losses).all():
        first = int(np.flatnonzero(~np.isfinite(losses))[0])
        raise FloatingPointError(
            f"the training loss became non-finite at step {first}; lower learning_rate "
            f"(got {learning_rate})"
        )
    nnx.update(model, new_params)
    return model


class Certificate(NamedTuple):
    """The output shift that makes a surrogate an overestimator, and how it was found.

    Attributes
    ----------
    shift : float
        ``c = max_i (f(u_i) - L_i)_+ + margin``: ``g + c >= f`` on the box.
    margin : float
        The safety margin included in ``shift`` (``rel_margin * (1 + max_i |f(u_i)|)``).
    violations : int
        Cells (or points) where the unshifted bound was below the majoring value.
    max_violation : float
        ``max_i (f(u_i) - L_i)_+``, the shift without margin.
    min_slack : float
        ``min_i (L_i + c - f(u_i))`` in float64: ``>= 0`` (checked).
    n : int
        Number of cells or points certified.

    Examples
    --------
    >>> from jaxorth.overestimate import certify_bounds
    >>> cert = certify_bounds([0.5, 1.0], [0.7, 0.9], rel_margin=0.0)  # bounds L_i, values f(u_i)
    >>> cert.violations, cert.n, round(cert.max_violation, 4), round(cert.min_slack, 4)
    (1, 2, 0.2, 0.0)
    """

    shift: float
    margin: float
    violations: int
    max_violation: float
    min_slack: float
    n: int


def certify_bounds(
    lower_bounds: ArrayLike | Sequence[float],
    values: ArrayLike | Sequence[float],
    *,
    rel_margin: float = 1e-9,
) -> Certificate:
    r"""The shift from per-cell lower bounds ``L_i`` of ``g`` and majoring values.

    ``c = max_i (values_i - L_i)_+ + rel_margin (1 + max_i |values_i|)``, in float64
    (Gauffriau et al. 2021, Sec. 3: the output shift that turns ``g(l_i) >= f(u_i)``
    from approximately true into exactly true). ``lower_bounds`` and ``values`` are
    ``(n,)``.

    Examples
    --------
    >>> from jaxorth.overestimate import certify_bounds
    >>> cert = certify_bounds([0.5, 1.0], [0.7, 0.9], rel_margin=0.0)  # the shift max (f(u) - L)_+
    >>> round(cert.shift, 4)
    0.2
    """
    number_at_least(rel_margin, "rel_margin", 0.0)
    low = np.asarray(lower_bounds, dtype=np.float64).reshape(-1)
    val = np.asarray(values, dtype=np.float64).reshape(-1)
    if low.shape != val.shape or low.size == 0:
        raise ValueError(
            f"lower_bounds and values must be non-empty and of the same length, got "
            f"{low.size} and {val.size}"
        )
    finite(low, "lower_bounds")
    finite(val, "values")
    gap = val - low
    max_violation = float(max(gap.max(), 0.0))
    margin = float(rel_margin * (1.0 + np.abs(val).max()))
    shift = max_violation + margin
    slack = float((low + shift - val).min())
    if slack < 0:  # cannot happen unless rel_margin = 0 and rounding bites
        shift -= slack
        slack = float((low + shift - val).min())
    return Certificate(
        shift=shift,
        margin=margin,
        violations=int((gap > 0).sum()),
        max_violation=max_violation,
        min_slack=slack,
        n=int(low.size),
    )


def certify(
    g: Callable[[np.ndarray], Any],
    points: MajoringPoints | tuple[ArrayLike, ArrayLike | Sequence[float]],
    *,
    rel_margin: float = 1e-9,
) -> Certificate:
    """The shift ``c`` making a **monotone** ``g`` satisfy ``g(l_i) + c >= f(u_i)``.

    ``points`` is a :class:`MajoringPoints` (its pruned ``points`` and ``values``) or a
    pair ``(x, y)`` of majoring points ``(m, d)`` and values ``(m,)``; ``g`` is
    evaluated at ``x`` in float64 (numpy float64 input, under :func:`jaxorth.float64`).
    If ``g`` is non-decreasing in the orientation the points were built with, then
    ``g + c >= f`` on the whole box (see the module docstring). For an unconstrained
    ``g`` use per-cell bounds and :func:`certify_bounds`.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.overestimate import certify
    >>> x, y = np.array([[0.0], [0.5]]), np.array([0.6, 1.0])  # majoring points and values
    >>> cert = certify(lambda z: z[:, 0], (x, y), rel_margin=0.0)  # g(x) = x, non-decreasing
    >>> round(cert.shift, 4)  # max(0.6 - 0, 1.0 - 0.5)
    0.6
    """
    if isinstance(points, MajoringPoints):
        x, y = points.points, points.values
    else:
        x, y = points
    x = np.asarray(x, dtype=np.float64)
    with float64():
        low = np.asarray(g(x), dtype=np.float64)
    return certify_bounds(low, y, rel_margin=rel_margin)


_apply_jit = jax.jit(apply_layers, static_argnames=("activation",))


def _padded(n: int) -> int:
    """``n`` rounded up to a power of two (at least 64): few shapes, few compiles."""
    return max(64, 1 << (n - 1).bit_length())


def _evaluate64(model: nnx.Module, z: np.ndarray) -> np.ndarray:
    """``h(z)`` in float64 for ``z`` of shape ``(B, d)``, jitted on padded batches."""
    n = len(z)
    if n == 0:
        return np.zeros((0,), np.float64)
    with float64():
        zp = jnp.asarray(np.pad(np.asarray(z, np.float64), ((0, _padded(n) - n), (0, 0)), "edge"))
        h = _apply_jit(_layers64(model), zp, activation=str(model.activation))
        return np.asarray(h, np.float64)[:n]


def _layers64(model: nnx.Module) -> list[tuple[Array, Array]]:
    """The model's applied layers cast to float64 (call under :func:`float64`)."""
    return [
        (jnp.asarray(np.asarray(w), jnp.float64), jnp.asarray(np.asarray(b), jnp.float64))
        for w, b in model.layers()
    ]


@dataclasses.dataclass
class Overestimator:
    r"""A surrogate certified to overestimate ``f`` on a box: ``g(x) >= f(x)``.

    ``g(x) = sigma * h(z(x)) + mu + shift``, with ``z(x) = (2x - lower - upper) /
    (upper - lower)`` (the box mapped to ``[-1, 1]^d``, increasing in each coordinate),
    ``h`` the trained network and ``(mu, sigma > 0)`` the normalisation of the
    majoring values; both affine maps are increasing, so a monotone ``h`` gives a
    monotone ``g``. Evaluated in float64 (the precision of the certificate).

    Attributes
    ----------
    model : nnx.Module
        ``h``: a :class:`MonotoneMLP` (route ``"monotone"``) or an :class:`MLP`.
    route : Route
        How the per-cell lower bounds were obtained.
    lower, upper : np.ndarray
        The box, ``(d,)``.
    points : MajoringPoints
        The cells and majoring points of ``f``.
    shift : float
        The certified output shift (``certificate.shift``).
    certificate : Certificate
        How the shift was found.
    mu, sigma : float
        Output normalisation.
    seconds : dict[str, float]
        Wall-clock time of ``majoring``, ``training`` and ``certify``.

    Examples
    --------
    >>> import numpy as np
    >>> from flax import nnx
    >>> from jaxorth.overestimate import MonotoneMLP, certified_surrogate, majoring_points
    >>> f = lambda x: x[:, 0] ** 2  # noqa: E731
    >>> points = majoring_points(f, [0.0], [1.0], delta=0.25, max_depth=4)
    >>> g = certified_surrogate(MonotoneMLP(1, [4], directions=[1], rngs=nnx.Rngs(0)), points)
    >>> x = np.linspace(0.0, 1.0, 101)[:, None]
    >>> g.route, bool((g(x) >= f(x)).all())  # an overestimator even untrained
    (<Route.monotone: 'monotone'>, True)
    """

    model: nnx.Module
    route: Route
    lower: np.ndarray
    upper: np.ndarray
    points: MajoringPoints
    certificate: Certificate
    mu: float
    sigma: float
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def shift(self) -> float:
        """The certified output shift ``c``."""
        return self.certificate.shift

    def normalize(self, x: ArrayLike) -> np.ndarray:
        """``z(x)``: the box mapped onto ``[-1, 1]^d`` (float64)."""
        return to_unit_box(x, self.lower, self.upper)

    def unshifted(self, x: ArrayLike) -> np.ndarray:
        """``sigma * h(z(x)) + mu``: the trained surrogate before the shift (float64)."""
        x = self._check_x(x)
        return self.sigma * _evaluate64(self.model, self.normalize(x)) + self.mu

    def __call__(self, x: ArrayLike) -> np.ndarray:
        """``g(x) >= f(x)`` for every row of ``x`` (``(B, d)``) inside the box; ``(B,)``."""
        return self.unshifted(x) + self.shift

    def contains(self, x: ArrayLike) -> np.ndarray:
        """Which rows of ``x`` lie in the box (where the guarantee holds)."""
        x = np.asarray(x, dtype=np.float64)
        return np.all((x >= self.lower) & (x <= self.upper), axis=-1)

    @property
    def activation(self) -> str:
        """The activation of ``h``."""
        return str(self.model.activation)

    def _check_x(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        d = self.lower.size
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"x must have shape (batch, {d}), got {x.shape}")
        return x

    def cell_lower_bounds(self, chunk: int = 8192) -> np.ndarray:
        """Certified lower bounds of ``sigma h(z) + mu`` over every cell (float64).

        Route ``"monotone"``: the value at the cell's anchor (exact); ``"ibp"`` /
        ``"crown"``: the bound of that method over the cell mapped to ``[-1, 1]^d``.
        """
        return _cell_lower_bounds(self.model, self.route, self.points, self.mu, self.sigma, chunk)


def to_unit_box(x: ArrayLike, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """``(2x - lower - upper) / (upper - lower)``: the box onto ``[-1, 1]^d`` (float64).

    Increasing in every coordinate, so it keeps monotonicity in both senses.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.overestimate import to_unit_box
    >>> to_unit_box(np.array([[0.0, 5.0]]), np.array([0.0, 0.0]), np.array([1.0, 10.0])).tolist()
    [[-1.0, 0.0]]
    """
    x = np.asarray(x, dtype=np.float64)
    return (2.0 * x - (lower + upper)) / (upper - lower)


def _cell_lower_bounds(
    model: nnx.Module,
    route: Route,
    points: MajoringPoints,
    mu: float,
    sigma: float,
    chunk: int = 8192,
) -> np.ndarray:
    if route == Route.monotone:
        h = _evaluate64(model, to_unit_box(points.anchors, points.lower, points.upper))
        return sigma * h + mu
    bound = interval_bounds if route == Route.ibp else crown_bounds
    lo_z = to_unit_box(points.cell_lower, points.lower, points.upper)
    up_z = to_unit_box(points.cell_upper, points.lower, points.upper)
    out = []
    with float64():
        layers = _layers64(model)
        for start in range(0, len(lo_z), chunk):
            lo_c, up_c = lo_z[start : start + chunk], up_z[start : start + chunk]
            n = len(lo_c)
            # pad to a power of two (repeating the last cell): few shapes, few compiles
            pad = ((0, _padded(n) - n), (0, 0))
            lo, _ = bound(
                layers,
                jnp.asarray(np.pad(lo_c, pad, mode="edge")),
                jnp.asarray(np.pad(up_c, pad, mode="edge")),
                activation=model.activation,
            )
            out.append(np.asarray(lo, np.float64)[:n, 0])
    return sigma * np.concatenate(out) + mu


def certified_surrogate(
    model: nnx.Module,
    points: MajoringPoints,
    *,
    route: str = "monotone",
    mu: float = 0.0,
    sigma: float = 1.0,
    rel_margin: float = 1e-9,
) -> Overestimator:
    """Certify a network ``h`` (trained or not) into an overestimator of ``f``.

    ``g(x) = sigma * h(z(x)) + mu + c`` with ``z`` the box of ``points`` mapped onto
    ``[-1, 1]^d`` and ``c`` the shift of :func:`certify_bounds` from the per-cell lower
    bounds of the chosen ``route`` (``"monotone"``: ``model`` must be a
    :class:`MonotoneMLP` built with the same ``directions`` as ``points``; ``"ibp"`` /
    ``"crown"``: any model with ``layers()`` and ``activation``, e.g. an :class:`MLP`).
    The guarantee ``g >= f`` on the box does not depend on training, only its
    tightness does.

    Examples
    --------
    >>> import numpy as np
    >>> from flax import nnx
    >>> from jaxorth.overestimate import MonotoneMLP, certified_surrogate, majoring_points
    >>> f = lambda x: x[:, 0] ** 2  # noqa: E731
    >>> points = majoring_points(f, [0.0], [1.0], delta=0.25, max_depth=4)
    >>> g = certified_surrogate(MonotoneMLP(1, [4], directions=[1], rngs=nnx.Rngs(0)), points)
    >>> x = np.linspace(0.0, 1.0, 101)[:, None]
    >>> bool((g(x) >= f(x)).all()), g.certificate.n == len(points.f_top)  # every cell certified
    (True, True)
    """
    route = Route(one_of(str(route), "route", [r.value for r in Route]))
    if route == Route.monotone:
        if not isinstance(model, MonotoneMLP):
            raise ValueError(
                f"route='monotone' needs a MonotoneMLP (its bound over a cell is its value "
                f"at the anchor), got {type(model).__name__}; use route='ibp' or 'crown'"
            )
        if tuple(model.directions) != tuple(int(v) for v in points.directions):
            raise ValueError(
                f"the MonotoneMLP's directions {tuple(model.directions)} differ from the "
                f"majoring points' directions {tuple(int(v) for v in points.directions)}"
            )
    number_at_least(sigma, "sigma", 0.0, strict=True)
    lo, up = points.lower, points.upper
    lows = _cell_lower_bounds(model, route, points, mu, sigma)
    cert = certify_bounds(lows, points.f_top, rel_margin=rel_margin)
    return Overestimator(
        model=model,
        route=route,
        lower=lo,
        upper=up,
        points=points,
        certificate=cert,
        mu=float(mu),
        sigma=float(sigma),
    )


def overestimate(
    f: Callable[[np.ndarray], Any],
    lower: ArrayLike | Sequence[float],
    upper: ArrayLike | Sequence[float],
    *,
    delta: float,
    key: jax.Array,
    widths: Sequence[int] = (32, 32),
    steps: int = 2000,
    max_depth: int = 8,
    directions: Sequence[int] | None = None,
    route: str = "monotone",
    activation: str | None = None,
    under_weight: float = 10.0,
    learning_rate: float | None = None,
    batch_size: int = 65536,
    train: Trainer | None = None,
) -> Overestimator:
    r"""Learn a network ``g`` with ``g(x) >= f(x)`` on the box, as tight as training allows.

    The method of Gauffriau, Malgouyres & Ducoffe (arXiv 2101.11717) in one call:

    1. :func:`majoring_points` of ``f`` (monotone; ``directions`` gives the sense of
       each coordinate) on ``[lower, upper]`` at tolerance ``delta``;
    2. a network trained with :func:`asymmetric_loss` on the majoring values, inputs
       mapped to ``[-1, 1]^d`` and values normalised: a :class:`MonotoneMLP` on the
       pruned points (``route="monotone"``), or an :class:`MLP` on the cell centres
       (``route="ibp"`` or ``"crown"``);
    3. the float64 output shift of :func:`certify_bounds` from the per-cell lower bounds
       (the value at the anchor for the monotone route, IBP or CROWN otherwise).

    Parameters
    ----------
    f : callable
        ``f(x) -> (B,)`` for ``x`` a float64 ``(B, d)`` array (numpy or JAX).
    lower, upper : array-like
        The box, ``(d,)``, ``lower < upper``.
    delta : float
        Refinement tolerance of the majoring points (``> 0``): cells are split while
        ``f(top) - f(anchor) > delta``.
    key : jax.Array
        PRNG key of the network's initialisation.
    widths : sequence of int
        Hidden widths of the network.
    steps, learning_rate : int, float
        Full-batch Adam steps and initial learning rate of the default trainer
        (:func:`fit_full_batch`); ignored when ``train`` is given. The default rate is
        0.03 for the monotone route and 0.01 for the bound routes (the best of
        {0.01, 0.03} for each in our runs).
    max_depth : int
        Maximum refinement depth.
    directions : sequence of {+1, -1}, optional
        Sense of monotonicity of each coordinate (default: non-decreasing in all).
    route : {"monotone", "ibp", "crown"}
        Where the guarantee comes from (see the module docstring).
    activation : str, optional
        Default ``"sigmoid"`` (monotone route) or ``"relu"`` (bound routes).
    under_weight : float
        Weight of underestimation in :func:`asymmetric_loss`.
    batch_size : int
        Largest batch ``f`` is called on.
    train : callable, optional
        ``train(model, loss_fn, (x, y)) -> model``; e.g. a wrapper of
        :func:`jaxorth.train.fit` with checkpoints and tracking.

    Returns
    -------
    Overestimator
        ``g(x)``, ``g.points``, ``g.shift``, ``g.certificate``, ``g.seconds``.

    Examples
    --------
    >>> import jax, numpy as np
    >>> f = lambda x: np.tanh(4 * x[:, 0]) + x[:, 1]
    >>> g = overestimate(f, [0, 0], [1, 1], delta=0.1, key=jax.random.PRNGKey(0),
    ...                  widths=[8], steps=200)
    >>> x = np.random.default_rng(0).uniform(size=(1000, 2))
    >>> bool((g(x) >= f(x)).all())
    True
    """
    route = Route(one_of(str(route), "route", [r.value for r in Route]))
    if activation is None:
        activation = "sigmoid" if route == Route.monotone else "relu"
    if learning_rate is None:
        learning_rate = 0.03 if route == Route.monotone else 0.01
    # the box and the model's arguments are checked before any evaluation of f
    d = check_box(lower, upper)[0].size
    rngs = nnx.Rngs(params=key)
    if route == Route.monotone:
        model: nnx.Module = MonotoneMLP(
            d, widths, directions=directions, activation=activation, rngs=rngs
        )
    else:
        model = MLP(d, widths, activation=activation, rngs=rngs)
    loss_fn = overestimation_loss(under_weight)
    if train is None:
        steps = positive_int(steps, "steps")
        number_at_least(learning_rate, "learning_rate", 0.0, strict=True)

    t0 = time.perf_counter()
    pts = majoring_points(
        f,
        lower,
        upper,
        delta=delta,
        max_depth=max_depth,
        directions=directions,
        batch_size=batch_size,
    )
    t_majoring = time.perf_counter() - t0

    if route == Route.monotone:
        x_train, y_raw = pts.points, pts.values
    else:
        x_train, y_raw = 0.5 * (pts.cell_lower + pts.cell_upper), pts.f_top
    mu = float(np.mean(y_raw))
    sigma = float(np.std(y_raw))
    sigma = sigma if sigma > 0 else 1.0
    data = (
        np.asarray(to_unit_box(x_train, pts.lower, pts.upper), np.float32),
        np.asarray((y_raw - mu) / sigma, np.float32),
    )
    t0 = time.perf_counter()
    if train is None:
        model = fit_full_batch(model, loss_fn, data, steps=steps, learning_rate=learning_rate)
    else:
        model = train(model, loss_fn, data)
    t_train = time.perf_counter() - t0

    t0 = time.perf_counter()
    g = certified_surrogate(model, pts, route=route, mu=mu, sigma=sigma)
    g.seconds = {"majoring": t_majoring, "training": t_train, "certify": time.perf_counter() - t0}
    return g
