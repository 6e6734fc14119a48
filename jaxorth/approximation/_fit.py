r"""The best ReLU network of a given architecture, approximately: Adam from several starts.

The lower bounds of Achour, Foucault, Gerchinovitz & Malgouyres (NeurIPS 2022, arXiv
2206.04360) are about ``inf_g ||f - g||_p`` over *all* networks ``g`` of an
architecture. Numerically the infimum is approached by training: :func:`fit_relu_mlp`
runs full-batch Adam on ``mean |g(x_i) - f(x_i)|^q`` over a dense sample of the domain,
from ``restarts`` independent initialisations at once (``vmap`` over the restarts, one
compiled program per architecture, sample size and budget), and keeps the restart with
the smallest training loss. What it returns is an upper estimate of the infimum; a
measured rate is the rate of this optimiser at this budget.

Initialisation: He-normal weights (``N(0, 2 / fan_in)``); the first layer's biases put
each neuron's kink hyperplane through a uniform random point of the input box (after the
input rescaling below), so that the kinks cover the domain instead of all passing
through its centre; deeper biases start at zero. The network trains on ``u = 2x - 1``
(inputs centred on the box ``[-1, 1]^d``) against standardised targets
``(y - mean y) / std y``; both affine maps are folded back into the first and last layers
(the same architecture, the same function class): the returned parameters act on ``x``
and predict ``y`` directly, with the layout of
:mod:`jaxorth.identifiability` (``[(W_l, b_l)]``, ``W_l`` of shape ``(d_l, d_{l-1})``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float

from jaxorth import identifiability
from jaxorth._checks import finite, int_at_least, number_at_least, one_of, positive_int

__all__ = [
    "FitResult",
    "ReluNetwork",
    "SlopeFit",
    "as_function",
    "fit_relu_mlp",
    "loglog_slope",
]


class FitResult(NamedTuple):
    """What :func:`fit_relu_mlp` returns.

    Attributes
    ----------
    params : list of (W, b)
        The best restart's network (acting on ``x``; float32 unless trained in float64).
    loss : float
        Its final training loss ``mean |g(x_i) - y_i|^q``.
    losses : numpy array, shape (restarts,)
        The final training loss of every restart.
    best : int
        Index of the kept restart.
    history : numpy array, shape (restarts, steps)
        The training loss of every restart at every step (before the step's update).

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import fit_relu_mlp
    >>> x = jnp.linspace(0.0, 1.0, 32)[:, None]
    >>> fit = fit_relu_mlp(jax.random.key(0), x, jnp.abs(x[:, 0] - 0.5), widths=(1, 4, 1),
    ...                    restarts=2, steps=20, schedule="constant")
    >>> fit.losses.shape, fit.history.shape, fit.best == int(fit.losses.argmin())
    ((2,), (2, 20), True)
    """

    params: list[tuple[Array, Array]]
    loss: float
    losses: np.ndarray
    best: int
    history: np.ndarray


def _init(key: jax.Array, widths: tuple[int, ...], dtype: Any) -> list[tuple[Array, Array]]:
    keys = jax.random.split(key, 2 * len(widths))
    params = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        w = jax.random.normal(keys[2 * i], (d_out, d_in), dtype) * jnp.sqrt(2.0 / d_in)
        if i == 0:
            # kink hyperplane of neuron j through a uniform point c_j of [-1, 1]^d
            c = jax.random.uniform(keys[2 * i + 1], (d_out, d_in), dtype, -1.0, 1.0)
            b = -jnp.sum(w * c, axis=1)
        else:
            b = jnp.zeros((d_out,), dtype)
        params.append((w, b))
    return params


def _forward(params: list[tuple[Array, Array]], u: Array) -> Array:
    h = u
    for i, (w, b) in enumerate(params):
        h = h @ w.T + b[None, :]
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return h[:, 0]


@functools.partial(jax.jit, static_argnames=("widths", "restarts", "steps", "q", "schedule"))
def _train(
    key: jax.Array,
    x: Array,
    y: Array,
    learning_rate: Array,
    *,
    widths: tuple[int, ...],
    restarts: int,
    steps: int,
    q: float,
    schedule: str,
) -> tuple[list[tuple[Array, Array]], Array, Array]:
    u = 2.0 * x - 1.0
    if schedule == "cosine":
        lr = optax.cosine_decay_schedule(learning_rate, steps, alpha=0.01)
    else:
        lr = learning_rate
    tx = optax.adam(lr)

    def loss_fn(params: list[tuple[Array, Array]]) -> Array:
        return jnp.mean(jnp.abs(_forward(params, u) - y) ** q)

    def one(k: jax.Array) -> tuple[list[tuple[Array, Array]], Array, Array]:
        params = _init(k, widths, x.dtype)

        def step(carry: Any, _: Any) -> tuple[Any, Array]:
            params, state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, state = tx.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), loss

        (params, _), history = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
        return params, loss_fn(params), history

    return jax.vmap(one)(jax.random.split(key, restarts))


def fit_relu_mlp(
    key: jax.Array,
    x: Float[Array, "n d"] | np.ndarray,
    y: Float[Array, " n"] | np.ndarray,
    *,
    widths: Sequence[int],
    restarts: int = 3,
    steps: int = 2000,
    learning_rate: float = 1e-2,
    schedule: str = "cosine",
    q: float = 2.0,
) -> FitResult:
    """Fit a scalar ReLU MLP of architecture ``widths = (d, d_1, ..., 1)`` to ``(x, y)``.

    Parameters
    ----------
    key : jax.Array
        PRNG key of the initialisations (restart ``r`` uses the ``r``-th split).
    x : array, shape (n, d)
        Training inputs (a dense sample of ``[0, 1]^d``: a grid or uniform points).
    y : array, shape (n,)
        Target values ``f(x_i)``.
    widths : sequence of int
        ``(d_0, ..., d_L)`` with ``d_0 = d`` and ``d_L = 1``; ``L`` affine layers.
    restarts : int
        Independent initialisations trained side by side; the best is kept.
    steps : int
        Full-batch Adam steps.
    learning_rate : float
        Adam's step size (the peak of the cosine schedule).
    schedule : {"cosine", "constant"}
        Cosine decay to 1% of ``learning_rate`` over ``steps``, or constant.
    q : float
        Exponent of the training loss ``mean |g - y|^q`` (``q >= 1``; 2 is least squares).

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import fit_relu_mlp
    >>> x = jnp.linspace(0.0, 1.0, 32)[:, None]
    >>> fit = fit_relu_mlp(jax.random.key(0), x, jnp.abs(x[:, 0] - 0.5), widths=(1, 4, 1),
    ...                    restarts=2, steps=20, schedule="constant")
    >>> [W.shape for W, _ in fit.params], bool(fit.loss < fit.history[fit.best, 0])
    ([(4, 1), (1, 4)], True)
    """
    widths = tuple(positive_int(w, f"widths[{i}]") for i, w in enumerate(widths))
    if len(widths) < 2:
        raise ValueError(f"widths must have at least 2 entries (d_0, d_L), got {widths}")
    if widths[-1] != 1:
        raise ValueError(f"widths[-1] must be 1 (a scalar network), got {widths[-1]}")
    restarts = positive_int(restarts, "restarts")
    steps = int_at_least(steps, "steps", 1)
    learning_rate = number_at_least(learning_rate, "learning_rate", 0.0, strict=True)
    schedule = one_of(schedule, "schedule", ("cosine", "constant"))
    q = number_at_least(q, "q", 1.0)
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    if x.ndim != 2 or x.shape[1] != widths[0]:
        raise ValueError(
            f"x must have shape (n, {widths[0]}) (widths[0] = {widths[0]} inputs), got {x.shape}"
        )
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"y must have shape ({x.shape[0]},) (one value per row of x), got {y.shape}"
        )
    finite(x, "x")
    finite(y, "y")
    dtype = jnp.result_type(float)
    # standardise the targets (a tiny bump of height h^alpha or a large offset would
    # otherwise be learned at the scale of the initial output); folded back below
    y64 = np.asarray(y, np.float64)
    shift = float(np.mean(y64))
    scale = float(np.std(y64)) or 1.0
    params, final, history = _train(
        key,
        x.astype(dtype),
        ((y64 - shift) / scale).astype(dtype),
        jnp.asarray(learning_rate, dtype),
        widths=widths,
        restarts=restarts,
        steps=steps,
        q=float(q),
        schedule=schedule,
    )
    losses = np.asarray(final, np.float64) * scale**q
    losses = np.where(np.isfinite(losses), losses, np.inf)
    if not np.isfinite(losses).any():
        raise FloatingPointError(
            f"every one of the {restarts} restarts of widths={widths} diverged (non-finite "
            f"training loss) at learning_rate={learning_rate:g}: lower learning_rate"
        )
    best = int(np.argmin(losses))
    chosen = [(w[best], b[best]) for w, b in params]
    # fold u = 2x - 1 into the first layer: W u + b = (2W) x + (b - W 1)
    w1, b1 = chosen[0]
    chosen[0] = (2.0 * w1, b1 - jnp.sum(w1, axis=1))
    # and the standardisation into the last: scale * (W h + b) + shift
    wl, bl = chosen[-1]
    chosen[-1] = (scale * wl, scale * bl + shift)
    return FitResult(
        params=chosen,
        loss=float(losses[best]),
        losses=losses,
        best=best,
        history=np.asarray(history, np.float64) * scale**q,
    )


@dataclasses.dataclass(frozen=True)
class ReluNetwork:
    """A scalar ReLU network ``x -> g(x)`` as a callable pytree, ``(n, d) -> (n,)``.

    ``params`` in the layout of :mod:`jaxorth.identifiability`. Being a pytree (the
    parameters are its leaves), two networks of the same architecture share one
    compiled program in the error estimators of this package (``lp_distance(target,
    net, ...)``), which a closure would not.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import ReluNetwork
    >>> layer_1 = (jnp.array([[1.0], [-1.0]]), jnp.zeros(2))
    >>> net = ReluNetwork([layer_1, (jnp.array([[1.0, 1.0]]), jnp.zeros(1))])  # |x|
    >>> net(jnp.array([[-2.0], [3.0]])).tolist(), len(jax.tree_util.tree_leaves(net))
    ([2.0, 3.0], 4)
    """

    params: list[tuple[Array, Array]]

    def __call__(self, x: Any) -> Float[Array, " n"]:
        return _forward(self.params, jnp.asarray(x))


jax.tree_util.register_dataclass(ReluNetwork, data_fields=["params"], meta_fields=[])


def as_function(params: identifiability.Params) -> ReluNetwork:
    """The scalar network of ``params`` as a :class:`ReluNetwork` (checked first).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.approximation import as_function
    >>> layer_1 = (jnp.array([[1.0], [-1.0]]), jnp.zeros(2))
    >>> net = as_function([layer_1, (jnp.array([[1.0, 1.0]]), jnp.zeros(1))])  # relu(x) + relu(-x)
    >>> net(jnp.array([[-2.0], [3.0]])).tolist()
    [2.0, 3.0]
    """
    dims = identifiability.check_params(params)
    if dims[-1] != 1:
        raise ValueError(f"params must end with one output (a scalar network), got {dims[-1]}")
    return ReluNetwork([(jnp.asarray(w), jnp.asarray(b)) for w, b in params])


class SlopeFit(NamedTuple):
    """A least-squares line ``log y = intercept + slope log x`` with its uncertainty.

    Attributes
    ----------
    slope, intercept : float
        The fitted line (natural logarithms).
    stderr : float
        Standard error of the slope (``nan`` with fewer than 3 points).
    low, high : float
        The two-sided confidence interval of the slope at ``level`` (Student's t with
        ``n - 2`` degrees of freedom; ``nan`` with fewer than 3 points).
    n : int
        Points used (those with finite, positive ``x`` and ``y``).

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.approximation import loglog_slope
    >>> W = np.array([10.0, 100.0, 1000.0])
    >>> fit = loglog_slope(W, 3 * W**-0.5)  # an exact power law: log y = log 3 - 0.5 log W
    >>> round(fit.slope, 4), round(fit.intercept, 4), fit.n, round(fit.stderr, 6)
    (-0.5, 1.0986, 3, 0.0)
    """

    slope: float
    intercept: float
    stderr: float
    low: float
    high: float
    n: int


def loglog_slope(x: Any, y: Any, *, level: float = 0.95) -> SlopeFit:
    """Slope of ``log y`` against ``log x`` by least squares, with a ``level`` interval.

    A measured approximation rate: ``error ~ W^slope`` over the architectures of a sweep.
    Points with a non-positive or non-finite coordinate are left out (a zero error has no
    logarithm); fewer than 2 points left gives ``nan`` everywhere.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.approximation import loglog_slope
    >>> W = np.array([10.0, 100.0, 1000.0])
    >>> round(loglog_slope(W, 3 * W**-0.5).slope, 4)
    -0.5
    """
    level = number_at_least(level, "level", 0.0, strict=True)
    if level >= 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same size, got {x.size} and {y.size}")
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    lx, ly = np.log(x[keep]), np.log(y[keep])
    n = int(lx.size)
    nan = float("nan")
    if n < 2 or np.ptp(lx) == 0:
        return SlopeFit(nan, nan, nan, nan, nan, n)
    slope, intercept = np.polyfit(lx, ly, 1)
    if n < 3:
        return SlopeFit(float(slope), float(intercept), nan, nan, nan, n)
    resid = ly - (intercept + slope * lx)
    s2 = float(resid @ resid) / (n - 2)
    stderr = float(np.sqrt(s2 / np.sum((lx - lx.mean()) ** 2)))
    from scipy import stats

    t = float(stats.t.ppf(0.5 + level / 2, n - 2))
    return SlopeFit(
        float(slope), float(intercept), stderr, slope - t * stderr, slope + t * stderr, n
    )
