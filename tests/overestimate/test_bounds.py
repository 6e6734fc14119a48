"""Certified output bounds of dense networks over boxes (IBP and CROWN).

References are independent of the code under test: a numpy float64 forward pass on
dense samples and corners of each box, the closed-form range of an affine map, and
the exact minimum of a network with non-negative weights at the lower corner.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.overestimate import _bounds
from jaxorth.overestimate._bounds import crown_bounds, interval_bounds

ACTS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}


def _network(rng, widths, scale=1.0):
    return [
        (scale * rng.standard_normal((o, i)) / np.sqrt(i), 0.5 * rng.standard_normal(o))
        for i, o in itertools.pairwise(widths)
    ]


def _forward(layers, x, activation):
    """numpy float64 reference: x of shape (..., d) -> (..., out)."""
    h = np.asarray(x, np.float64)
    for k, (w, b) in enumerate(layers):
        if k:
            h = ACTS[activation](h)
        h = h @ np.asarray(w, np.float64).T + np.asarray(b, np.float64)
    return h


def _boxes(rng, d):
    """Small, large and partly degenerate boxes around random centres."""
    half = np.array([0.02, 0.1, 0.5, 1.0, 2.0, 0.3])[:, None] * rng.uniform(0.5, 1.0, (6, d))
    half[-1, 0] = 0.0  # one box is flat along its first axis
    centre = rng.uniform(-1.0, 1.0, (6, d))
    return centre - half, centre + half


def _samples(rng, lower, upper, count=2000):
    n, d = lower.shape
    corners = np.array(list(itertools.product((0.0, 1.0), repeat=d)))  # (2^d, d)
    t = np.concatenate(
        [np.broadcast_to(corners, (n, *corners.shape)), rng.uniform(size=(n, count, d))], 1
    )
    return lower[:, None, :] + t * (upper - lower)[:, None, :]


def _method(name, activation):
    if name == "interval":
        return lambda layers, lo, up: interval_bounds(layers, lo, up, activation=activation)
    if name == "crown":
        return lambda layers, lo, up: crown_bounds(layers, lo, up, activation=activation)

    def raw(layers, lo, up):  # CROWN alone, not rescued by the intersections with IBP
        weights = tuple(jnp.asarray(w) for w, _ in layers)
        biases = tuple(jnp.asarray(b) for _, b in layers)
        lo, up = jnp.asarray(lo), jnp.asarray(up)
        return _bounds._crown(weights, biases, lo, up, activation, with_interval=False)

    return raw


WIDE, DEEP = [2, 16, 16, 1], [3, 8, 8, 2]


@pytest.mark.parametrize(
    ("widths", "activation", "method"),
    [
        *itertools.product([WIDE, DEEP], ["relu", "tanh"], ["interval", "crown"]),
        (WIDE, "sigmoid", "interval"),
        (WIDE, "sigmoid", "crown"),
        *itertools.product([WIDE], ["relu", "tanh"], ["raw_crown"]),
    ],
)
def test_bounds_are_sound_against_brute_force(widths, activation, method, x64):
    rng = np.random.default_rng(len(widths) * 10 + len(activation))
    bounds = _method(method, activation)
    for _ in range(3):
        layers = _network(rng, widths, scale=2.0)
        lower, upper = _boxes(rng, widths[0])
        values = _forward(layers, _samples(rng, lower, upper), activation)  # (n, S, out)
        lo, hi = bounds(layers, lower, upper)
        assert lo.dtype == hi.dtype == jnp.float64
        assert lo.shape == hi.shape == (6, widths[-1])
        assert np.all(np.asarray(lo) <= values.min(axis=1) + 1e-12)
        assert np.all(np.asarray(hi) >= values.max(axis=1) - 1e-12)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_relaxation_lines_enclose_the_activation(activation, x64):
    # the lines of every case (stable, crossing, convex/concave side, tiny, degenerate)
    rng = np.random.default_rng(3)
    a = rng.uniform(-6, 6, 400)
    b = a + np.concatenate([rng.uniform(0, 8, 300), np.full(50, 1e-9), np.zeros(50)])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    lo[:5], hi[:5] = [-3.0, -1e-3, 0.0, -2.0, -0.5], [1e-3, 3.0, 0.0, 0.0, 7.0]
    a_lo, b_lo, a_up, b_up = (
        np.asarray(x)
        for x in jax.jit(_bounds._lines, static_argnums=0)(
            activation, jnp.asarray(lo), jnp.asarray(hi)
        )
    )
    z = lo[:, None] + np.linspace(0, 1, 1001)[None, :] * (hi - lo)[:, None]
    y = ACTS[activation](z)
    assert np.all(a_lo[:, None] * z + b_lo[:, None] <= y + 1e-12)
    assert np.all(a_up[:, None] * z + b_up[:, None] >= y - 1e-12)


def test_one_affine_layer_is_exact(x64):
    rng = np.random.default_rng(1)
    w, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    lower = rng.uniform(-2, 0, (7, 4))
    upper = lower + rng.uniform(0, 2, (7, 4))
    # closed form, elementwise over the box: min and max of w_j x_j at the ends
    ends = np.stack([w[None] * lower[:, None, :], w[None] * upper[:, None, :]])
    exact_lo = ends.min(axis=0).sum(-1) + b
    exact_hi = ends.max(axis=0).sum(-1) + b
    for method in (interval_bounds, crown_bounds):
        for activation in ("relu", "tanh"):  # no activation is applied to a single layer
            lo, hi = method([(w, b)], lower, upper, activation=activation)
            np.testing.assert_allclose(lo, exact_lo, rtol=1e-13, atol=1e-13)
            np.testing.assert_allclose(hi, exact_hi, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_crown_on_degenerate_boxes_is_the_value(activation, x64):
    rng = np.random.default_rng(2)
    layers = _network(rng, WIDE, scale=2.0)  # the shapes of the tests above: compiled once
    x = rng.uniform(-1, 1, (6, 2))
    x[0] = 0.0  # relu pre-activations equal to their bias
    lo, hi = crown_bounds(layers, x, x, activation=activation)
    fx = _forward(layers, x, activation)
    np.testing.assert_allclose(lo, fx, rtol=0, atol=1e-13)
    np.testing.assert_allclose(hi, fx, rtol=0, atol=1e-13)


def test_crown_is_tighter_than_interval_on_small_boxes(x64):
    rng = np.random.default_rng(4)
    ratios = []
    for _ in range(8):
        layers = _network(rng, WIDE, scale=2.0)
        centre = rng.uniform(-1, 1, (6, 2))
        lower, upper = centre - 0.05, centre + 0.05
        i_lo, i_hi = interval_bounds(layers, lower, upper)
        c_lo, c_hi = crown_bounds(layers, lower, upper)
        assert np.all(np.asarray(c_lo) >= np.asarray(i_lo))  # by construction
        assert np.all(np.asarray(c_hi) <= np.asarray(i_hi))
        ratios.append(np.mean((c_hi - c_lo) / (i_hi - i_lo)))
    # measured: 0.24 (per network 0.15 to 0.40): CROWN is ~4x narrower than IBP here
    assert np.mean(ratios) < 0.4


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_non_negative_weights_reach_the_minimum_at_the_lower_corner(activation, x64):
    rng = np.random.default_rng(5)
    # dyadic weights, biases and boxes: IBP's arithmetic is exact for relu
    layers = [
        (rng.integers(0, 9, (o, i)) / 8.0, rng.integers(-8, 9, o) / 8.0)
        for i, o in itertools.pairwise(WIDE)
    ]
    lower = rng.integers(-16, 16, (6, 2)) / 16.0
    upper = lower + rng.integers(0, 16, (6, 2)) / 16.0
    f_lower, f_upper = _forward(layers, lower, activation), _forward(layers, upper, activation)
    i_lo, i_hi = interval_bounds(layers, lower, upper, activation=activation)
    c_lo, c_hi = crown_bounds(layers, lower, upper, activation=activation)
    if activation == "relu":
        np.testing.assert_array_equal(i_lo, f_lower)
        np.testing.assert_array_equal(i_hi, f_upper)
    else:
        np.testing.assert_allclose(i_lo, f_lower, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(i_hi, f_upper, rtol=1e-13, atol=1e-13)
    assert np.all(np.asarray(c_lo) <= f_lower + 1e-13)
    assert np.all(np.asarray(c_hi) >= f_upper - 1e-13)


def test_dtypes():
    # the promoted dtype of the layers and the boxes (one layer: the dtype logic is the
    # same for any depth, and the float64 runs of the deeper tests check the rest)
    w, b = np.array([[1.0, -2.0]]), np.array([0.5])
    lower, upper = np.zeros((3, 2)), np.ones((3, 2))
    layers32 = [(jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32))]
    from jaxorth._precision import float64

    for method in (interval_bounds, crown_bounds):
        lo, hi = method(layers32, lower, upper)
        assert lo.dtype == hi.dtype == jnp.float32
        with float64():
            lo, hi = method([(jnp.asarray(w), jnp.asarray(b))], lower, upper)
            assert lo.dtype == hi.dtype == jnp.float64
            # a float64 box is not rounded to the float32 layers' dtype
            lo, hi = method(layers32, lower, upper)
            assert lo.dtype == hi.dtype == jnp.float64


def test_a_float64_box_is_rounded_outward_to_float32():
    # x64 off: a numpy float64 box becomes float32 without shrinking
    layers = [(jnp.ones((1, 1), jnp.float32), jnp.zeros(1, jnp.float32))]
    x = np.array([[0.1], [0.3], [-0.7]])
    for method in (interval_bounds, crown_bounds):
        lo, hi = method(layers, x, x)
        assert lo.dtype == jnp.float32
        assert np.all(np.asarray(lo, np.float64) <= x)
        assert np.all(np.asarray(hi, np.float64) >= x)
        assert np.all(np.asarray(lo) < np.asarray(hi))  # none of these is a float32


def test_crown_bounds_runs_under_jit():
    # under jit the value checks are skipped (tracers), the shape checks still run;
    # interval_bounds goes through the same checks
    rng = np.random.default_rng(7)
    layers = [
        (jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32))
        for w, b in _network(rng, [2, 3, 1])
    ]
    lower = jnp.asarray(rng.uniform(-1, 0, (5, 2)), jnp.float32)
    eager = crown_bounds(layers, lower, lower + 0.5)
    jitted = jax.jit(lambda lo, up: crown_bounds(layers, lo, up))(lower, lower + 0.5)
    assert jitted[0].dtype == jnp.float32
    np.testing.assert_allclose(jitted[0], eager[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(jitted[1], eager[1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["_interval", "_crown"])
def test_cores_are_traced_once_per_shape(name, monkeypatch):
    import chex

    chex.clear_trace_counter()
    counted = jax.jit(
        chex.assert_max_traces(getattr(_bounds, name).__wrapped__, n=1),
        static_argnames=("activation",),
    )
    monkeypatch.setattr(_bounds, name, counted)
    method = interval_bounds if name == "_interval" else crown_bounds
    rng = np.random.default_rng(8)
    for _ in range(3):  # new values, same shapes: one trace
        layers = _network(rng, [2, 4, 1])
        layers = [(jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32)) for w, b in layers]
        lower = rng.uniform(-1, 0, (6, 2)).astype(np.float32)
        method(layers, lower, lower + 0.25, activation="tanh")
    with pytest.raises(AssertionError, match="traced > 1 times"):
        method(layers, np.zeros((7, 2), np.float32), np.ones((7, 2), np.float32), activation="tanh")


_W = np.ones((4, 2))
_OK = [(_W, np.zeros(4)), (np.ones((1, 4)), np.zeros(1))]


@pytest.mark.parametrize(
    ("layers", "lower", "upper", "kwargs", "match"),
    [
        ([], np.zeros((1, 2)), np.ones((1, 2)), {}, r"layers must hold at least one \(W, b\) pair"),
        (_W, np.zeros((1, 2)), np.ones((1, 2)), {}, r"layers must be a sequence of \(W, b\) pairs"),
        (
            [(_W,)],
            np.zeros((1, 2)),
            np.ones((1, 2)),
            {},
            r"layers\[0\] must be a pair \(W, b\), got a tuple of length 1",
        ),
        (
            [(np.ones(4), np.zeros(4))],
            np.zeros((1, 2)),
            np.ones((1, 2)),
            {},
            r"layers\[0\]: W must have shape \(out, in\).*\(4,\)",
        ),
        (
            [(_W, np.zeros(3))],
            np.zeros((1, 2)),
            np.ones((1, 2)),
            {},
            r"layers\[0\]: b must have shape \(out,\) = \(4,\).*got shape \(3,\)",
        ),
        (
            [(_W, np.zeros(4)), (np.ones((1, 3)), np.zeros(1))],
            np.zeros((1, 2)),
            np.ones((1, 2)),
            {},
            r"layers\[1\] does not chain with layers\[0\]: W of layers\[1\] has shape "
            r"\(1, 3\).*layers\[0\] has 4 outputs \(W of shape \(4, 2\)\)",
        ),
        (
            _OK,
            np.zeros((1, 3)),
            np.ones((1, 3)),
            {},
            r"lower must have shape \(n, d\) with d = 2.*got shape \(1, 3\)",
        ),
        (
            _OK,
            np.zeros(2),
            np.ones(2),
            {},
            r"lower must have shape \(n, d\) with d = 2.*got shape \(2,\)",
        ),
        (
            _OK,
            np.zeros((2, 2)),
            np.ones((3, 2)),
            {},
            r"upper must have the same shape .* as lower, \(2, 2\), got shape \(3, 2\)",
        ),
        (
            _OK,
            np.array([[0.0, 0.0], [0.0, 2.0], [1.0, 1.0]]),
            np.ones((3, 2)),
            {},
            r"lower must be <= upper in every entry: row 1 has lower\[1, 1\] = 2.0 > "
            r"upper\[1, 1\] = 1.0 \(1 of 3 rows",
        ),
        (_OK, np.zeros((1, 2)), np.full((1, 2), np.inf), {}, r"upper must be finite"),
        (
            [(_W * np.nan, np.zeros(4))],
            np.zeros((1, 2)),
            np.ones((1, 2)),
            {},
            r"layers\[0\] W must be finite",
        ),
        (
            _OK,
            np.zeros((1, 2)),
            np.ones((1, 2)),
            {"activation": "gelu"},
            r"activation must be one of 'relu', 'tanh', 'sigmoid'; got 'gelu'",
        ),
    ],
)
@pytest.mark.parametrize("method", [interval_bounds, crown_bounds])
def test_bad_input(method, layers, lower, upper, kwargs, match, user_checks):
    with user_checks(), pytest.raises(ValueError, match=match):
        method(layers, lower, upper, **kwargs)
