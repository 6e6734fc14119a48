"""OrthLinear: orthogonality of the applied weight against float64 references, norm
preservation, the forward map, training, seeds and compilation."""

from __future__ import annotations

import doctest

import chex
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.linalg
from flax import nnx

from jaxorth.lipschitz import OrthLinear
from jaxorth.lipschitz import _linear as linear_module

METHODS = ["bjorck", "cayley", "expm"]
# (in_features, out_features): square, wide weight (orthonormal rows), tall (columns);
# one max(in, out) = 6, so that the cayley / expm layers share their compilation
SHAPES = [(6, 6), (6, 4), (3, 6)]


def _ids(shape):
    n, m = shape
    return f"in{n}-out{m}"


def _perturbed(n, m, method, seed, dtype, use_bias=True):
    """A layer whose parameter is a generic (non-orthogonal) matrix, as after training."""
    layer = OrthLinear(
        n, m, method=method, use_bias=use_bias, param_dtype=dtype, rngs=nnx.Rngs(seed)
    )
    rng = np.random.default_rng(seed)
    shape = layer.matrix.shape
    layer.matrix[...] = jnp.asarray(rng.standard_normal(shape) + 0.5, dtype)
    return layer


def _gram_error(w: np.ndarray) -> float:
    """max |W W^T - I| (rows) or |W^T W - I| (columns), on the smaller Gram matrix."""
    m, n = w.shape
    gram = w @ w.T if m <= n else w.T @ w
    return float(np.abs(gram - np.eye(min(m, n))).max())


def _reference(param: np.ndarray, shape, method: str) -> np.ndarray:
    """The weight from its definition, in float64 numpy/scipy (no jaxorth code)."""
    m, n = shape
    if method == "bjorck":  # the orthogonal polar factor U V^T of the thin SVD
        u, _, vt = np.linalg.svd(param, full_matrices=False)
        return u @ vt
    a = 0.5 * (param - param.T)
    eye = np.eye(len(a))
    q = np.linalg.solve(eye + a, eye - a) if method == "cayley" else scipy.linalg.expm(a)
    return q[:m, :n]


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
@pytest.mark.parametrize("method", METHODS)
def test_weight_orthonormal_float32(method, shape):
    n, m = shape
    layer = _perturbed(n, m, method, seed=1, dtype=jnp.float32)
    w = np.asarray(layer.weight(), np.float64)
    assert w.shape == (m, n)
    assert _gram_error(w) < 2e-6
    # the parameter is far from orthogonal: the map, not the init, made W orthonormal
    assert _gram_error(np.asarray(layer.matrix[...], np.float64)) > 0.5


def test_unconverged_bjorck_is_still_a_contraction(x64):
    # one iteration from an ill-conditioned parameter: W is not orthonormal yet, but its
    # singular values lie in (0, 1] (the docstring's argument), so the layer is 1-Lipschitz
    layer = OrthLinear(6, 4, n_iter=1, param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    u, _, vt = np.linalg.svd(rng.standard_normal((4, 6)), full_matrices=False)
    for scale in (1e-3, 1.0, 1e3):
        layer.matrix[...] = jnp.asarray(scale * u @ np.diag([1.0, 0.5, 0.1, 0.01]) @ vt)
        s = np.linalg.svd(np.asarray(layer.weight()), compute_uv=False)
        assert s.max() <= 1 + 1e-12
        assert s.min() < 0.1  # far from converged: the bound is not from orthogonality


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
@pytest.mark.parametrize("method", METHODS)
def test_weight_matches_definition_float64(x64, method, shape):
    n, m = shape
    layer = _perturbed(n, m, method, seed=2, dtype=jnp.float64)
    w = np.asarray(layer.weight())
    assert w.dtype == np.float64
    assert _gram_error(w) < 1e-12
    expected = _reference(np.asarray(layer.matrix[...]), (m, n), method)
    np.testing.assert_allclose(w, expected, atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_norms_isometry_and_coisometry(method):
    rng = np.random.default_rng(0)
    for n, m in SHAPES:
        layer = _perturbed(n, m, method, seed=3, dtype=jnp.float32, use_bias=False)
        x = rng.standard_normal((16, n))
        y = np.asarray(layer(jnp.asarray(x, jnp.float32)), np.float64)
        nx, ny = np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1)
        if m >= n:  # isometry: every norm is kept
            np.testing.assert_allclose(ny, nx, rtol=1e-5)
        else:  # co-isometry: a contraction, isometric on the row space of W
            assert (ny < nx).all()
            w = np.asarray(layer.weight(), np.float64)
            z = rng.standard_normal((16, m))
            back = np.asarray(layer(jnp.asarray(z @ w, jnp.float32)), np.float64)
            np.testing.assert_allclose(back, z, atol=1e-5)


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_forward_is_affine_map_of_last_axis(x64, use_bias):
    n, m = 6, 4
    layer = _perturbed(n, m, "bjorck", seed=4, dtype=jnp.float64, use_bias=use_bias)
    rng = np.random.default_rng(4)
    if use_bias:
        layer.bias[...] = jnp.asarray(rng.standard_normal(m))
        b = np.asarray(layer.bias[...])
        assert set(nnx.state(layer, nnx.Param)) == {"matrix", "bias"}
    else:
        assert layer.bias is None
        assert set(nnx.state(layer, nnx.Param)) == {"matrix"}  # no bias parameter
        b = np.zeros(m)
    w = _reference(np.asarray(layer.matrix[...]), (m, n), "bjorck")
    x = rng.standard_normal((2, 5, n))
    y = layer(jnp.asarray(x))
    assert y.shape == (2, 5, m) and y.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(y), x @ w.T + b, atol=1e-12)
    # one vector, and a weight computed once and passed in (cached inference)
    np.testing.assert_allclose(np.asarray(layer(jnp.asarray(x[0, 0]))), w @ x[0, 0] + b, atol=1e-12)
    cached = layer.weight()
    np.testing.assert_array_equal(np.asarray(layer(jnp.asarray(x), cached)), np.asarray(y))


def test_computation_dtype():
    layer = OrthLinear(6, 4, dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    assert layer.weight().dtype == jnp.float32  # built in param_dtype
    y = layer(jnp.ones((3, 6), jnp.float32))
    assert y.dtype == jnp.bfloat16
    ref = np.ones((3, 6)) @ np.asarray(layer.weight(), np.float64).T
    np.testing.assert_allclose(np.asarray(y, np.float64), ref, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("method", METHODS)
def test_training_step_keeps_orthogonality(method):
    # fit a random orthonormal-rows target with Adam: the loss falls and W stays on the
    # Stiefel manifold after every step; one compiled step for all steps
    chex.clear_trace_counter()
    n, m = 6, 4
    rng = np.random.default_rng(5)
    target = np.linalg.qr(rng.standard_normal((n, m)))[0].T  # (m, n), orthonormal rows
    x = jnp.asarray(rng.standard_normal((32, n)), jnp.float32)
    y = x @ jnp.asarray(target, jnp.float32).T
    layer = OrthLinear(n, m, method=method, use_bias=False, rngs=nnx.Rngs(5))
    opt = nnx.Optimizer(layer, optax.adam(5e-2), wrt=nnx.Param)

    @nnx.jit
    @chex.assert_max_traces(n=1)
    def step(layer, opt):
        def loss(mod):
            return jnp.mean((mod(x) - y) ** 2)

        value, grads = nnx.value_and_grad(loss)(layer)
        opt.update(layer, grads)
        return value

    start = np.asarray(layer.matrix[...]).copy()
    losses = []
    for _ in range(25):
        losses.append(float(step(layer, opt)))
        assert _gram_error(np.asarray(layer.weight(), np.float64)) < 2e-6
    assert losses[-1] < 0.5 * losses[0], losses
    assert np.abs(np.asarray(layer.matrix[...]) - start).max() > 1e-2  # it did move


def test_same_seed_same_layer():
    for method in METHODS:
        a = OrthLinear(6, 4, method=method, rngs=nnx.Rngs(7))
        b = OrthLinear(6, 4, method=method, rngs=nnx.Rngs(7))
        c = OrthLinear(6, 4, method=method, rngs=nnx.Rngs(8))
        np.testing.assert_array_equal(np.asarray(a.weight()), np.asarray(b.weight()))
        assert np.abs(np.asarray(a.weight()) - np.asarray(c.weight())).max() > 1e-3


def test_jitted_forward_traces_once_per_shape():
    chex.clear_trace_counter()
    layer = OrthLinear(6, 6, method="cayley", rngs=nnx.Rngs(0))
    forward = nnx.jit(chex.assert_max_traces(lambda mod, x: mod(x), n=1))
    rng = np.random.default_rng(0)
    for _ in range(3):  # new data and new parameter values, same shapes
        layer.matrix[...] = jnp.asarray(rng.standard_normal((6, 6)), jnp.float32)
        x = jnp.asarray(rng.standard_normal((2, 6)), jnp.float32)
        np.testing.assert_allclose(
            np.asarray(forward(layer, x)), np.asarray(x @ layer.weight().T), atol=1e-5
        )
    with pytest.raises(AssertionError, match="traced > 1 times"):  # the counter is live
        forward(layer, jnp.ones((3, 6), jnp.float32))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"in_features": 0}, "in_features must be a positive integer"),
        ({"out_features": 2.0}, "out_features must be a positive integer"),
        ({"in_features": True}, "in_features must be a positive integer"),
        ({"method": "qr"}, "method must be one of 'bjorck', 'cayley', 'expm'"),
        ({"n_iter": -1}, "n_iter must be an integer >= 0"),
        ({"order": 0}, "order must be a positive integer"),
        ({"param_dtype": jnp.int32}, "param_dtype must be a floating-point dtype"),
        ({"dtype": jnp.int8}, "dtype must be None or a floating-point dtype"),
    ],
)
def test_bad_options(kwargs, match, user_checks):
    args = {"in_features": 3, "out_features": 2, **kwargs}
    n, m = args.pop("in_features"), args.pop("out_features")
    with user_checks(), pytest.raises(ValueError, match=match):
        OrthLinear(n, m, **args, rngs=nnx.Rngs(0))


def test_bad_inputs(user_checks):
    layer = OrthLinear(3, 2, rngs=nnx.Rngs(0))
    with user_checks(), pytest.raises(ValueError, match=r"in_features=3\), got x.shape=\(4, 2\)"):
        layer(jnp.ones((4, 2)))
    with (
        user_checks(),
        pytest.raises(ValueError, match=r"weight must have shape .*=\(2, 3\), got \(3, 2\)"),
    ):
        layer(jnp.ones((4, 3)), jnp.ones((3, 2)))


def test_docstring_example():
    result = doctest.testmod(linear_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
