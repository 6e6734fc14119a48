"""Exact orthogonal conv layers against a dense float64 layer matrix built here with loops.

The oracle (``_dense``) is independent of the library: the matrix of
``y[m, i] = sum_{c, a} K[m, c, a] x[c, (S i + a - p) mod n]``, ``p = (k - 1) // 2``
(the convention documented in ``jaxorth.orthconv``), and numpy's SVD.
"""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.orthconv import (
    OrthConv,
    SoftOrthConv,
    compose_kernels,
    conv,
    conv_matrix,
    conv_transpose,
    init_orth_conv_params,
    lorth,
    orth_conv_kernel,
    orth_conv_plan,
    orthonormal_from_param,
    singular_values,
)


def _dense(kernel, n, stride):
    """Layer matrix, rows (m, i) and columns (c, j) row-major, float64, by plain loops."""
    kernel = np.asarray(kernel, np.float64)
    m, c = kernel.shape[:2]
    ks = kernel.shape[2:]
    d = len(ks)
    big_n = n // stride
    a = np.zeros((m,) + (big_n,) * d + (c,) + (n,) * d)
    for i in itertools.product(range(big_n), repeat=d):
        for tap in itertools.product(*(range(k) for k in ks)):
            j = tuple((stride * ii + t - (k - 1) // 2) % n for ii, t, k in zip(i, tap, ks))
            a[(slice(None), *i, slice(None), *j)] += kernel[(slice(None), slice(None), *tap)]
    return a.reshape(m * big_n**d, c * n**d)


def _randn(shape, seed, dtype=np.float64):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


def _svals(kernel, n, stride):
    a = _dense(kernel, n, stride)
    return np.linalg.svd(a, compute_uv=False)[: min(a.shape)]


# (M, C, k, S, d): RO and CO, M != C, odd and even k, S in {1, 2, 3}, S > k (RO only).
# Every branch of the kernel's construction (W o BCOP, BCOP o W, BCOP o RKO, pure RKO,
# 1x1) in 1-D and 2-D; configs that only repeated a branch at the same d are left out
# (each config compiles its own program).
CONFIGS = [
    (5, 3, 2, 1, 1),  # CO, stride 1, even k
    (4, 4, 4, 1, 1),  # square, even k, RO stride 1: W o BCOP
    (3, 2, 3, 2, 1),  # RO, C S = 4
    (7, 2, 3, 3, 1),  # CO, S = k: pure RKO
    (3, 2, 2, 3, 1),  # S > k, RO (M <= C k)
    (3, 5, 3, 1, 2),  # RO, stride 1, 2-D
    (6, 4, 2, 1, 2),  # CO, even k, 2-D
    (12, 2, 3, 2, 2),  # CO, BCOP o RKO
    (8, 2, 4, 2, 2),  # square M = C S^2, even k
    (4, 3, 4, 3, 2),  # RO, S = 3 < k = 4
    (3, 1, 2, 3, 2),  # S > k, RO (M <= C k^2 = 4)
    (2, 3, 1, 1, 2),  # k = 1: a 1x1 orthonormal matrix
]


def _ids(cfg):
    return "M{}-C{}-k{}-S{}-d{}".format(*cfg)


def _input_size(k, s):
    # a few output positions, and at least 2 taps' worth so that kernels wrap
    return s * max(3, -(-k // s) + 1)


@functools.cache
def _kernel_fn(cfg, method):
    """The plan, and one jitted program: the kernel and its ``lorth`` at the plan's stride."""
    plan = orth_conv_plan(*cfg)

    def kernel_and_lorth(p):
        kernel = orth_conv_kernel(p, plan, method)
        return kernel, lorth(kernel, cfg[3])

    return plan, jax.jit(kernel_and_lorth)


def _gaussian_params(plan, method, dtype, seed=0):
    """Unconstrained Gaussian parameters (not the orthogonal init): a harder case."""
    shapes = jax.eval_shape(lambda: init_orth_conv_params(jax.random.key(0), plan, method, dtype))
    rng = np.random.default_rng(seed)
    return {name: jnp.asarray(rng.standard_normal(s.shape), dtype) for name, s in shapes.items()}


@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_kernel_is_exactly_orthogonal_float64(x64, cfg):
    m, c, k, s, d = cfg
    plan, fn = _kernel_fn(cfg, "bjorck")
    kernel, kernel_lorth = fn(_gaussian_params(plan, "bjorck", jnp.float64, seed=sum(cfg)))
    assert kernel.shape == (m, c) + (k,) * d and kernel.dtype == jnp.float64
    sv = _svals(kernel, _input_size(k, s), s)
    assert np.abs(sv - 1).max() < 1e-10
    # the exact regularizer vanishes (Achour et al. 2022, Theorem 2)
    assert float(kernel_lorth) < 1e-20


@pytest.mark.parametrize("method", ["cayley", "expm"])
# BCOP o RKO: a tall projector block (2, 1) and a wide matrix block (3, 4) of the square
# Cayley / exp parameters (the only code these methods change)
@pytest.mark.parametrize("cfg", [(3, 2, 3, 2, 1)], ids=_ids)
def test_cayley_expm_kernels_orthogonal_float64(x64, cfg, method):
    m, c, k, s, d = cfg
    plan, fn = _kernel_fn(cfg, method)
    kernel, _ = fn(_gaussian_params(plan, method, jnp.float64, seed=1))
    sv = _svals(kernel, _input_size(k, s), s)
    assert np.abs(sv - 1).max() < 1e-10


@pytest.mark.parametrize("cfg", [(16, 8, 3, 1, 2), (40, 8, 3, 2, 2), (6, 4, 5, 3, 1)], ids=_ids)
def test_layer_float32_singular_values(cfg):
    m, c, k, s, d = cfg
    layer = OrthConv(c, m, k, stride=s, ndim=d, rngs=nnx.Rngs(3))
    # move the parameters away from the orthogonal init: a few Gaussian perturbations
    state = nnx.state(layer, nnx.Param)
    noise = jax.tree.map(lambda p: 0.3 * _randn(p.shape, seed=1, dtype=p.dtype), state)
    nnx.update(layer, jax.tree.map(lambda p, e: p + e, state, noise))

    @nnx.jit  # one compiled program: the kernel, its exact spectrum and its lorth
    def kernel_sv_lorth(mod):
        kernel = mod.kernel()
        return kernel, singular_values(kernel, 8 * s, s), lorth(kernel, s)

    kernel, sv, kernel_lorth = kernel_sv_lorth(layer)
    assert kernel.dtype == jnp.float32
    sv = np.asarray(sv)
    assert sv.size == min(m, c * s**d) * 8**d
    assert np.abs(sv - 1).max() < 1e-5
    assert float(kernel_lorth) < 1e-9


@pytest.mark.parametrize(
    "cfg", [(3, 5, 3, 1, 2), (12, 2, 3, 2, 2), (8, 2, 2, 2, 2), (3, 2, 2, 3, 1)], ids=_ids
)
def test_layer_output_matches_dense_matrix_and_preserves_norm(x64, cfg):
    m, c, k, s, d = cfg
    layer = OrthConv(
        c, m, k, stride=s, ndim=d, use_bias=True, param_dtype=jnp.float64, rngs=nnx.Rngs(0)
    )
    bias = jnp.asarray(np.random.default_rng(5).standard_normal(m))
    layer.bias[...] = bias
    n = _input_size(k, s)
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.standard_normal((2, c) + (n,) * d))
    y = layer(x)
    kernel = layer.kernel()
    a = _dense(kernel, n, s)
    bias_b = np.asarray(bias).reshape((1, m) + (1,) * d)
    expected = (np.asarray(x).reshape(2, -1) @ a.T).reshape(y.shape) + bias_b
    # eager and under jit (one test per config: the dense oracle is built once)
    for mode, out in (("eager", y), ("jit", jax.jit(lambda x: layer(x))(x))):
        np.testing.assert_allclose(np.asarray(out), expected, atol=1e-12, err_msg=mode)
    # inference with the kernel cached gives the same output
    np.testing.assert_allclose(np.asarray(layer(x, kernel=kernel)), np.asarray(y), atol=1e-14)
    norms = functools.partial(np.linalg.norm, axis=1)
    if m >= c * s**d:  # CO: ||A x|| = ||x||
        ax = (np.asarray(y) - bias_b).reshape(2, -1)
        np.testing.assert_allclose(norms(ax), norms(np.asarray(x).reshape(2, -1)), rtol=1e-12)
    if m <= c * s**d:  # RO: ||A^T z|| = ||z|| and A A^T z = z
        z = jnp.asarray(rng.standard_normal((2, m) + (n // s,) * d))
        xt = conv_transpose(z, kernel, s)
        zf = np.asarray(z).reshape(2, -1)
        np.testing.assert_allclose(norms(np.asarray(xt).reshape(2, -1)), norms(zf), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(layer(xt)) - bias_b, np.asarray(z), atol=1e-12)


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        ((5, 1, 2, 3, 2), r"M <= C\*k\^2 = 4"),  # S > k, M > C k^2
        ((10, 2, 2, 3, 1), "needs stride <= k = 2"),  # CO with S > k
        ((300, 32, 3, 4, 2), "288"),  # the brief's example
    ],
)
def test_impossible_configs_raise_at_construction(cfg, match):
    m, c, k, s, d = cfg
    with pytest.raises(ValueError, match="no orthogonal convolution exists") as info:
        OrthConv(c, m, k, stride=s, ndim=d, rngs=nnx.Rngs(0))
    assert info.match(match)


def test_bad_options_raise(user_checks):
    with user_checks(), pytest.raises(ValueError, match="method"):
        OrthConv(2, 2, 3, method="svd", rngs=nnx.Rngs(0))
    with user_checks(), pytest.raises(ValueError, match="rank"):
        OrthConv(4, 4, 3, rank=5, rngs=nnx.Rngs(0))
    with user_checks(), pytest.raises(ValueError, match="n_iter"):
        OrthConv(4, 4, 3, n_iter=-1, rngs=nnx.Rngs(0))
    layer = OrthConv(4, 4, 3, stride=2, rngs=nnx.Rngs(0))
    with user_checks(), pytest.raises(ValueError, match="channels first"):
        layer(jnp.ones((1, 8, 8, 4)))
    with user_checks(), pytest.raises(ValueError, match="multiple of stride=2"):
        layer(jnp.ones((1, 4, 7, 7)))


@pytest.mark.parametrize(("ka", "kb", "s"), [(3, 2, 2), (2, 3, 1), (4, 1, 3)])
def test_compose_kernels_is_composition_up_to_shift(x64, ka, kb, s):
    # conv_S(outer) o conv_1(inner) == conv_S(compose(outer, inner)) o roll(delta),
    # delta = p - p_a - p_b with p = (k - 1) // 2 (the only freedom: a circular shift)
    inner = _randn((3, 2, ka, ka), seed=0)
    outer = _randn((4, 3, kb, kb), seed=1)
    x = _randn((2, 2, 6, 6), seed=2)
    two_step = conv(conv(x, inner, 1), outer, s)
    kernel = compose_kernels(outer, inner)
    assert kernel.shape == (4, 2, ka + kb - 1, ka + kb - 1)
    delta = (ka + kb - 2) // 2 - (ka - 1) // 2 - (kb - 1) // 2
    one_step = conv(jnp.roll(x, (delta, delta), axis=(2, 3)), kernel, s)
    np.testing.assert_allclose(np.asarray(one_step), np.asarray(two_step), atol=1e-12)


@pytest.mark.parametrize("cfg", [(8, 4, 3, 2, 2)], ids=_ids)
def test_training_step_keeps_orthogonality(x64, cfg):
    m, c, k, s, d = cfg
    layer = OrthConv(c, m, k, stride=s, ndim=d, param_dtype=jnp.float64, rngs=nnx.Rngs(2))
    x = _randn((4, c, 4 * s, 4 * s), seed=0)
    target = _randn((4, m, 4, 4), seed=1)

    def loss(mod):
        kernel = mod.kernel()
        return jnp.mean((mod(x, kernel=kernel) - target) ** 2), kernel

    # one compiled program, called before and after the step: loss, kernel and gradients
    loss_and_grads = nnx.jit(nnx.value_and_grad(loss, has_aux=True))
    (before, _), grads = loss_and_grads(layer)
    leaves = jax.tree.leaves(grads)
    assert all(np.isfinite(np.asarray(g)).all() for g in leaves)
    assert all(float(np.abs(np.asarray(g)).max()) > 0 for g in leaves)
    state = nnx.state(layer, nnx.Param)
    nnx.update(layer, jax.tree.map(lambda p, g: p - 0.5 * g, state, grads))
    (after, kernel), _ = loss_and_grads(layer)
    assert float(after) < float(before)
    sv = _svals(kernel, 2 * s, s)
    assert np.abs(sv - 1).max() < 1e-10


def test_soft_layer_penalty_is_dense_error(x64):
    # err_F(N)^2 = N^d L_orth (Achour et al. 2022, Theorem 2), RO case, N >= 2r + 1
    m, c, k, s = 4, 3, 3, 2
    layer = SoftOrthConv(c, m, k, stride=s, param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    kernel = layer.kernel()
    assert kernel.shape == (m, c, k, k)
    big_n = 3
    a = _dense(kernel, s * big_n, s)
    err_f2 = np.sum((a @ a.T - np.eye(a.shape[0])) ** 2)
    pen = layer.lorth_penalty()
    np.testing.assert_allclose(float(pen) * big_n**2, err_f2, rtol=1e-10)
    x = _randn((2, c, s * big_n, s * big_n), seed=0)
    expected = (np.asarray(x).reshape(2, -1) @ a.T).reshape(2, m, big_n, big_n)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-12)
    # an exact orthogonal kernel has zero penalty; the penalty has a usable gradient
    exact = OrthConv(c, m, k, stride=s, param_dtype=jnp.float64, rngs=nnx.Rngs(1)).kernel()
    layer.weight[...] = exact
    assert float(layer.lorth_penalty()) < 1e-20
    layer.weight[...] = kernel
    g = nnx.grad(lambda mod: mod.lorth_penalty())(layer)
    assert float(jnp.abs(g.weight[...]).max()) > 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: compose_kernels(jnp.ones((4, 3, 2, 2)), jnp.ones((2, 5, 2, 2))),
            r"must share N",
        ),
        (
            lambda: orthonormal_from_param(jnp.ones((4, 3)), (4, 4), "bjorck"),
            r"param must end with shape \(4, 4\) for bjorck",
        ),
        (
            lambda: orthonormal_from_param(jnp.ones((4, 4)), (4, 4), "qr"),
            r"method must be one of",
        ),
        (lambda: conv_matrix(np.ones((64, 64, 3, 3)), 512), r"conv_matrix would have"),
        (lambda: lorth(jnp.ones((4, 2, 0, 3))), r"empty axis"),
    ],
)
def test_more_input_checks_name_the_parameter(call, match, user_checks):
    with user_checks(), pytest.raises(ValueError, match=match):
        call()
