import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth import dln

EIGS = [9.0, 4.0, 1.0]


@pytest.fixture
def data(x64):
    return dln.make_data(jax.random.PRNGKey(0), 4, 3, 20, eigenvalues=EIGS, dtype=jnp.float64)


def test_flow_conservation_plateaus_and_escape_scaling(data):
    """One shape family (H = 3) for all flow checks: diffrax compiles once."""
    X, Y = data
    widths = (4, 4, 4, 3)
    plateaus = np.asarray(dln.plateau_values(X, Y, widths))
    times = []
    for eps in (0.1, 0.03, 0.01):
        w0 = dln.small_init(jax.random.PRNGKey(1), widths, eps, jnp.float64)
        ts = jnp.linspace(0.0, 4 * dln.predicted_escape_time(3, eps, 1.0), 400)
        res = dln.gradient_flow(w0, X, Y, ts, rtol=1e-8, atol=1e-10)
        # Arora et al. 2018: W_{h+1}^T W_{h+1} - W_h W_h^T is conserved along the flow
        assert float(res.drift.max()) < 1e-6
        times.append(dln.escape_time(res.ts, res.losses))
        if eps == 0.01:
            # Saxe et al. 2014: the loss lingers near every critical value tr(S_yy) - sum l_i
            L = np.asarray(res.losses)
            for k, v in enumerate(plateaus):
                dwell = np.mean(np.abs(L - v) < 0.02 * EIGS[min(k, 2)])
                assert dwell > 0.02, (k, v, dwell)
            np.testing.assert_allclose(L[-1], plateaus[-1], rtol=1e-6)
    # H = 3: t_escape ~ eps^{-(H-2)} = eps^{-1}
    slope = np.polyfit(np.log([0.1, 0.03, 0.01]), np.log(times), 1)[0]
    assert -1.2 < slope < -0.85, (times, slope)


@pytest.mark.parametrize("depth", [2, 4])
def test_escape_time_scaling_with_gradient_descent(data, depth):
    X, Y = data
    widths = (4,) + (4,) * (depth - 1) + (3,)
    eps = np.array([0.1, 0.05, 0.025]) if depth == 2 else np.array([0.1, 0.07, 0.05])
    floor = float(dln.plateau_values(X, Y, widths)[1])
    times = []
    for e in eps:
        w0 = dln.small_init(jax.random.PRNGKey(2), widths, float(e), jnp.float64)
        t_end = 3 * dln.predicted_escape_time(depth, float(e), 1.0)
        lr = 1e-3 if depth == 2 else 1e-2
        res = dln.gradient_descent(w0, X, Y, lr=lr, steps=int(t_end / lr), every=10)
        times.append(dln.escape_time(res.ts, res.losses, floor=floor))
    times = np.array(times)
    if depth == 2:
        # t_escape ~ log(1/eps): equal increments for equal ratios of eps
        inc = np.diff(times)
        assert np.all(inc > 0) and abs(inc[1] / inc[0] - 1) < 0.15, times
    else:
        slope = np.polyfit(np.log(eps), np.log(times), 1)[0]
        assert -2.3 < slope < -1.6, (times, slope)  # eps^{-(H-2)} = eps^{-2}


def test_gradient_descent_tracks_the_flow(data):
    X, Y = data
    widths = (4, 3, 3)
    w0 = dln.small_init(jax.random.PRNGKey(3), widths, 0.3, jnp.float64)
    gd = dln.gradient_descent(w0, X, Y, lr=1e-4, steps=5000, every=500)
    flow = dln.gradient_flow(w0, X, Y, gd.ts)
    np.testing.assert_allclose(gd.losses, flow.losses, rtol=2e-3)
    assert float(flow.drift.max()) < float(gd.drift.max()) + 1e-9


def test_predicted_escape_time_asymptotics():
    # H >= 3: ~ eps^{-(H-2)} / (2 s (H-2)); H = 2: log(s / eps^2 - 1) / (4 s)
    for depth in (3, 4):
        t = dln.predicted_escape_time(depth, 1e-3, 2.0)
        np.testing.assert_allclose(t, 1e-3 ** -(depth - 2) / (4 * (depth - 2)), rtol=0.05)
    np.testing.assert_allclose(
        dln.predicted_escape_time(2, 1e-2, 2.0), np.log(2 / 1e-4 - 1) / 8, rtol=1e-12
    )
    with pytest.raises(ValueError, match="depth must be an integer >= 2, got 1"):
        dln.predicted_escape_time(1, 0.1, 1.0)
