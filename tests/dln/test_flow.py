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
    """Same shape family, tolerances and number of save times (400) as the flow test
    above: diffrax's compiled solve is reused when both run in one process."""
    X, Y = data
    widths = (4, 4, 4, 3)
    w0 = dln.small_init(jax.random.PRNGKey(3), widths, 0.3, jnp.float64)
    gd = dln.gradient_descent(w0, X, Y, lr=1e-4, steps=399 * 13, every=13)
    assert gd.ts.shape == (400,)
    flow = dln.gradient_flow(w0, X, Y, gd.ts, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gd.losses, flow.losses, rtol=2e-3)
    assert float(flow.drift.max()) < float(gd.drift.max()) + 1e-9


def _scalar_flow_escape(depth, scale, s):
    """Integrate the layer-wise flow of L = (s - w_H ... w_1)^2 from w_h = scale.

    dw_h/dt = -dL/dw_h = 2 (s - a) prod_{j != h} w_j with a = prod w_j (scipy's
    solve_ivp, an event at a = s / 2): independent of the closed form / quadrature.
    """
    integrate = pytest.importorskip("scipy.integrate")

    def field(t, w):
        a = np.prod(w)
        return [2 * (s - a) * np.prod(np.delete(w, h)) for h in range(depth)]

    def half(t, w):
        return np.prod(w) - s / 2

    half.terminal = True
    sol = integrate.solve_ivp(
        field, (0.0, 1e7), [scale] * depth, events=half, rtol=1e-11, atol=1e-14, method="LSODA"
    )
    return float(sol.t_events[0][0])


@pytest.mark.parametrize(
    ("depth", "scale", "s"), [(2, 1e-2, 2.0), (2, 0.3, 1.0), (3, 0.1, 3.0), (4, 0.3, 1.0)]
)
def test_predicted_escape_time_matches_the_integrated_scalar_flow(depth, scale, s):
    np.testing.assert_allclose(
        dln.predicted_escape_time(depth, scale, s), _scalar_flow_escape(depth, scale, s), rtol=1e-6
    )


def test_predicted_escape_time_asymptotics():
    # H >= 3: ~ eps^{-(H-2)} / (2 s (H-2)) as eps -> 0 (the integral's leading term)
    for depth in (3, 4):
        t = dln.predicted_escape_time(depth, 1e-3, 2.0)
        np.testing.assert_allclose(t, 1e-3 ** -(depth - 2) / (4 * (depth - 2)), rtol=0.05)
    assert dln.predicted_escape_time(3, 0.9, 0.5) == 0.0  # a0 = 0.729 >= s / 2: escaped
    with pytest.raises(ValueError, match="depth must be an integer >= 2, got 1"):
        dln.predicted_escape_time(1, 0.1, 1.0)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        dln.predicted_escape_time(2, 0.0, 1.0)


def test_plateau_miss_measures_the_closest_visit():
    plateaus = np.array([14.0, 5.0, 1.0, 0.0])
    eigs = [9.0, 4.0, 1.0]
    # visits 14 and 1 exactly, passes 5.3 (0.3 above 5), ends at 0.2 (never reaches 0)
    losses = np.array([14.0, 12.0, 5.3, 5.6, 1.0, 0.2])
    miss = dln.plateau_miss(losses, plateaus, eigs)
    np.testing.assert_allclose(miss, [0.0, 0.3 / 4.0, 0.0, 0.2 / 1.0])
    with pytest.raises(ValueError, match="len\\(plateaus\\) <= len\\(eigenvalues\\) \\+ 1"):
        dln.plateau_miss(losses, plateaus, [9.0, 4.0])


def test_escape_scaling_recovers_planted_laws():
    eps = np.array([0.2, 0.1, 0.05, 0.025])
    np.testing.assert_allclose(dln.escape_scaling(2, eps, 0.7 * np.log(1 / eps) + 2.0), 0.7)
    np.testing.assert_allclose(dln.escape_scaling(3, eps, 3.0 * eps**-1.5), 1.5)
    np.testing.assert_allclose(dln.escape_scaling(5, eps, 0.1 * eps**-3.0), 3.0)
    assert np.isnan(dln.escape_scaling(3, eps, [1.0, 2.0, np.nan, 4.0]))
    assert np.isnan(dln.escape_scaling(3, eps[:1], [1.0]))
    with pytest.raises(ValueError, match="same length"):
        dln.escape_scaling(3, eps, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"scales must be > 0, got \[0.0, 0.1\]"):
        dln.escape_scaling(3, [0.0, 0.1], [1.0, 2.0])
