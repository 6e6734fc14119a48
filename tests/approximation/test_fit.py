"""fit_relu_mlp (Adam with restarts) and loglog_slope (measured rates with intervals)."""

import jax
import numpy as np
import pytest
from scipy import stats

from jaxorth.approximation import as_function, fit_relu_mlp, loglog_slope
from jaxorth.identifiability import relu_mlp


def _kinked(x):
    # a ReLU network with 3 hidden units on [0, 1]: inf over (1, 8, 1) networks is 0
    return 0.5 + np.maximum(x - 0.3, 0) - 2 * np.maximum(x - 0.6, 0) + 0.7 * np.maximum(x - 0.8, 0)


@pytest.fixture(scope="module")
def kinked_fit():
    x = ((np.arange(256) + 0.5) / 256)[:, None].astype(np.float32)
    y = _kinked(x[:, 0]).astype(np.float32)
    return (
        x,
        y,
        fit_relu_mlp(
            jax.random.PRNGKey(1),
            x,
            y,
            widths=(1, 8, 1),
            restarts=8,
            steps=3000,
            learning_rate=3e-2,
        ),
    )


def test_fit_reaches_a_representable_target(kinked_fit):
    x, y, fit = kinked_fit
    # the target is itself a (1, 3, 1) ReLU network: the best (1, 8, 1) network is exact
    # (some restarts stop in a local minimum with a missed kink: the best one is kept)
    assert fit.loss < 1e-6
    assert fit.loss == pytest.approx(float(np.min(fit.losses)))
    assert fit.best == int(np.argmin(fit.losses))
    assert fit.history.shape == (8, 3000)
    # Adam with a cosine schedule: the loss at the end is far below the loss at the start
    assert np.all(fit.history[:, -1] < 1e-1 * fit.history[:, 0])


def test_returned_network_acts_on_x_directly(kinked_fit):
    # training runs on u = 2x - 1; the returned parameters have it folded in, so an
    # independent evaluation on x (identifiability.relu_mlp) reproduces the training loss
    x, y, fit = kinked_fit
    g = as_function(fit.params)
    direct = np.asarray(relu_mlp(fit.params, x))[:, 0]
    np.testing.assert_allclose(np.asarray(g(x)), direct, rtol=1e-6, atol=1e-6)
    assert np.mean((direct - y) ** 2) == pytest.approx(fit.loss, rel=1e-3, abs=1e-7)
    # off the training grid too (the network is the kinked function, not an interpolant)
    z = np.linspace(0.01, 0.99, 97, dtype=np.float32)[:, None]
    assert np.max(np.abs(np.asarray(g(z)) - _kinked(z[:, 0]))) < 0.05


def test_same_key_same_fit_and_restarts_differ():
    x = np.linspace(0, 1, 64, dtype=np.float32)[:, None]
    y = np.sin(6 * x[:, 0]).astype(np.float32)
    a = fit_relu_mlp(jax.random.PRNGKey(3), x, y, widths=(1, 4, 1), restarts=2, steps=50)
    b = fit_relu_mlp(jax.random.PRNGKey(3), x, y, widths=(1, 4, 1), restarts=2, steps=50)
    np.testing.assert_array_equal(a.history, b.history)
    assert not np.array_equal(a.history[0], a.history[1])


def test_loglog_slope_matches_linregress_and_recovers_a_power_law():
    w = np.array([10.0, 30, 100, 300, 1000])
    exact = loglog_slope(w, 3.0 * w**-0.7)
    assert exact.slope == pytest.approx(-0.7, abs=1e-10)
    assert exact.intercept == pytest.approx(np.log(3.0), abs=1e-9)
    assert exact.stderr < 1e-10 and exact.n == 5
    rng = np.random.default_rng(0)
    y = 2.0 * w**-0.5 * np.exp(0.1 * rng.normal(size=w.size))
    fit, ref = loglog_slope(w, y), stats.linregress(np.log(w), np.log(y))
    assert fit.slope == pytest.approx(ref.slope, rel=1e-10)
    assert fit.stderr == pytest.approx(ref.stderr, rel=1e-8)


def test_loglog_slope_interval_covers_the_true_slope_at_its_level():
    rng = np.random.default_rng(1)
    w = np.geomspace(10, 1e4, 6)
    covered = 0
    for _ in range(400):
        fit = loglog_slope(w, w**-0.8 * np.exp(0.2 * rng.normal(size=w.size)))
        covered += fit.low <= -0.8 <= fit.high
    assert 0.91 <= covered / 400 <= 0.99


def test_loglog_slope_drops_points_without_a_logarithm():
    fit = loglog_slope([1, 10, 100, 1000], [1.0, 0.1, 0.0, np.nan])
    assert fit.n == 2 and fit.slope == pytest.approx(-1.0) and np.isnan(fit.stderr)
    assert np.isnan(loglog_slope([1, 2], [0.0, 1.0]).slope)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"widths": (1, 4, 2)}, r"widths\[-1\] must be 1"),
        ({"widths": (2, 4, 1)}, r"x must have shape \(n, 2\)"),
        ({"widths": (1, 0, 1)}, r"widths\[1\] must be a positive integer"),
        ({"widths": (1, 4, 1), "q": 0.5}, "q must be"),
        ({"widths": (1, 4, 1), "schedule": "cosin"}, "schedule must be one of"),
        ({"widths": (1, 4, 1), "restarts": 0}, "restarts must be a positive integer"),
    ],
)
def test_fit_bad_input_is_named(kwargs, match):
    x = np.zeros((8, 1), np.float32)
    with pytest.raises(ValueError, match=match):
        fit_relu_mlp(jax.random.PRNGKey(0), x, np.zeros(8, np.float32), **kwargs)
    with pytest.raises(ValueError, match="level must be in"):
        loglog_slope([1, 2, 3], [1, 2, 3], level=1.5)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ({"y": np.zeros(7, np.float32)}, r"y must have shape \(8,\)"),
        ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0"),
        ({"widths": (1,)}, "widths must have at least 2 entries"),
        ({"x": np.full((8, 1), np.nan, np.float32)}, "x must be finite, got 8 NaN"),
    ],
)
def test_fit_bad_arrays_and_options_are_named(args, match):
    kwargs = {"x": np.zeros((8, 1), np.float32), "y": np.zeros(8, np.float32)}
    kwargs.update({"widths": (1, 4, 1)}, **args)
    x, y = kwargs.pop("x"), kwargs.pop("y")
    with pytest.raises(ValueError, match=match):
        fit_relu_mlp(jax.random.PRNGKey(0), x, y, **kwargs)


def test_every_restart_diverging_is_an_error_not_a_nan_network():
    x = np.linspace(0, 1, 16, dtype=np.float32)[:, None]
    y = np.sin(6 * x[:, 0]).astype(np.float32)
    with pytest.raises(FloatingPointError, match="every one of the 2 restarts .* diverged"):
        fit_relu_mlp(
            jax.random.PRNGKey(0),
            x,
            y,
            widths=(1, 4, 1),
            restarts=2,
            steps=20,
            learning_rate=1e30,
            schedule="constant",
        )


def test_slope_and_network_inputs_are_checked():
    with pytest.raises(ValueError, match="x and y must have the same size"):
        loglog_slope([1, 2, 3], [1, 2])
    params = [(np.ones((2, 1), np.float32), np.zeros(2, np.float32))]
    with pytest.raises(ValueError, match="params must end with one output"):
        as_function(params)
