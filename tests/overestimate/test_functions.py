"""The reference functions: monotone, and the real-world model against physics."""

import numpy as np
import pytest

from jaxorth.overestimate import FUNCTIONS, stopping_distance


def test_stopping_distance_is_reaction_plus_braking_distance_of_physics():
    """AASHTO's constants are the rounded unit conversions of ``v t + v^2 / (2 a)``.

    With ``v = V / 3.6`` m/s: ``0.278 ~ 1/3.6`` and ``0.039 ~ 1/(2 * 3.6^2) = 0.03858``;
    the same model in US units (TxDOT: ``1.47 V t + 1.075 V^2 / a``, ft, mph, ft/s^2)
    gives the same distances up to its own rounding.
    """
    rng = np.random.default_rng(0)
    x = np.column_stack(
        [rng.uniform(30, 130, 500), rng.uniform(1, 3, 500), rng.uniform(2.5, 6, 500)]
    )
    speed, t, a = x[:, 0] / 3.6, x[:, 1], x[:, 2]
    physics = speed * t + speed**2 / (2 * a)
    np.testing.assert_allclose(stopping_distance(x), physics, rtol=0.011)
    mph, ft = 1.609344, 0.3048
    us = 1.47 * (x[:, 0] / mph) * t + 1.075 * (x[:, 0] / mph) ** 2 / (a / ft)
    np.testing.assert_allclose(stopping_distance(x), us * ft, rtol=0.011)
    # Green Book Table 3-1, computed SSD at 100 km/h (t = 2.5 s, a = 3.4 m/s^2)
    assert stopping_distance(np.array([[100.0, 2.5, 3.4]]))[0] == pytest.approx(184.2, abs=0.05)


def test_every_function_is_monotone_in_its_directions_on_random_segments():
    rng = np.random.default_rng(0)
    for name, fn in FUNCTIONS.items():
        lo, up = np.asarray(fn.lower), np.asarray(fn.upper)
        x = lo + (up - lo) * rng.uniform(size=(2000, fn.d))
        y = lo + (up - lo) * rng.uniform(size=(2000, fn.d))
        dirs = np.asarray(fn.directions)
        # sort each pair so that x <= y in the order of directions
        low = np.where(dirs * (x - y) <= 0, x, y)
        high = np.where(dirs * (x - y) <= 0, y, x)
        assert (fn.f(high) - fn.f(low) >= -1e-12).all(), name
        assert fn.f(high).shape == (2000,), name
