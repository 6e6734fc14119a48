"""L^p estimates against closed forms (polynomials, indicators), Monte Carlo errors inside
their standard errors over many seeds, and the sup search beating the grid on peaks that
sit between grid nodes."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.approximation import (
    holder_instance,
    holder_instance_norm,
    lp_distance,
    lp_errors,
    lp_norm,
    smooth_target,
    sup_norm,
)

INF = math.inf


@dataclasses.dataclass(frozen=True)
class Monomial:
    """x -> x_0^k: a pytree without leaves, so one compiled program per (k, kind, n)."""

    k: int

    def __call__(self, x):
        return x[:, 0] ** self.k


@dataclasses.dataclass(frozen=True)
class Indicator:
    """x -> 1[x_0 < a]."""

    a: float

    def __call__(self, x):
        return (x[:, 0] < self.a).astype(x.dtype)


@dataclasses.dataclass(frozen=True)
class Peak:
    """exp(-|x - centre|^2 / width^2), maximum 1 at centre."""

    centre: tuple
    width: float

    def __call__(self, x):
        c = jnp.asarray(self.centre, x.dtype)
        return jnp.exp(-jnp.sum((x - c[None, :]) ** 2, axis=1) / self.width**2)


@dataclasses.dataclass(frozen=True)
class Scaled:
    """x -> w x_0, counting its traces."""

    w: jax.Array
    traces = 0

    def __call__(self, x):
        Scaled.traces += 1
        return self.w * x[:, 0]


jax.tree_util.register_dataclass(Scaled, data_fields=["w"], meta_fields=[])

for cls, fields in ((Monomial, ["k"]), (Indicator, ["a"]), (Peak, ["centre", "width"])):
    jax.tree_util.register_dataclass(cls, data_fields=[], meta_fields=fields)


def _poly2_norm(p):
    # f = (x^2 + y^2) / 2 on [0,1]^2: E f = 1/3, E f^2 = 7/45, E f^3 = 3/35
    return {1.0: 1 / 3, 2.0: 7 / 45, 3.0: 3 / 35}[p] ** (1 / p)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_closed_forms_grid_and_monte_carlo(p):
    key = jax.random.key(0)
    cube = Monomial(3)
    true = (1.0 / (3 * p + 1)) ** (1 / p)  # ||x^3||_p on [0, 1]
    grid = lp_norm(cube, d=1, p=p)
    assert grid.method == "grid" and grid.n_points == 4096 and math.isnan(grid.stderr)
    assert grid.value == pytest.approx(true, rel=1e-5)
    mc = lp_norm(cube, d=1, p=p, method="monte_carlo", key=key, points=2**14)
    assert mc.method == "monte_carlo" and mc.n_points == 2**14
    assert 0 < mc.stderr < 0.02 and abs(mc.value - true) < 4 * mc.stderr

    poly = smooth_target("polynomial", d=2)
    grid = lp_norm(poly, d=2, p=p)
    assert grid.n_points == 256**2
    assert grid.value == pytest.approx(_poly2_norm(p), rel=1e-5)
    mc = lp_norm(poly, d=2, p=p, method="monte_carlo", key=key, points=2**14)
    assert abs(mc.value - _poly2_norm(p)) < 4 * mc.stderr

    # indicator of {x_1 < a}: ||.||_p = a^(1/p); the grid counts nodes, an error <= 1/M in
    # the measure
    ind = Indicator(0.3)
    grid = lp_norm(ind, d=2, p=p)
    assert abs(grid.value**p - 0.3) <= 1 / 256
    mc = lp_norm(ind, d=2, p=p, method="monte_carlo", key=key, points=2**14)
    assert abs(mc.value - 0.3 ** (1 / p)) < 4 * mc.stderr
    # d = 3 defaults to Monte Carlo
    auto = lp_norm(Indicator(0.3), d=3, p=p, key=key, points=2**14)
    assert auto.method == "monte_carlo" and abs(auto.value - 0.3 ** (1 / p)) < 4 * auto.stderr


def test_grid_in_three_dimensions_and_chunks():
    poly = smooth_target("polynomial", d=3)
    est = lp_norm(poly, d=3, p=1.0, method="grid", points=32, chunk=5000)  # 32768 = 6.6 chunks
    assert est.n_points == 32**3 and est.value == pytest.approx(1 / 3, rel=1e-3)
    whole = lp_norm(poly, d=3, p=1.0, method="grid", points=32)
    assert est.value == pytest.approx(whole.value, rel=1e-6)


def _z_scores(fn, d, p, true, seeds, n):
    z = []
    for s in range(seeds):
        est = lp_norm(fn, d=d, p=p, method="monte_carlo", key=jax.random.key(s), points=n)
        z.append((est.value - true) / est.stderr)
    return np.asarray(z)


@pytest.mark.parametrize("case", ["monomial", "holder"])
def test_monte_carlo_errors_match_their_standard_errors(case):
    if case == "monomial":
        fn, d, p, true = Monomial(3), 1, 3.0, (1 / 10) ** (1 / 3)
    else:
        # a different instance per seed would do as well (the norm does not depend on the
        # signs); one instance keeps one compiled program
        fn = holder_instance(jax.random.key(7), d=2, cells_per_side=4, alpha=0.5)
        d, p = 2, 2.0
        true = holder_instance_norm(d=2, cells_per_side=4, alpha=0.5, constant=1.0, p=p)
    z = _z_scores(fn, d, p, true, seeds=120, n=2048)
    # z ~ N(0, 1) approximately: 95% within 2; the mean of z^2 is ~1 (sd ~0.13 here)
    assert np.mean(np.abs(z) < 2) >= 0.85
    assert 0.5 <= np.mean(z**2) <= 2.0
    assert abs(np.mean(z)) < 0.4  # no visible bias (sd of the mean ~0.09)


def test_sup_search_finds_peaks_between_grid_nodes():
    key = jax.random.key(0)
    h = 1 / 2047  # the default d = 1 grid: 2048 nodes j / 2047
    peak = Peak((1000.5 * h,), h / 4)
    nodes = np.linspace(0, 1, 2048)
    grid_max = float(np.max(np.exp(-((nodes - 1000.5 * h) ** 2) / (h / 4) ** 2)))
    assert grid_max < 0.02
    est = sup_norm(peak, d=1, key=key)
    assert est.method == "sup_search" and est.p == INF and math.isnan(est.stderr)
    assert est.n_points == 2048 + 16 * 64
    assert 1 - 1e-3 <= est.value <= 1 + 1e-6

    # 2-D: the default 128 x 128 grid, the peak at the centre of one grid square
    h2 = 1 / 127
    peak2 = Peak((40.5 * h2, 90.5 * h2), h2 / 3)
    est = sup_norm(peak2, d=2, key=key)
    assert 1 - 1e-3 <= est.value <= 1 + 1e-6
    # lp_norm with p = inf is the sup search
    via_lp = lp_norm(peak2, d=2, p=INF, key=key)
    assert via_lp.method == "sup_search" and via_lp.value == est.value

    # in d = 3 the dense points are samples; the product target's max 1 at the centre
    est = sup_norm(smooth_target("product", d=3), d=3, key=key, points=4096)
    assert 1 - 1e-3 <= est.value <= 1 + 1e-6


@pytest.mark.parametrize("steps", [0, 8])
def test_sup_search_is_never_below_the_grid_maximum(steps):
    f = holder_instance(jax.random.key(3), d=2, cells_per_side=3, alpha=0.5)
    nodes = np.linspace(0, 1, 20)
    grid = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), axis=-1).reshape(-1, 2)
    grid_max = float(np.max(np.abs(np.asarray(f(grid)))))
    est = sup_norm(f, d=2, key=jax.random.key(0), points=20, steps=steps)
    assert est.value >= grid_max
    if steps == 0:
        assert est.value == pytest.approx(grid_max, rel=1e-6)
    # the true sup (1/2 * (1/3)^0.5, at the centres) is never exceeded
    assert est.value <= 0.5 * (1 / 3) ** 0.5 * (1 + 1e-6)


def test_distances_and_errors():
    f = smooth_target("product", d=2)
    g = smooth_target("polynomial", d=2)
    key = jax.random.key(0)
    assert lp_distance(f, f, d=2, p=2.0).value == 0.0
    # ||f - g||_1 against a float64 numpy midpoint rule
    t = (np.arange(256) + 0.5) / 256
    x, y = np.meshgrid(t, t, indexing="ij")
    diff = np.sin(np.pi * x) * np.sin(np.pi * y) - (x**2 + y**2) / 2
    errs = lp_errors(f, g, d=2, key=key, ps=(1.0, 2.0, INF), steps=16)
    assert set(errs) == {1.0, 2.0, INF}
    assert errs[1.0].value == pytest.approx(np.mean(np.abs(diff)), rel=1e-5)
    assert errs[2.0].value == pytest.approx(np.sqrt(np.mean(diff**2)), rel=1e-5)
    # sup |f - g| = 1 at (1, 1) (sin = 0, mean of squares = 1): a corner of the grid
    assert errs[INF].value == pytest.approx(1.0, abs=1e-6)
    # the L^p norms are ordered in p on a probability space
    assert errs[1.0].value <= errs[2.0].value <= errs[INF].value


def test_fn_as_a_plain_closure_and_jit_reuse():
    w = jnp.asarray([0.5, -2.0])
    est = lp_norm(lambda x: x @ w, d=2, p=2.0)
    # E (x/2 - 2y)^2 = 1/12 - 1/2 + 4/3
    assert est.value == pytest.approx(math.sqrt(1 / 12 - 1 / 2 + 4 / 3), rel=1e-5)


def test_bad_inputs(user_checks):
    f = smooth_target("sine", d=2)
    key = jax.random.key(0)
    with user_checks():
        with pytest.raises(ValueError, match=r"p must be a number in \[1, inf\]"):
            lp_norm(f, d=2, p=0.5)
        with pytest.raises(ValueError, match="key is required for method='monte_carlo'"):
            lp_norm(f, d=2, p=2.0, method="monte_carlo")
        with pytest.raises(ValueError, match="key is required for p = inf"):
            lp_norm(f, d=2, p=INF)
        with pytest.raises(ValueError, match="key is required by sup_norm"):
            sup_norm(f, d=2, key=None)
        with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
            lp_norm(f, d=2, p=1.0, method="monte_carlo", key=3)
        with pytest.raises(ValueError, match="method must be one of"):
            lp_norm(f, d=2, p=1.0, method="simpson")
        with pytest.raises(ValueError, match="method='grid' is for d <= 3"):
            lp_norm(smooth_target("sine", d=4), d=4, p=1.0, method="grid")
        with pytest.raises(ValueError, match="chunk must be a positive integer"):
            lp_norm(f, d=2, p=1.0, chunk=0)
        with pytest.raises(ValueError, match="points must be an integer >= 1"):
            lp_norm(f, d=2, p=1.0, points=0)
        with pytest.raises(ValueError, match="starts must be a positive integer"):
            sup_norm(f, d=2, key=key, starts=0)
        with pytest.raises(ValueError, match="radius must be a positive number"):
            sup_norm(f, d=2, key=key, radius=-1.0)
        with pytest.raises(ValueError, match="fn must be a callable"):
            lp_norm(3.0, d=2, p=1.0)
        with pytest.raises(ValueError, match=r"fn must map points of shape \(n, d\) to values"):
            lp_norm(lambda x: x, d=2, p=1.0, points=4)
        with pytest.raises(ValueError, match="unknown options"):
            lp_errors(f, f, d=2, key=key, startz=3)
        with pytest.raises(ValueError, match="ps entries must be a number"):
            lp_errors(f, f, d=2, key=key, ps=(0.0,))


def test_closures_are_not_cached_across_state_changes():
    # a closure reading mutable state (a network trained in place, here a dict) is traced
    # again at every call: the second estimate sees the new weight
    state = {"w": jnp.asarray(1.0)}

    def fn(x):
        return state["w"] * x[:, 0]

    assert lp_norm(fn, d=1, p=1.0, points=64).value == pytest.approx(0.5, rel=1e-6)
    state["w"] = jnp.asarray(3.0)
    assert lp_norm(fn, d=1, p=1.0, points=64).value == pytest.approx(1.5, rel=1e-6)
    # a pytree's arrays are arguments of the program: a new array is read, and the
    # program is reused (no new trace)
    first = lp_norm(Scaled(jnp.asarray(1.0)), d=1, p=1.0, points=64)
    traces = Scaled.traces
    second = lp_norm(Scaled(jnp.asarray(3.0)), d=1, p=1.0, points=64)
    assert (first.value, second.value) == pytest.approx((0.5, 1.5), rel=1e-6)
    assert Scaled.traces == traces
