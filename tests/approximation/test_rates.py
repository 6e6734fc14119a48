"""Rates and bounds of jaxorth.approximation (Achour et al. 2022; Bartlett et al. 2019).

Checked against: literal exponents of the papers' formulas, hand counts of parameters
and jaxorth.identifiability's counts, analytic log-log derivatives of the rates, an
explicit pseudo-shattering construction (a one-hidden-layer ReLU net interpolating any
values at k + 1 points), and the defining condition of the general bound.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from jaxorth.approximation import (
    CRITICAL_LOG_POWER,
    MLPSize,
    fat_shattering_bound,
    general_lower_bound,
    holder_exponent,
    holder_log_packing,
    holder_lower_bound,
    holder_rate,
    mlp_size,
    monotone_exponent,
    monotone_log_packing,
    monotone_lower_bound,
    monotone_rate,
    pseudo_dimension_bound,
    widths_for,
)
from jaxorth.identifiability import n_hidden, n_parameters

INF = float("inf")


def _slope(x, y):
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


# ------------------------------------------------------------------------ exponents


@pytest.mark.parametrize(
    ("d", "p", "expected"),
    [
        (2, 1, 1 / 2),  # max(2, 1)
        (2, 3, 1 / 3),  # max(2, 3)
        (3, 2, 1 / 4),  # max(3, 4)
        (3, 1.2, 1 / 3),  # max(3, 2.4)
        (1, 1, 1.0),
        (1, 7.5, 1.0),
        (4, 4 / 3, 1 / 4),  # critical p: both terms are 4
        (2, INF, 0.0),
        (1, INF, 0.0),
    ],
)
def test_monotone_exponent_literals(d, p, expected):
    assert monotone_exponent(d, p) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize(
    ("alpha", "d", "regime", "expected"),
    [
        (0.5, 2, "deep", 0.5),
        (0.5, 2, "fixed_depth", 0.25),
        (1.0, 3, "fixed_depth", 1 / 3),
        (1.0, 3, "deep", 2 / 3),
        (2.5, 5, "fixed_depth", 0.5),
    ],
)
def test_holder_exponent_literals(alpha, d, regime, expected):
    assert holder_exponent(alpha, d, regime=regime) == pytest.approx(expected, rel=1e-14)


# ------------------------------------------------------------------------- counting


def test_mlp_size_hand_count():
    # (3, 5, 4, 1): 5 * (3 + 1) + 4 * (5 + 1) + 1 * (4 + 1) = 20 + 24 + 5
    assert mlp_size((3, 5, 4, 1)) == MLPSize(W=49, L=3, U=9)
    assert mlp_size([2, 1]) == MLPSize(W=3, L=1, U=0)


@pytest.mark.parametrize("widths", [(1, 1), (2, 7, 1), (4, 3, 6, 2, 5), (10, 32, 32, 32, 1)])
def test_mlp_size_matches_identifiability(widths):
    size = mlp_size(widths)
    assert size.W == n_parameters(widths)
    assert size.U == n_hidden(widths)
    assert size.L == len(widths) - 1


def test_widths_for():
    assert widths_for(2, 8, 3) == (2, 8, 8, 1)
    assert widths_for(5, 9, 1) == (5, 1)
    w = widths_for(3, 16, 4)
    assert mlp_size(w) == MLPSize(W=16 * 4 + 2 * 16 * 17 + 17, L=4, U=48)


# ---------------------------------------------------------------------------- rates


def test_holder_rate_slope_tends_to_minus_exponent():
    alpha, d, n_layers = 1.0, 2, 3
    beta = alpha / d
    for w in (1e2, 1e4, 1e8, 1e16):
        ws = w * np.array([1.0, 1.001])
        slope = _slope(ws, holder_rate(ws, n_layers, alpha=alpha, d=d))
        # d log rate / d log W = -beta (1 + 1 / log W): negative, steeper than -beta
        assert slope == pytest.approx(-beta * (1 + 1 / math.log(w)), rel=1e-3)
        assert slope < -beta
    wide = np.geomspace(1e30, 1e32, 5)
    assert _slope(wide, holder_rate(wide, n_layers, alpha=alpha, d=d)) == pytest.approx(
        -beta, rel=0.02
    )


def test_holder_rate_depth_dependence():
    # rate(W, 2L) / rate(W, L) = 2^(-alpha/d) exactly; deep regime (L = W) -> 2 alpha/d
    w = np.array([10.0, 1e3, 1e6])
    ratio = holder_rate(w, 8, alpha=0.7, d=3) / holder_rate(w, 4, alpha=0.7, d=3)
    np.testing.assert_allclose(ratio, 2.0 ** (-0.7 / 3), rtol=1e-12)
    big = np.geomspace(1e40, 1e42, 5)
    deep = _slope(big, holder_rate(big, big, alpha=0.5, d=2))
    assert deep == pytest.approx(-holder_exponent(0.5, 2, regime="deep"), rel=0.02)


@pytest.mark.parametrize(("d", "p"), [(3, 2.0), (2, 1.0), (1, 3.0)])
def test_monotone_rate_slope(d, p):
    beta = monotone_exponent(d, p)
    for w in (1e3, 1e9):
        ws = w * np.array([1.0, 1.001])
        slope = _slope(ws, monotone_rate(ws, 2, d=d, p=p))
        assert slope == pytest.approx(-beta * (1 + 1 / math.log(w)), rel=1e-3)
        assert slope < -beta
    # p = inf: no decay
    np.testing.assert_array_equal(monotone_rate(np.array([10.0, 1e6]), 3, d=d, p=INF), 1.0)


def test_rates_return_float64():
    assert isinstance(holder_rate(100, 2, alpha=1.0, d=1), np.float64)
    out = monotone_rate(np.arange(2, 6), np.array([[1], [2]]), d=2, p=1.0)
    assert out.shape == (2, 4) and out.dtype == np.float64


# ------------------------------------------------------------------ pseudo-dimension


def _one_hidden_interpolant(x, y):
    """Params of (1, k, 1) ReLU net equal to the piecewise-linear interpolant of (x, y).

    ``g(t) = y_0 + sum_j c_j relu(t - x_j)``, ``c_0`` the first slope, ``c_j`` the slope
    change at ``x_j``: k = len(x) - 1 hidden units.
    """
    slopes = np.diff(y) / np.diff(x)
    c = np.concatenate([slopes[:1], np.diff(slopes)])
    w1, b1 = np.ones((len(c), 1)), -x[:-1]
    w2, b2 = c[None, :], np.array([y[0]])
    return w1, b1, w2, b2


def _forward(params, t):
    w1, b1, w2, b2 = params
    return (np.maximum(t[:, None] @ w1.T + b1, 0.0) @ w2.T + b2)[:, 0]


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_pseudo_dimension_bound_exceeds_shattering_construction(k):
    # k + 1 points are pseudo-shattered (witnesses r_i = 0) by (1, k, 1) ReLU nets:
    # every sign pattern is realised by an interpolant with values +-1.
    x = np.linspace(0.0, 1.0, k + 1)
    for signs in itertools.product((-1.0, 1.0), repeat=k + 1):
        y = np.array(signs)
        params = _one_hidden_interpolant(x, y)
        assert params[0].shape == (k, 1) and params[2].shape == (1, k)
        np.testing.assert_allclose(_forward(params, x), y, atol=1e-12)
    assert pseudo_dimension_bound((1, k, 1)) >= k + 1


def test_pseudo_dimension_bound_hand_value():
    # (1, 4, 1): W_1 = 8, W_2 = 13, Lbar = 21 / 13, R = 1 * 4 + 2 * 1 = 6, L = 2
    expected = 2 + 21 * math.log2(4 * math.e * 6 * math.log2(2 * math.e * 6))
    assert pseudo_dimension_bound((1, 4, 1)) == pytest.approx(expected, rel=1e-12)
    # p = 2 breakpoints: 4 e p R and 2 e p R
    expected2 = 2 + 21 * math.log2(8 * math.e * 6 * math.log2(4 * math.e * 6))
    assert pseudo_dimension_bound((1, 4, 1), breakpoints=2) == pytest.approx(expected2, rel=1e-12)


def test_pseudo_dimension_bound_grows_like_w_l_log_w():
    ratios = []
    for d_in, width, depth in itertools.product((1, 8), (4, 16, 64, 256), (2, 4, 8, 16)):
        widths = widths_for(d_in, width, depth)
        size = mlp_size(widths)
        bound = pseudo_dimension_bound(widths)
        ratios.append(bound / (size.W * size.L * math.log(size.W)))
        assert bound > pseudo_dimension_bound(widths_for(d_in, width, depth - 1))
        assert bound > pseudo_dimension_bound(widths_for(d_in, max(width // 2, 1), depth))
    ratios = np.array(ratios)
    # bounded above (Lbar <= L, log R <= log(L W)) and below (Lbar >= L / 3 here)
    assert 0.5 < ratios.min() and ratios.max() < 4.0


def test_fat_shattering_bound_is_pseudo_dimension_bound():
    for gamma in (1e-6, 0.1, 10.0):
        assert fat_shattering_bound((2, 5, 5, 1), gamma) == pseudo_dimension_bound((2, 5, 5, 1))


# -------------------------------------------------------------------------- entropy


def test_entropy_orders():
    eps = np.geomspace(1e-6, 1e-2, 9)
    assert _slope(eps, holder_log_packing(eps, alpha=0.5, d=3)) == pytest.approx(-6.0, rel=1e-12)
    for d, p, power in [(2, 1.0, 2), (2, 3.0, 3), (3, 1.2, 3), (3, 2.0, 4), (1, 5.0, 1)]:
        slope = _slope(eps, monotone_log_packing(eps, d=d, p=p))
        assert slope == pytest.approx(-power, rel=1e-12)
    # critical p = d / (d - 1): eps^-d log(1/eps)^k
    crit = monotone_log_packing(eps, d=2, p=2.0) * eps**2
    k = _slope(np.log(1 / eps), crit)
    assert k == pytest.approx(CRITICAL_LOG_POWER, rel=1e-10)
    assert np.isinf(monotone_log_packing(eps, d=2, p=INF)).all()
    assert monotone_log_packing(0.1, d=2, p=1.0, constant=3.0) == pytest.approx(300.0)


# ---------------------------------------------------------------- the general bound


def _holder_packing(eps):
    return holder_log_packing(eps, alpha=1.0, d=2)


def test_general_lower_bound_is_the_largest_grid_point_meeting_the_condition():
    fat, p, b_range = 500.0, 2.0, 1.0
    grid = np.geomspace(1.0, 1e-8, 801)
    b = general_lower_bound(_holder_packing, fat, p=p, eps_grid=grid)
    assert b > 0

    def condition(x):  # the defaults: C = 1, c_M = 4, c_f = 1/8, log^2
        log_factor = max(1.0, math.log(2 * fat * b_range / x))
        return (4 * x) ** -2.0 > p * fat * log_factor**2

    assert condition(b)
    assert not any(condition(x) for x in grid[grid > b])
    # a scale-free callable gives the same as the number
    assert general_lower_bound(_holder_packing, lambda g: fat, p=p, eps_grid=grid) == b
    # scalar-only callables are evaluated point by point
    assert general_lower_bound(lambda e: math.pow(e, -2.0), fat, p=p, eps_grid=grid) == b


def test_general_lower_bound_monotone_in_its_inputs():
    grid = np.geomspace(1.0, 1e-12, 2401)
    base = general_lower_bound(_holder_packing, 1e3, p=1.0, eps_grid=grid)
    more_packing = general_lower_bound(lambda e: 10 * _holder_packing(e), 1e3, p=1.0, eps_grid=grid)
    more_fat = general_lower_bound(_holder_packing, 1e4, p=1.0, eps_grid=grid)
    larger_p = general_lower_bound(_holder_packing, 1e3, p=3.0, eps_grid=grid)
    assert more_packing > base > more_fat > 0
    assert larger_p < base
    # nothing certified if F has no packing
    assert general_lower_bound(lambda e: np.zeros_like(e), 1e3, p=1.0) == 0.0


def test_general_lower_bound_reproduces_holder_exponent():
    alpha, d, n_layers = 1.0, 2, 3
    grid = np.logspace(0.0, -30.0, 30 * 1000 + 1)

    def fitted(ws):
        bounds = [
            general_lower_bound(
                lambda e: holder_log_packing(e, alpha=alpha, d=d),
                w * n_layers * math.log(w),
                p=2.0,
                eps_grid=grid,
            )
            for w in ws
        ]
        return _slope(ws, np.array(bounds))

    small, large = fitted(np.geomspace(1e4, 1e6, 5)), fitted(np.geomspace(1e20, 1e22, 5))
    beta = alpha / d
    # slightly steeper than -alpha/d (the log factors), and closer to it for larger W
    assert -1.3 * beta < small < large < -beta
    assert large == pytest.approx(-beta, rel=0.1)


def test_holder_and_monotone_lower_bounds():
    ws = np.geomspace(1e3, 1e7, 5)
    hb = holder_lower_bound(ws, 4, alpha=1.0, d=2, p=2.0)
    assert (np.diff(hb) < 0).all() and (hb > 0).all()
    assert -0.5 * 1.3 < _slope(ws, hb) < -0.5
    # p = inf: the p = 1 bound (sup norm >= L^1)
    np.testing.assert_array_equal(
        holder_lower_bound(ws, 4, alpha=1.0, d=2, p=INF),
        holder_lower_bound(ws, 4, alpha=1.0, d=2, p=1.0),
    )
    # the (W, L) fat bound is >= the widths one, so the bound is <= the widths bound
    widths = widths_for(2, 30, 4)
    size = mlp_size(widths)
    from_widths = general_lower_bound(
        lambda e: holder_log_packing(e, alpha=1.0, d=2),
        pseudo_dimension_bound(widths),
        p=2.0,
        value_range=2.0,
    )
    assert 0 < holder_lower_bound(size.W, size.L, alpha=1.0, d=2, p=2.0) <= from_widths
    mb = monotone_lower_bound(ws, 3, d=3, p=2.0)
    assert (np.diff(mb) < 0).all()
    assert -0.25 * 1.3 < _slope(ws, mb) < -0.25
    np.testing.assert_array_equal(monotone_lower_bound(ws, 3, d=3, p=INF), 0.5)


# -------------------------------------------------------------------- bad inputs


def test_bad_inputs(user_checks):
    with user_checks():
        for call, match in [
            (lambda: holder_exponent(0.0, 2), "alpha must be a positive number"),
            (lambda: holder_rate(10, 2, alpha=-1.0, d=2), "alpha must be a positive number"),
            (lambda: holder_log_packing(0.1, alpha=0, d=1), "alpha must be a positive number"),
            (lambda: holder_exponent(1.0, 0), "d must be a positive integer"),
            (lambda: monotone_exponent(0, 2.0), "d must be a positive integer"),
            (lambda: monotone_exponent(1.5, 2.0), "d must be a positive integer"),
            (lambda: monotone_exponent(2, 0.5), r"p must be a number in \[1, inf\]"),
            (lambda: monotone_rate(10, 2, d=2, p=0.9), r"p must be a number in \[1, inf\]"),
            (lambda: holder_lower_bound(10, 2, alpha=1, d=1, p=0.0), "p must be a number"),
            (lambda: mlp_size((2, 0, 1)), r"widths\[1\] must be a positive integer"),
            (lambda: pseudo_dimension_bound((0, 3, 1)), r"widths\[0\] must be a positive"),
            (lambda: mlp_size((3,)), "widths must list d_0, ..., d_L"),
            (lambda: pseudo_dimension_bound((1, 2, 1), breakpoints=0), "breakpoints must be"),
            (lambda: fat_shattering_bound((1, 2, 1), 0.0), "gamma must be a positive number"),
            (lambda: widths_for(2, 0, 3), "width must be a positive integer"),
            (lambda: widths_for(2, 4, 0), "depth must be a positive integer"),
            (lambda: holder_exponent(1.0, 2, regime="wide"), "regime must be one of"),
            (lambda: holder_rate(1.0, 2, alpha=1, d=1), "W must be >= 2"),
            (lambda: holder_rate(10, 0.5, alpha=1, d=1), "L must be >= 1"),
            (lambda: monotone_log_packing(0.0, d=2, p=1.0), "eps must be > 0"),
            (lambda: general_lower_bound(_holder_packing, 5.0, p=INF), "p must be finite"),
            (lambda: general_lower_bound(3.0, 5.0, p=1.0), "log_packing must be a callable"),
            (lambda: general_lower_bound(_holder_packing, -1.0, p=1.0), "fat_dim must be"),
            (
                lambda: general_lower_bound(_holder_packing, lambda g: -g, p=1.0),
                "fat_dim must return numbers >= 0",
            ),
            (
                lambda: general_lower_bound(_holder_packing, 5.0, p=1.0, value_range=0.0),
                "value_range must be a positive number",
            ),
            (
                lambda: general_lower_bound(_holder_packing, 5.0, p=1.0, eps_grid=[0.1, -1.0]),
                "eps_grid must be > 0",
            ),
        ]:
            with pytest.raises(ValueError, match=match):
                call()
