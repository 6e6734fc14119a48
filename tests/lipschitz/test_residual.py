"""ResidualBlock: its factor against closed forms, dense float64 operators and measured
ratios, and its place in lipschitz_report."""

from __future__ import annotations

import doctest
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.lipschitz import OrthLinear, ResidualBlock, lipschitz_report, maxmin
from jaxorth.lipschitz import _residual as residual_module
from jaxorth.orthconv import OrthConv, SoftOrthConv

F64 = jnp.float64


def dense(f, d: int) -> np.ndarray:
    """The matrix of a linear map of ``(B, d)`` inputs, in float64."""
    return np.asarray(f(jnp.eye(d, dtype=F64))).T


def _linear(kernel: np.ndarray) -> nnx.Linear:
    layer = nnx.Linear(*kernel.shape, use_bias=False, param_dtype=F64, rngs=nnx.Rngs(0))
    layer.kernel[...] = jnp.asarray(kernel, F64)
    return layer


@pytest.mark.parametrize(("alpha", "c"), [(0.5, 1.0), (0.25, 3.0), (0.9, 0.2), (0.0, 2.0)])
def test_factor_is_exact_for_a_scaled_identity(x64, alpha, c):
    # f = c I: the block is (alpha + (1 - alpha) c) I, norm |alpha| + |1 - alpha| c
    block = ResidualBlock(_linear(c * np.eye(3)), alpha=alpha)
    norm = np.linalg.norm(dense(block, 3), 2)
    np.testing.assert_allclose(norm, alpha + (1 - alpha) * c, rtol=1e-12)
    report = lipschitz_report([("block", block)])
    assert report.per_layer == (("block", pytest.approx(norm, rel=1e-12)),)


@pytest.mark.parametrize("alpha", [0.3, -0.5, 1.5])
def test_factor_is_exact_for_an_orthogonal_branch_with_eigenvalue_one(x64, alpha):
    # a rotation of odd dimension (Cayley: det = +1) has the eigenvalue 1, where the block
    # acts as |alpha + (1 - alpha)| = 1; for alpha outside [0, 1] the bound |alpha| +
    # |1 - alpha| = |2 alpha - 1| > 1 is reached on the eigenvalue -1 that a rotation of
    # odd dimension need not have: there the exact norm is below it, never above
    layer = OrthLinear(5, 5, method="cayley", use_bias=False, param_dtype=F64, rngs=nnx.Rngs(1))
    w = np.asarray(layer.weight())
    np.testing.assert_allclose(np.linalg.det(w), 1.0, atol=1e-12)
    block = ResidualBlock(layer, alpha=alpha)
    exact = np.linalg.norm(alpha * np.eye(5) + (1 - alpha) * w, 2)
    np.testing.assert_allclose(dense(block, 5), alpha * np.eye(5) + (1 - alpha) * w, atol=1e-12)
    factor = lipschitz_report([block]).bound
    assert factor == pytest.approx(abs(alpha) + abs(1 - alpha), rel=1e-12)
    if 0 <= alpha <= 1:
        assert exact == pytest.approx(1.0, abs=1e-12)  # tight: a convex combination
    else:
        assert exact <= factor + 1e-12
        # the eigenvalues of W are e^{i t}: the exact norm is max_t |alpha + (1-alpha) e^{it}|
        t = np.angle(np.linalg.eigvals(w))
        np.testing.assert_allclose(exact, np.abs(alpha + (1 - alpha) * np.exp(1j * t)).max())


def _soft(c, m, seed, scale=1.0):
    layer = SoftOrthConv(c, m, 3, use_bias=True, param_dtype=F64, rngs=nnx.Rngs(seed))
    rng = np.random.default_rng(seed)
    layer.weight[...] = jnp.asarray(scale * rng.standard_normal(layer.weight.shape), F64)
    return layer


@functools.cache
def network():
    """conv -> maxmin -> residual(conv -> maxmin -> conv) -> residual(maxmin) on (2, 8, 8)."""
    branch = nnx.Sequential(_soft(4, 4, 1, 0.4), maxmin, _soft(4, 4, 2, 0.3))
    return [
        ("conv", OrthConv(2, 4, 3, use_bias=True, param_dtype=F64, rngs=nnx.Rngs(0))),
        maxmin,
        ("res1", ResidualBlock(branch, alpha=0.3)),
        ("res2", ResidualBlock(maxmin, alpha=-0.25)),
    ]


def apply(x):
    for item in network():
        x = (item[1] if isinstance(item, tuple) else item)(x)
    return x


def test_report_factor_from_the_branch_and_product(x64):
    layers = network()
    report = lipschitz_report(layers, input_size=8)
    assert [name for name, _ in report.per_layer] == ["conv", "maxmin", "res1", "res2"]
    branch = layers[2][1].f
    inner = lipschitz_report(branch, input_size=8).bound
    factors = dict(report.per_layer)
    assert factors["res1"] == pytest.approx(0.3 + 0.7 * inner, rel=1e-12)
    assert factors["res2"] == pytest.approx(0.25 + 1.25, rel=1e-12)
    assert inner > 1.5  # the branch is far from 1-Lipschitz: the factor is not trivially 1
    assert report.bound == pytest.approx(np.prod([s for _, s in report.per_layer]), rel=1e-12)


def test_bound_holds_on_random_pairs(x64):
    bound = lipschitz_report(network(), input_size=8).bound
    keys = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(keys[0], (64, 2, 8, 8), F64)
    # far pairs and close pairs (the local slope along a random direction)
    for y in (
        jax.random.normal(keys[1], x.shape, F64),
        x + 1e-4 * jax.random.normal(keys[2], x.shape, F64),
    ):
        num = jnp.sqrt(jnp.sum(jnp.square(apply(x) - apply(y)), axis=(1, 2, 3)))
        den = jnp.sqrt(jnp.sum(jnp.square(x - y), axis=(1, 2, 3)))
        ratios = np.asarray(num / den)
        assert ratios.max() <= bound * (1 + 1e-9)
        assert ratios.max() > 0.1 * bound  # the measured ratios are not vacuous


def test_learnable_alpha_stays_in_the_unit_interval():
    block = ResidualBlock(maxmin, alpha=0.2, learnable=True)
    assert float(block.alpha()) == pytest.approx(0.2, rel=1e-6)
    block.logit[...] = jnp.asarray(-40.0)  # far out: sigmoid still in (0, 1)
    assert block.lipschitz_factor(1.0) == pytest.approx(1.0)
    x = jnp.arange(8.0).reshape(1, 8)
    grads = nnx.grad(lambda b: jnp.sum(b(x)))(ResidualBlock(maxmin, alpha=0.5, learnable=True))
    assert np.isfinite(float(grads.logit[...]))


def test_bad_blocks_are_refused():
    with pytest.raises(ValueError, match="f must be callable"):
        ResidualBlock("maxmin")
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\) with learnable=True"):
        ResidualBlock(maxmin, alpha=1.0, learnable=True)
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        ResidualBlock(maxmin, alpha=float("nan"))
    strided = ResidualBlock(OrthConv(2, 2, 3, stride=2, rngs=nnx.Rngs(0)))
    with pytest.raises(ValueError, match="f must keep the shape of its input"):
        strided(jnp.ones((1, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"layers\[0\] \('res'\): the residual branch f maps"):
        lipschitz_report([("res", strided)], input_size=4)


def test_doctests():
    assert doctest.testmod(residual_module, raise_on_error=True).attempted > 0
