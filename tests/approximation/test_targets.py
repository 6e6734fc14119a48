"""Targets: Hölder instances have the Hölder constant, sup and L^p norms they claim (pairs
of points, numpy quadrature), the packing's separation is a real distance, monotone
instances are monotone and their jumps bound sup errors of continuous functions, and
instances batch under vmap and evaluate under jit."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.approximation import (
    HolderInstance,
    MonotoneInstance,
    check_points,
    holder_instance,
    holder_instance_distance,
    holder_instance_norm,
    holder_packing,
    monotone_instance,
    smooth_target,
    sup_norm,
)

INF = math.inf


def _midpoints(per_axis, d):
    t = (np.arange(per_axis) + 0.5) / per_axis
    return np.stack(np.meshgrid(*([t] * d), indexing="ij"), axis=-1).reshape(-1, d)


def _centres(m, d):
    return _midpoints(m, d)  # cell centres in C order: the signs' order


def _f(target, x):
    return np.asarray(target(jnp.asarray(x)), dtype=np.float64)


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_holder_constant_is_attained_and_never_exceeded(x64, d, alpha):
    m, constant = (8, 2.5) if d == 1 else (4, 2.5)
    f = holder_instance(jax.random.key(1), d=d, cells_per_side=m, alpha=alpha, constant=constant)
    assert f.holder_constant == constant and f.n_cells == m**d
    rng = np.random.default_rng(0)
    n = 20000
    x = rng.uniform(size=(n, d))
    # far pairs, close pairs (any direction, scale from 1e-5 to 1), pairs across the cells
    far = rng.uniform(size=(n, d))
    step = rng.normal(size=(n, d))
    step *= (10.0 ** rng.uniform(-5, 0, size=(n, 1))) / np.linalg.norm(step, axis=1, keepdims=True)
    signs = np.asarray(f.signs)
    centres = _centres(m, d)
    # adjacent cells with opposite signs (along the last axis): their centres
    grid = signs.reshape((m,) * d)
    i, j = (
        np.nonzero(grid[..., :-1] != grid[..., 1:])
        if d == 2
        else (np.nonzero(grid[:-1] != grid[1:])[0], None)
    )
    first = i * m + j if d == 2 else i
    assert first.size > 0  # this key has such a pair
    a, b = centres[first], centres[first + 1]
    # points on the segments between those centres
    t = rng.uniform(size=(first.size, 200, 1))
    seg_x = (a[:, None] + t * (b - a)[:, None]).reshape(-1, d)
    seg_y = (a[:, None] + rng.uniform(size=t.shape) * (b - a)[:, None]).reshape(-1, d)
    xs = np.concatenate([x, x, seg_x, a])
    ys = np.concatenate([far, x + step, seg_y, b])
    ratio = np.abs(_f(f, xs) - _f(f, ys)) / np.linalg.norm(xs - ys, axis=1) ** alpha
    assert ratio.max() <= constant * (1 + 1e-6)
    centre_ratio = ratio[-first.size :]
    assert centre_ratio.min() >= 0.999 * constant
    # the sup: C h^alpha / 2 at every centre, never more
    h = 1.0 / m
    np.testing.assert_allclose(np.abs(_f(f, centres)), constant * h**alpha / 2, rtol=1e-12)
    assert np.abs(_f(f, x)).max() <= constant * h**alpha / 2 * (1 + 1e-12)
    assert holder_instance_norm(
        d=d, cells_per_side=m, alpha=alpha, constant=constant, p=INF
    ) == pytest.approx(constant * h**alpha / 2)
    # zero outside the cube (defined on R^d)
    outside = np.concatenate([x - 1.0, x + 1.0])
    assert np.all(_f(f, outside) == 0.0)


def _quad_rtol(d, power):
    # the midpoint rule on (1/2 - |u|_inf)^power with 256 nodes per cell and axis in d = 2:
    # kinks on the diagonals, and a singular derivative at the cell's edge for power < 1
    # (observed: 1.7e-4 for power 1/2, <= 3e-5 otherwise); in d = 1 the nodes are
    # symmetric in each cell and the error is <= 4e-7
    if d == 1:
        return 2e-6
    return 4e-4 if power < 1 else 1e-4


@pytest.mark.parametrize(("d", "m", "per_axis"), [(1, 8, 2**16), (2, 4, 1024)])
@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_closed_form_lp_norm_matches_quadrature(x64, d, m, per_axis, alpha):
    x = _midpoints(per_axis, d)
    for seed in (0, 1):  # independent of the signs
        f = holder_instance(jax.random.key(seed), d=d, cells_per_side=m, alpha=alpha, constant=1.5)
        y = np.abs(_f(f, x))
        for p in (1.0, 2.0, 3.0):
            quad = np.mean(y**p) ** (1 / p)
            closed = holder_instance_norm(d=d, cells_per_side=m, alpha=alpha, constant=1.5, p=p)
            assert closed == pytest.approx(quad, rel=_quad_rtol(d, alpha * p))


@pytest.mark.parametrize(("d", "m"), [(2, 4), (1, 16)])
def test_packing_separation_is_the_distance_at_hamming_n_over_8(x64, d, m):
    alpha, constant = 0.5, 1.0
    n = m**d
    s1 = np.ones(n)
    s2 = s1.copy()
    s2[np.arange(0, n, 8)] = -1  # Hamming distance exactly n / 8
    f1 = HolderInstance(jnp.asarray(s1), d=d, cells_per_side=m, alpha=alpha, constant=constant)
    f2 = HolderInstance(jnp.asarray(s2), d=d, cells_per_side=m, alpha=alpha, constant=constant)
    x = _midpoints(2**16 if d == 1 else 1024, d)
    diff = np.abs(_f(f1, x) - _f(f2, x))
    for p in (1.0, 2.0, 3.0):
        pack = holder_packing(d=d, cells_per_side=m, alpha=alpha, constant=constant, p=p)
        assert pack.log_size == pytest.approx(n / 8 * math.log(2))
        quad = np.mean(diff**p) ** (1 / p)
        assert pack.separation == pytest.approx(quad, rel=_quad_rtol(d, alpha * p))
        assert holder_instance_distance(f1, f2, p=p) == pytest.approx(pack.separation, rel=1e-12)
    # sup norm: every sign pattern, separated by 2 sup |f| (one differing cell suffices)
    pack = holder_packing(d=d, cells_per_side=m, alpha=alpha, constant=constant, p=INF)
    assert pack.log_size == pytest.approx(n * math.log(2))
    assert pack.separation == pytest.approx(
        np.abs(_f(f1, _centres(m, d)) - _f(f2, _centres(m, d))).max()
    )
    assert holder_instance_distance(f1, f1, p=INF) == 0.0


def test_small_packing_uses_every_sign_pattern(x64):
    # N = 4 < 8 cells: all 2^4 patterns, pairwise Hamming >= 1
    s1 = np.ones(4)
    s2 = s1.copy()
    s2[2] = -1
    f1, f2 = (
        HolderInstance(jnp.asarray(s), d=2, cells_per_side=2, alpha=1.0, constant=1.0)
        for s in (s1, s2)
    )
    diff = np.abs(_f(f1, _midpoints(1024, 2)) - _f(f2, _midpoints(1024, 2)))
    pack = holder_packing(d=2, cells_per_side=2, alpha=1.0, constant=1.0, p=2.0)
    assert pack.log_size == pytest.approx(4 * math.log(2))
    assert pack.separation == pytest.approx(np.sqrt(np.mean(diff**2)), rel=1e-5)


@pytest.mark.parametrize("temperature", [0.0, 0.05])
@pytest.mark.parametrize("d", [1, 3])
def test_monotone_instances_are_monotone(d, temperature):
    f = monotone_instance(jax.random.key(2), d=d, corners=8, temperature=temperature)
    w = np.asarray(f.weights)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0, rel=1e-6)
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.2, 1.2, size=(4000, d)).astype(np.float32)
    t = rng.exponential(0.3, size=(4000, 1)).astype(np.float32)
    fx = _f(f, x)
    assert fx.min() >= 0 and fx.max() <= 1 + 1e-6
    for j in range(d):
        e = np.zeros((1, d), np.float32)
        e[0, j] = 1
        assert np.all(_f(f, x + t * e) >= fx - 1e-6)
    if temperature == 0:
        # all orthants contain (1, ..., 1) and none contains 0 (corners in (0, 1))
        assert _f(f, np.ones((1, d))) == pytest.approx(1.0, rel=1e-6)
        assert _f(f, np.zeros((1, d))) == 0.0
        assert float(f.max_jump) == pytest.approx(w.max())
    else:
        assert f.max_jump == 0.0


def test_continuous_functions_stay_max_jump_over_two_away():
    key = jax.random.key(0)
    f = monotone_instance(jax.random.key(4), d=1, corners=6)
    half = float(f.max_jump) / 2
    smooth = MonotoneInstance(f.corners, f.weights, d=1, temperature=0.01)
    # the smooth instance of the same corners and weights: the natural continuous proxy
    assert sup_norm(lambda x: f(x) - smooth(x), d=1, key=key).value >= half

    # a sharp case: g = f with each step replaced by a ramp of width delta through w_k / 2;
    # sup |f - g| = max_k w_k / 2 exactly (reached at the corners), which the search finds
    corners = np.asarray([[0.2137], [0.5071], [0.7919]], np.float32)
    weights = np.asarray([0.2, 0.5, 0.3], np.float32)
    f = MonotoneInstance(jnp.asarray(corners), jnp.asarray(weights), d=1, temperature=0.0)
    delta = 0.05

    def ramps(x):
        r = jnp.clip(0.5 + (x - jnp.asarray(corners[:, 0])[None, :]) / delta, 0.0, 1.0)
        return r @ jnp.asarray(weights)

    est = sup_norm(lambda x: f(x) - ramps(x), d=1, key=key)
    assert float(f.max_jump) / 2 * (1 - 1e-3) <= est.value <= float(f.max_jump) / 2 + 1e-6


def test_vmap_batches_and_jit():
    keys = jax.random.split(jax.random.key(0), 3)
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(50, 2)), jnp.float32)
    makers = [
        lambda k: holder_instance(k, d=2, cells_per_side=3, alpha=0.5, constant=2.0),
        lambda k: monotone_instance(k, d=2, corners=5, temperature=0.1),
    ]
    for make in makers:
        batch = jax.vmap(make)(keys)
        values = jax.vmap(lambda t: t(x))(batch)
        assert values.shape == (3, 50)
        for i, k in enumerate(keys):
            np.testing.assert_array_equal(np.asarray(values[i]), np.asarray(make(k)(x)))
        one = make(keys[0])
        np.testing.assert_allclose(
            np.asarray(jax.jit(lambda t, z: t(z))(one, x)), np.asarray(one(x)), rtol=1e-6
        )
    # instances differ between keys, and the same key gives the same instance
    b = jax.vmap(makers[0])(keys)
    assert not np.array_equal(np.asarray(b.signs[0]), np.asarray(b.signs[1]))
    np.testing.assert_array_equal(np.asarray(makers[0](keys[0]).signs), np.asarray(b.signs[0]))


def test_smooth_targets_formulas():
    x = np.random.default_rng(0).uniform(size=(20, 2)).astype(np.float32)
    expected = {
        "sine": np.sin(2 * np.pi * x.mean(1)),
        "gaussian": np.exp(-((x - 0.5) ** 2).sum(1) / (2 * 0.15**2)),
        "product": np.sin(np.pi * x).prod(1),
        "polynomial": (x**2).mean(1),
    }
    for name, want in expected.items():
        got = np.asarray(jax.jit(lambda z, n=name: smooth_target(n, d=2)(z))(x))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_bad_inputs(user_checks):
    key = jax.random.key(0)
    f = holder_instance(key, d=2, cells_per_side=2)
    with user_checks():
        with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\].*derivatives"):
            holder_instance(key, d=1, cells_per_side=4, alpha=1.5)
        with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
            holder_instance(key, d=1, cells_per_side=4, alpha=0.0)
        with pytest.raises(ValueError, match="cells_per_side must be a positive integer"):
            holder_instance(key, d=1, cells_per_side=0)
        with pytest.raises(ValueError, match="constant must be a positive number"):
            holder_instance(key, d=1, cells_per_side=2, constant=-1.0)
        with pytest.raises(ValueError, match="d must be a positive integer"):
            holder_instance(key, d=0, cells_per_side=2)
        with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
            holder_instance(3, d=1, cells_per_side=2)
        with pytest.raises(ValueError, match=r"x must have shape \(n, d=2\)"):
            f(jnp.ones((5, 3)))
        with pytest.raises(ValueError, match=r"x must have shape \(n, d=2\)"):
            f(jnp.ones(2))
        with pytest.raises(ValueError, match="x must be finite"):
            f(np.asarray([[0.5, np.nan]]))
        with pytest.raises(ValueError, match="x must be a real array"):
            f(np.ones((2, 2), np.complex64))
        with pytest.raises(ValueError, match=r"p must be a number in \[1, inf\]"):
            holder_instance_norm(d=1, cells_per_side=2, alpha=1.0, constant=1.0, p=0.5)
        with pytest.raises(ValueError, match="corners must be a positive integer"):
            monotone_instance(key, d=1, corners=0)
        with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
            monotone_instance(key, d=1, temperature=-0.1)
        with pytest.raises(ValueError, match="name must be one of"):
            smooth_target("cosine", d=1)
        with pytest.raises(ValueError, match="same d, cells_per_side"):
            holder_instance_distance(f, holder_instance(key, d=2, cells_per_side=3), p=1.0)
    # integer points are accepted (converted)
    assert check_points(np.ones((3, 2), np.int32), 2).dtype == jnp.float32
