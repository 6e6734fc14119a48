"""Certified overestimators: g >= f on the whole box, for both routes (float64 checks)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.overestimate import (
    FUNCTIONS,
    MLP,
    MonotoneMLP,
    asymmetric_loss,
    certified_surrogate,
    certify,
    certify_bounds,
    fit_full_batch,
    majoring_points,
    overestimate,
)

GRID = {1: 10001, 2: 301, 3: 41}


def _dense_and_random(fn, n_random=100_000, seed=0):
    axes = [np.linspace(lo, up, GRID[fn.d]) for lo, up in zip(fn.lower, fn.upper)]
    grid = np.stack([m.reshape(-1) for m in np.meshgrid(*axes, indexing="ij")], axis=1)
    lo, up = np.asarray(fn.lower), np.asarray(fn.upper)
    rand = lo + (up - lo) * np.random.default_rng(seed).uniform(size=(n_random, fn.d))
    return np.concatenate([grid, rand])


def _majoring(fn, rel_delta=0.1, max_depth=6):
    top = np.where(np.asarray(fn.directions) > 0, fn.upper, fn.lower)[None]
    bottom = np.where(np.asarray(fn.directions) > 0, fn.lower, fn.upper)[None]
    delta = rel_delta * float(fn.f(top)[0] - fn.f(bottom)[0])
    return majoring_points(
        fn.f, fn.lower, fn.upper, delta=delta, max_depth=max_depth, directions=fn.directions
    )


def test_asymmetric_loss_weights_underestimation():
    pred = jnp.array([0.0, 2.0, 1.0])
    target = jnp.array([1.0, 1.0, 1.0])
    # (10 * 1^2 + 1^2 + 0) / 3
    assert float(asymmetric_loss(pred, target, under_weight=10.0)) == pytest.approx(11.0 / 3)
    assert float(asymmetric_loss(pred, target, under_weight=1.0)) == pytest.approx(2.0 / 3)


def test_certify_bounds_shift_is_the_largest_violation_plus_margin():
    cert = certify_bounds([0.0, 1.0, 5.0], [0.5, 0.8, 5.25], rel_margin=1e-9)
    assert cert.max_violation == pytest.approx(0.5)
    assert cert.violations == 2
    assert cert.margin == pytest.approx(1e-9 * 6.25)
    assert cert.shift == pytest.approx(0.5 + 1e-9 * 6.25)
    assert cert.min_slack >= 0 and cert.min_slack == pytest.approx(cert.margin)
    # already above everywhere: no shift but the margin
    assert certify_bounds([1.0, 2.0], [0.0, 0.0]).max_violation == 0.0


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_any_network_certified_by_either_route_overestimates_everywhere(x64, name):
    """The guarantee does not depend on training: random (untrained) networks, each route."""
    fn = FUNCTIONS[name]
    pts = _majoring(fn)
    x = _dense_and_random(fn)
    fx = fn.f(x)
    mono = MonotoneMLP(fn.d, [8, 8], directions=fn.directions, rngs=nnx.Rngs(1))
    free = MLP(fn.d, [8, 8], rngs=nnx.Rngs(2))
    shifts = {}
    for model, route in ((mono, "monotone"), (free, "ibp"), (free, "crown")):
        g = certified_surrogate(model, pts, route=route, mu=1.0, sigma=0.5)
        gap = g(x) - fx
        assert gap.min() >= 0.0, (name, route, gap.min())
        assert g.certificate.min_slack >= 0.0
        # the per-cell bounds the shift was computed from: lifted by it, above f(top)
        lows = g.cell_lower_bounds()
        assert lows.shape == (pts.n_cells,) and (lows + g.shift >= pts.f_top).all()
        if route == "monotone":  # the bound of a monotone network is its anchor value
            np.testing.assert_allclose(lows, g.unshifted(pts.anchors), rtol=1e-12, atol=1e-12)
        assert g.contains(x).all() and not g.contains(np.asarray([fn.upper]) + 1.0).any()
        shifts[route] = g.shift
    # CROWN's bounds are never looser than IBP's: its shift is never larger
    assert shifts["crown"] <= shifts["ibp"] + 1e-12


def test_certify_agrees_with_the_per_cell_route_on_a_monotone_network(x64):
    """Pruned points give the same shift as every cell (pruned points are implied)."""
    fn = FUNCTIONS["tanh_2d"]
    pts = _majoring(fn, 0.05, 7)
    g = certified_surrogate(MonotoneMLP(2, [8], rngs=nnx.Rngs(0)), pts)
    direct = certify(g.unshifted, pts)
    assert direct.shift == pytest.approx(g.shift, rel=1e-12)
    assert direct.n == pts.n_points < pts.n_cells


@pytest.mark.parametrize(("name", "route"), [("tanh_2d", "monotone"), ("steep_1d", "crown")])
def test_overestimate_end_to_end_is_certified_and_training_tightens(name, route):
    fn = FUNCTIONS[name]
    x = _dense_and_random(fn)
    fx = fn.f(x)
    kwargs = dict(
        delta=0.05,
        key=jax.random.PRNGKey(0),
        widths=[16, 16],
        max_depth=7,
        directions=fn.directions,
        route=route,
    )
    trained = overestimate(fn.f, fn.lower, fn.upper, steps=400, **kwargs)
    untrained = overestimate(fn.f, fn.lower, fn.upper, train=lambda m, loss, data: m, **kwargs)
    for g in (trained, untrained):
        assert (g(x) - fx).min() >= 0.0
        assert g.points is not None and g.shift >= 0
    over_trained = float((trained(x) - fx).mean())
    over_untrained = float((untrained(x) - fx).mean())
    assert over_trained < 0.5 * over_untrained, (over_trained, over_untrained)
    assert set(trained.seconds) == {"majoring", "training", "certify"}


def test_bad_routes_and_mismatches(user_checks):
    pts = _majoring(FUNCTIONS["steps_2d"])
    with user_checks():
        with pytest.raises(ValueError, match="route must be one of"):
            certified_surrogate(MLP(2, [4], rngs=nnx.Rngs(0)), pts, route="lp")
        with pytest.raises(ValueError, match="route='monotone' needs a MonotoneMLP"):
            certified_surrogate(MLP(2, [4], rngs=nnx.Rngs(0)), pts, route="monotone")
        with pytest.raises(ValueError, match=r"directions \(1, 1\) differ"):
            certified_surrogate(MonotoneMLP(2, [4], rngs=nnx.Rngs(0)), pts)
        with pytest.raises(ValueError, match="sigma must be"):
            certified_surrogate(MLP(2, [4], rngs=nnx.Rngs(0)), pts, route="ibp", sigma=0.0)
        with pytest.raises(ValueError, match="same length"):
            certify_bounds([0.0, 1.0], [1.0])
        with pytest.raises(ValueError, match="values must be finite"):
            certify_bounds([0.0], [np.nan])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lower": [], "upper": []}, "lower must have at least one entry"),
        ({"lower": [0, 0], "upper": [1]}, r"upper must have length d=len\(lower\)=2"),
        ({"lower": [0, 1], "upper": [1, 1]}, r"lower\[1\]=1.0 >= upper\[1\]=1.0"),
        ({"widths": [0]}, r"widths\[0\] must be a positive integer"),
        ({"route": "lp"}, "route must be one of"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"learning_rate": 0.0}, "learning_rate must be"),
        ({"under_weight": -1.0}, "under_weight must be"),
    ],
)
def test_overestimate_checks_its_arguments_before_calling_f(user_checks, kwargs, match):
    def f(x):
        raise AssertionError("f was called before the arguments were checked")

    args = {"lower": [0.0, 0.0], "upper": [1.0, 1.0], **kwargs}
    with user_checks(), pytest.raises(ValueError, match=match):
        overestimate(
            f, args.pop("lower"), args.pop("upper"), delta=0.1, key=jax.random.PRNGKey(0), **args
        )


def test_fit_full_batch_stops_on_a_non_finite_loss_and_keeps_the_model():
    model = MLP(2, [4], rngs=nnx.Rngs(0))
    before = [np.asarray(w) for w, _ in model.layers()]

    def loss_fn(m, batch):
        x, _ = batch
        return jnp.log(-jnp.abs(m(x)).sum() - 1.0), {}  # log of a negative number: NaN

    data = (np.zeros((8, 2), np.float32), np.zeros((8,), np.float32))
    with pytest.raises(FloatingPointError, match="non-finite at step 0"):
        fit_full_batch(model, loss_fn, data, steps=5)
    for w, w0 in zip(model.layers(), before):
        np.testing.assert_array_equal(np.asarray(w[0]), w0)
