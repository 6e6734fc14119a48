"""lipschitz_report: per-layer spectral norms against dense float64 operators, the product
against compositions, and the bound against measured output ratios."""

from __future__ import annotations

import doctest
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.lipschitz import (
    LipschitzReport,
    OrthLinear,
    groupsort,
    l2_norm_pool,
    lipschitz_report,
    maxmin,
    space_to_depth,
)
from jaxorth.lipschitz import _bounds as bounds_module
from jaxorth.orthconv import OrthConv, SoftOrthConv

F64 = jnp.float64
NAMES = ["conv1", "maxmin", "conv2", "groupsort", "space_to_depth", "conv3", "l2_norm_pool", "head"]
# input shape (without the batch axis) of each linear layer of the network below
IN_SHAPES = {"conv1": (2, 8, 8), "conv2": (4, 8, 8), "conv3": (16, 2, 2), "head": (3,)}


def dense(f, in_shape) -> np.ndarray:
    """The linear part of ``f`` as a float64 matrix: ``f`` applied to every basis vector,
    minus ``f(0)`` (which removes the bias), in one batch."""
    d = math.prod(in_shape)
    basis = np.concatenate([np.eye(d), np.zeros((1, d))]).reshape((d + 1, *in_shape))
    out = np.asarray(f(jnp.asarray(basis, F64))).reshape(d + 1, -1)
    return (out[:-1] - out[-1]).T


def _soft(c, m, k, seed):
    """A float64 SoftOrthConv with a random kernel and bias, far from orthogonal."""
    layer = SoftOrthConv(c, m, k, use_bias=True, param_dtype=F64, rngs=nnx.Rngs(seed))
    rng = np.random.default_rng(seed)
    layer.weight[...] = jnp.asarray(rng.standard_normal(layer.weight.shape), F64)
    layer.bias[...] = jnp.asarray(rng.standard_normal(m), F64)
    return layer


@functools.cache  # built once (float64, under the x64 fixture); the tests only read it
def network() -> tuple:
    """A small CNN whose spatial size changes: (2, 8, 8) -> (4, 8, 8) -> (4, 4, 4) ->
    (16, 2, 2) -> (3, 2, 2) -> (3,) -> (2,)."""
    return (
        ("conv1", _soft(2, 4, 3, seed=0)),
        maxmin,
        ("conv2", OrthConv(4, 4, 3, stride=2, use_bias=True, param_dtype=F64, rngs=nnx.Rngs(1))),
        functools.partial(groupsort, group_size=2),
        functools.partial(space_to_depth, block=2),
        ("conv3", _soft(16, 3, 2, seed=2)),
        "l2_norm_pool",
        ("head", nnx.Linear(3, 2, param_dtype=F64, rngs=nnx.Rngs(3))),
    )


def layer(name):
    return dict(item for item in network() if isinstance(item, tuple))[name]


def apply(layers, x):
    """The network that ``layers`` describe, applied to a batch."""
    for item in layers:
        f = item[1] if isinstance(item, tuple) else item
        x = l2_norm_pool(x) if isinstance(f, str) else f(x)
    return x


def test_per_layer_norms_are_dense_spectral_norms(x64):
    report = lipschitz_report(network(), input_size=8)
    assert isinstance(report, LipschitzReport)
    assert [name for name, _ in report.per_layer] == NAMES
    sigma = dict(report.per_layer)
    # the dense operators on each layer's true input grid (8x8, 8x8 then stride 2,
    # 2x2 after space_to_depth): the report followed the sizes
    for name, in_shape in IN_SHAPES.items():
        a = dense(layer(name), in_shape)
        np.testing.assert_allclose(sigma[name], np.linalg.norm(a, 2), rtol=1e-10, err_msg=name)
    assert sigma["conv2"] == pytest.approx(1.0, abs=1e-10)  # an exact orthogonal conv
    assert sigma["conv1"] > 1.5 and sigma["conv3"] > 1.5  # free kernels
    for name in ("maxmin", "groupsort", "space_to_depth", "l2_norm_pool"):
        assert sigma[name] == 1.0
    assert report.bound == pytest.approx(math.prod(sigma.values()), rel=1e-12)
    # the grid matters: conv3 on a 3x3 grid has another norm (a wrong size would show);
    # a size given per axis is the same as an int
    wrong = np.linalg.norm(dense(layer("conv3"), (16, 3, 3)), 2)
    assert abs(sigma["conv3"] - wrong) > 1e-3
    assert lipschitz_report(network(), input_size=(8, 8)) == report


def test_bound_against_compositions(x64):
    # a row-orthogonal conv (rank 64) then an isometry: the 64 nonzero singular values of
    # the composition are 1, so the product bound (1) is attained
    iso = OrthLinear(64, 80, param_dtype=F64, rngs=nnx.Rngs(4))
    chain = [layer("conv2"), ("flatten", 1.0), iso]
    report = lipschitz_report(chain, input_size=8)
    composed = dense(lambda x: iso(layer("conv2")(x).reshape(len(x), -1)), (4, 8, 8))
    sv = np.linalg.svd(composed, compute_uv=False)
    np.testing.assert_allclose(sv[:64], 1.0, atol=1e-10)
    assert sv[64:].max() < 1e-10
    assert report.bound == pytest.approx(1.0, abs=1e-10)
    # a free conv then the row-orthogonal one: ||B A|| <= ||B|| ||A||, not attained here
    report = lipschitz_report(network()[:3], input_size=8)
    two = dense(lambda x: layer("conv2")(layer("conv1")(x)), (2, 8, 8))
    assert report.bound == pytest.approx(dict(report.per_layer)["conv1"], rel=1e-10)
    assert np.linalg.norm(two, 2) <= report.bound * (1 + 1e-12)
    assert np.linalg.norm(two, 2) < 0.95 * report.bound


def test_measured_ratios_never_exceed_the_bound(x64):
    bound = lipschitz_report(network(), input_size=8).bound
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((129, 2, 8, 8)), F64)
    for scale in (1.0, 1e-3):  # far and near pairs
        y = x + scale * jnp.asarray(rng.standard_normal(x.shape), F64)
        diff = np.asarray(apply(network(), x) - apply(network(), y))
        ratios = np.linalg.norm(diff, axis=1) / np.linalg.norm(
            np.asarray(x - y).reshape(129, -1), axis=1
        )
        assert ratios.max() <= bound
        assert ratios.max() > 1e-3 * bound  # not a degenerate network


def test_sequential_and_names(x64):
    iso = OrthLinear(3, 5, param_dtype=F64, rngs=nnx.Rngs(0))
    inner = nnx.Sequential(layer("head"), jax.nn.relu)
    report = lipschitz_report(nnx.Sequential(iso, inner, maxmin))
    assert [n for n, _ in report.per_layer] == [
        "OrthLinear_0",
        "Sequential_1.Linear_0",
        "Sequential_1.relu",
        "maxmin",
    ]
    sigma = dict(report.per_layer)
    kernel = np.asarray(layer("head").kernel[...])
    np.testing.assert_allclose(
        sigma["Sequential_1.Linear_0"], np.linalg.svd(kernel)[1][0], rtol=1e-12
    )
    assert sigma["OrthLinear_0"] == pytest.approx(1.0, abs=1e-12)
    # the pairs as a list of known constants give the same product
    again = lipschitz_report([("p", 0.5), *report.per_layer])
    assert again.bound == pytest.approx(0.5 * report.bound, rel=1e-12)


def test_bad_layers(x64, user_checks):
    conv = layer("conv2")  # stride 2
    cases = [
        ([conv], None, "input_size is required to bound the convolution 'OrthConv_0'"),
        ([conv], 7, r"gets spatial size \(7, 7\), not a multiple of its stride 2"),
        ([conv], (8, 8, 8), r"input_size gives 3 spatial axes at layers\[0\]"),
        (["l2_norm_pool", conv], 8, "is a convolution after l2_norm_pool"),
        ([space_to_depth, ("c", conv)], 8, r"functools.partial\(space_to_depth, block=b\)"),
        ([functools.partial(space_to_depth, block=3)], 8, "not a multiple of block=3"),
        ([nnx.Dropout(0.5)], 8, "no Lipschitz bound known for Dropout"),
        ([("tanh-ish", jnp.tanh)], None, r"layers\[0\] \('tanh-ish'\): no Lipschitz bound"),
        ([("p", -1.0)], None, "must be a finite number >= 0"),
        ([("a", "b", "c")], None, r"must be a layer or a \(name, layer\) pair"),
        (conv, None, "layers must be a sequence of layers"),
        ([conv], 0, "input_size must be a positive integer"),
    ]
    for layers, size, match in cases:
        with user_checks(), pytest.raises(ValueError, match=match):
            lipschitz_report(layers, input_size=size)


def test_docstring_example():
    result = doctest.testmod(bounds_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
