"""Gradient flow and gradient descent for deep linear networks.

Gradient flow ``dW_h/dt = -dL/dW_h`` is integrated with diffrax (adaptive Runge-Kutta,
configurable tolerances). Along the flow ``W_{h+1}^T W_{h+1} - W_h W_h^T`` is conserved
(Arora, Cohen & Hazan 2018, Theorem 1); from a small initialisation the loss visits the
plateaus ``tr(S_yy) - (l_1 + ... + l_k)`` (Saxe, McClelland & Ganguli 2014), and the
escape time from the first plateau grows like ``log(1/eps)`` for ``H = 2`` and like
``eps^{-(H-2)}`` for ``H >= 3``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Float, PRNGKeyArray

if TYPE_CHECKING:  # diffrax is imported when a flow is integrated, not with jaxorth
    import diffrax

from jaxorth._checks import int_at_least, positive_int, positive_number

from ._model import Weights, check_shapes, gradient, loss


class FlowResult(NamedTuple):
    """A sampled trajectory.

    Attributes
    ----------
    ts : Float[ArrayLike, " T"]
        Times (flow) or step indices times the learning rate (descent).
    losses : Float[ArrayLike, " T"]
    drift : Float[ArrayLike, " T"]
        ``max_h ||C_h(t) - C_h(0)||_F`` with ``C_h = W_{h+1}^T W_{h+1} - W_h W_h^T``.
    weights : list of Float[ArrayLike, "d_h d_{h-1}"]
        Final weights.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import dln
    >>> X, Y = jnp.ones((1, 1)), 2 * jnp.ones((1, 1))  # L(w) = (w - 2)^2
    >>> result = dln.gradient_descent([jnp.ones((1, 1))], X, Y, lr=0.25, steps=2)
    >>> result.ts.tolist(), result.losses.tolist()  # w = 1, 1.5, 1.75
    ([0.0, 0.25, 0.5], [1.0, 0.25, 0.0625])
    >>> result.weights[0].tolist()
    [[1.75]]
    """

    ts: ArrayLike
    losses: ArrayLike
    drift: ArrayLike
    weights: list


def balancedness(weights: Weights) -> list[ArrayLike]:
    """``C_h = W_{h+1}^T W_{h+1} - W_h W_h^T`` for ``h = 1..H-1`` (conserved by the flow).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import dln
    >>> [c.tolist() for c in dln.balancedness([jnp.eye(2), jnp.eye(2)])]  # balanced: C_1 = 0
    [[[0.0, 0.0], [0.0, 0.0]]]
    """
    return [
        weights[h + 1].T @ weights[h + 1] - weights[h] @ weights[h].T
        for h in range(len(weights) - 1)
    ]


def _drift(c0, weights):
    cs = balancedness(weights)
    if not cs:
        return jnp.zeros((), weights[0].dtype)
    return jnp.max(jnp.stack([jnp.linalg.norm(c - d) for c, d in zip(cs, c0)]))


def _field(t, w, args):
    # module-level so that diffrax's jit cache is shared across calls of one shape family
    X, Y = args
    return [-g for g in gradient(w, X, Y)]


def gradient_flow(
    weights: Weights,
    X: ArrayLike,
    Y: ArrayLike,
    ts: Float[ArrayLike, " T"],  # noqa: F722
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    max_steps: int = 100_000,
    solver: diffrax.AbstractSolver | None = None,
) -> FlowResult:
    """Integrate ``dW_h/dt = -dL/dW_h`` exactly (adaptive ODE solver) from ``weights``.

    Parameters
    ----------
    weights : sequence of Float[ArrayLike, "d_h d_{h-1}"]
        Initial ``[W_1, ..., W_H]``.
    X : Float[ArrayLike, "d_0 m"]
    Y : Float[ArrayLike, "d_H m"]
    ts : Float[ArrayLike, " T"]
        Increasing save times, ``ts[0]`` is the initial time.
    rtol, atol : float
        Tolerances of diffrax's PID step-size controller.
    max_steps : int
        Solver step budget.
    solver : diffrax solver, optional
        Default ``diffrax.Tsit5()``.

    Returns
    -------
    FlowResult

    Examples
    --------
    >>> import diffrax
    >>> import jax.numpy as jnp
    >>> from jaxorth import dln
    >>> X, Y = jnp.ones((1, 1)), 2 * jnp.ones((1, 1))  # dw/dt = -2 (w - 2): L(t) = exp(-4 t)
    >>> ts = jnp.array([0.0, 0.5])
    >>> result = dln.gradient_flow([jnp.ones((1, 1))], X, Y, ts, solver=diffrax.Heun())
    >>> round(float(result.losses[-1]), 4), round(float(jnp.exp(-2.0)), 4)
    (0.1353, 0.1353)
    """
    check_shapes(weights, X, Y)
    ts = jnp.asarray(ts, X.dtype)
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(f"ts must be 1-D with at least 2 times, got shape {ts.shape}")
    if rtol <= 0 or atol <= 0:
        raise ValueError(f"rtol and atol must be > 0, got rtol={rtol}, atol={atol}")
    w0 = [jnp.asarray(W) for W in weights]

    import diffrax

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(_field),
        diffrax.Tsit5() if solver is None else solver,
        t0=ts[0],
        t1=ts[-1],
        dt0=None,
        y0=w0,
        args=(X, Y),
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps,
    )
    c0 = balancedness(w0)
    path = sol.ys
    losses = jax.vmap(lambda w: loss(w, X, Y))(path)
    drift = jax.vmap(lambda w: _drift(c0, w))(path)
    return FlowResult(ts, losses, drift, [p[-1] for p in path])


def gradient_descent(
    weights: Weights, X: ArrayLike, Y: ArrayLike, *, lr: float, steps: int, every: int = 1
) -> FlowResult:
    """Plain gradient descent ``W_h <- W_h - lr dL/dW_h`` (``lax.scan``).

    Gradient descent is the explicit Euler scheme of the flow: it matches it as
    ``lr -> 0`` and conserves ``C_h`` only up to ``O(lr^2)`` per step.

    Parameters
    ----------
    weights, X, Y
        Initial weights and data.
    lr : float
        Learning rate (> 0).
    steps : int
        Number of steps.
    every : int
        Record every ``every`` steps.

    Returns
    -------
    FlowResult
        ``ts = lr * step``, so curves are comparable with :func:`gradient_flow`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth import dln
    >>> X, Y = jnp.ones((1, 1)), 2 * jnp.ones((1, 1))  # L(w) = (w - 2)^2, w <- w - 2 lr (w - 2)
    >>> result = dln.gradient_descent([jnp.ones((1, 1))], X, Y, lr=0.25, steps=2)
    >>> result.losses.tolist()
    [1.0, 0.25, 0.0625]
    """
    check_shapes(weights, X, Y)
    lr = positive_number(lr, "lr")
    steps = positive_int(steps, "steps")
    every = positive_int(every, "every")
    w0 = [jnp.asarray(W) for W in weights]
    c0 = balancedness(w0)

    def block(w, _):
        def step(w, _):
            return [W - lr * g for W, g in zip(w, gradient(w, X, Y))], None

        w, _ = jax.lax.scan(step, w, None, length=every)
        return w, (loss(w, X, Y), _drift(c0, w))

    n = steps // every
    w, (losses, drift) = jax.lax.scan(block, w0, None, length=n)
    ts = lr * every * jnp.arange(1, n + 1, dtype=X.dtype)
    ts = jnp.concatenate([jnp.zeros((1,), X.dtype), ts])
    losses = jnp.concatenate([loss(w0, X, Y)[None], losses])
    drift = jnp.concatenate([jnp.zeros((1,), X.dtype), drift])
    return FlowResult(ts, losses, drift, w)


def small_init(
    key: PRNGKeyArray, widths: tuple[int, ...], scale: float, dtype=jnp.float32
) -> list[ArrayLike]:
    """Gaussian ``W_h`` rescaled to spectral norm ``scale`` (end-to-end size ``~ scale^H``).

    ``widths`` is ``(d_0, ..., d_H)``.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth import dln
    >>> W = dln.small_init(jax.random.key(0), (3, 4, 2), 0.01)
    >>> [round(float(jnp.linalg.norm(w, 2)), 4) for w in W]  # spectral norms
    [0.01, 0.01]
    """
    keys = jax.random.split(key, len(widths) - 1)
    out = []
    for k, (din, dout) in zip(keys, zip(widths[:-1], widths[1:])):
        W = jax.random.normal(k, (dout, din), dtype)
        out.append(scale * W / jnp.linalg.norm(W, 2))
    return out


def escape_time(
    ts: ArrayLike, losses: ArrayLike, *, fraction: float = 0.5, floor: float | None = None
) -> float:
    """First time the loss has dropped by ``fraction`` of the way from ``losses[0]`` to ``floor``.

    ``losses[0]`` is the initial plateau ``tr(S_yy)`` (small init); ``floor`` defaults to
    the smallest finite loss (pass the next critical value ``tr(S_yy) - l_1`` to time the
    first escape); linear interpolation between samples. Returns ``nan`` if never
    reached. Host function (numpy).

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth import dln
    >>> ts, losses = np.arange(4.0), np.array([4.0, 3.0, 1.0, 0.0])
    >>> dln.escape_time(ts, losses)  # half-way down (2.0) at t = 1.5
    1.5
    """
    ts, losses = np.asarray(ts, np.float64), np.asarray(losses, np.float64)
    floor = float(np.nanmin(losses[np.isfinite(losses)])) if floor is None else float(floor)
    target = losses[0] - fraction * (losses[0] - floor)
    below = np.nonzero(losses <= target)[0]
    if below.size == 0 or below[0] == 0:
        return float("nan")
    i = below[0]
    t0, t1, l0, l1 = ts[i - 1], ts[i], losses[i - 1], losses[i]
    return float(t0 + (target - l0) * (t1 - t0) / (l1 - l0))


def predicted_escape_time(depth: int, scale: float, s: float) -> float:
    """Escape time of the aligned, balanced scalar model from ``w(0) = scale``.

    For one mode of strength ``s`` (``sqrt(l_1)`` with whitened inputs) the product
    ``a = w^H`` obeys ``da/dt = 2H (s - a) a^{2 - 2/H}`` (Saxe et al. 2014); this returns
    the time for ``a`` to reach ``s/2``: ``log(s/a0 - 1) / (4s)`` for ``H = 2`` and,
    for ``H >= 3``, the integral evaluated numerically (``~ scale^{-(H-2)} / (2 s (H-2))``).

    Examples
    --------
    >>> from jaxorth import dln
    >>> t1 = dln.predicted_escape_time(2, 1e-2, 1.0)
    >>> t2 = dln.predicted_escape_time(2, 1e-4, 1.0)
    >>> bool(t1 < t2)  # a smaller initial scale escapes later (log(1/eps) for H = 2)
    True
    """
    depth = int_at_least(depth, "depth", 2)
    scale = positive_number(scale, "scale")
    s = positive_number(s, "s")
    a0 = scale**depth
    if a0 >= s / 2:
        return 0.0
    if depth == 2:
        return float(np.log(s / a0 - 1.0) / (4.0 * s))
    # integrate in u = log a for accuracy across scales
    u = np.linspace(np.log(a0), np.log(s / 2), 20001)
    a = np.exp(u)
    integrand = a / (2 * depth * (s - a) * a ** (2 - 2 / depth))
    return float(np.trapezoid(integrand, u))


def plateau_miss(
    losses: Float[ArrayLike, " T"],  # noqa: F722
    plateaus: Float[ArrayLike, " r"],  # noqa: F722
    eigenvalues: Float[ArrayLike, " d_y"] | Sequence[float],  # noqa: F722
) -> np.ndarray:
    """How closely a loss curve visits each critical value, relative to its gap.

    For the plateaus ``v_k = tr(S_yy) - (l_1 + ... + l_k)`` (:func:`plateau_values`) of
    a flow from a small initialisation (Saxe et al. 2014), returns
    ``min_t |L(t) - v_k| / l_{k+1}``: the distance of the closest visit to ``v_k``
    in units of the drop ``l_{k+1}`` to the next plateau (the last plateau uses the
    last eigenvalue). Values much below 1 mean the curve passed by ``v_k``. Host
    function (numpy).

    Parameters
    ----------
    losses : Float[ArrayLike, " T"]
        Sampled loss curve.
    plateaus : Float[ArrayLike, " r"]
        ``v_0 > v_1 > ... > v_{r-1}``, ``r <= len(eigenvalues) + 1``.
    eigenvalues : Float[ArrayLike, " d_y"]
        ``l_1 > ... > l_{d_y}`` of ``Sigma``.

    Returns
    -------
    numpy.ndarray of shape (r,)

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth import dln
    >>> losses = np.array([5.0, 3.0, 1.02, 0.5, 0.0])  # passes 0.02 above v_1 = 1
    >>> plateaus, eigenvalues = np.array([5.0, 1.0, 0.0]), np.array([4.0, 1.0])
    >>> dln.plateau_miss(losses, plateaus, eigenvalues).round(4).tolist()
    [0.0, 0.02, 0.0]
    """
    L = np.asarray(losses, np.float64)
    v = np.asarray(plateaus, np.float64)
    lam = [float(x) for x in np.asarray(eigenvalues, np.float64).ravel()]
    if not lam or len(v) > len(lam) + 1:
        raise ValueError(
            f"need 1 <= len(eigenvalues) and len(plateaus) <= len(eigenvalues) + 1, "
            f"got {len(lam)} and {len(v)}"
        )
    scale = np.asarray(lam + [lam[-1]])[: len(v)]
    return np.abs(L[:, None] - v[None, :]).min(axis=0) / scale


def escape_scaling(
    depth: int, scales: ArrayLike | Sequence[float], times: ArrayLike | Sequence[float]
) -> float:
    """Fitted growth of the escape time as the initial scale ``eps`` shrinks.

    The predictions (Saxe et al. 2014 for ``H = 2``; the scalar model of
    :func:`predicted_escape_time` for ``H >= 3``): ``t_escape ~ log(1/eps) / (4 s)``
    for ``H = 2``, ``t_escape ~ eps^{-(H-2)}`` for ``H >= 3``. Returns the
    least-squares slope of ``t`` against ``log(1/eps)`` for ``H = 2``
    (``dt / dlog(1/eps)``, predicted ``1 / (4 s)``), and the exponent ``p`` of
    ``t ~ eps^{-p}`` (slope of ``log t`` against ``log(1/eps)``, predicted ``H - 2``)
    for ``H >= 3``. Host function (numpy); ``nan`` unless at least two finite times.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth import dln
    >>> eps = np.array([1e-2, 1e-3, 1e-4])
    >>> round(dln.escape_scaling(2, eps, np.log(1 / eps) / 4), 4)  # H = 2: slope 1 / (4 s), s = 1
    0.25
    >>> round(dln.escape_scaling(3, eps, 1 / eps), 4)  # H = 3: t ~ eps^-(H - 2)
    1.0
    """
    depth = int_at_least(depth, "depth", 2)
    eps = np.asarray(scales, np.float64).ravel()
    t = np.asarray(times, np.float64).ravel()
    if eps.shape != t.shape:
        raise ValueError(f"scales and times must have the same length, got {eps.size}, {t.size}")
    if np.any(eps <= 0):
        raise ValueError(f"scales must be > 0, got {eps.tolist()}")
    if eps.size < 2 or not np.all(np.isfinite(t)):
        return float("nan")
    if depth == 2:
        return float(np.polyfit(np.log(1 / eps), t, 1)[0])
    return float(-np.polyfit(np.log(eps), np.log(t), 1)[0])
