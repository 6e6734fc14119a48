"""ReLU network parameters: checks, evaluation against numpy, conversion from Flax NNX."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.identifiability import (
    check_params,
    flatten,
    from_nnx,
    n_hidden,
    n_parameters,
    perturb_params,
    pre_activations,
    random_params,
    relu_mlp,
    to_nnx,
    widths,
)
from jaxorth.overestimate import MLP


def _numpy_mlp(params, x):
    h = np.asarray(x, np.float64)
    for i, (w, b) in enumerate(params):
        h = h @ np.asarray(w, np.float64).T + np.asarray(b, np.float64)
        if i < len(params) - 1:
            h = np.maximum(h, 0.0)
    return h


def test_counts_and_widths(x64):
    p = random_params(jax.random.PRNGKey(0), (3, 6, 4, 2))
    assert widths(p) == (3, 6, 4, 2)
    # E = 6*4 + 4*7 + 2*5, N_h = 6 + 4 (REFERENCES: E - N_h = 52)
    assert n_parameters((3, 6, 4, 2)) == 62
    assert n_hidden((3, 6, 4, 2)) == 10
    assert n_parameters((2, 5, 1)) - n_hidden((2, 5, 1)) == 16
    assert all(w.dtype == jnp.float64 for w, _ in p)


def test_relu_mlp_and_pre_activations_match_numpy(x64):
    p = random_params(jax.random.PRNGKey(1), (3, 6, 4, 2))
    x = np.random.default_rng(0).normal(size=(7, 3))
    np.testing.assert_allclose(np.asarray(relu_mlp(p, x)), _numpy_mlp(p, x), rtol=1e-13)
    z1 = x @ np.asarray(p[0][0]).T + np.asarray(p[0][1])
    pre = pre_activations(p, x)
    assert [z.shape for z in pre] == [(7, 6), (7, 4)]
    np.testing.assert_allclose(np.asarray(pre[0]), z1, rtol=1e-13)


def test_random_params_reproducible_and_generic():
    a = random_params(jax.random.PRNGKey(3), (4, 8, 1))
    b = random_params(jax.random.PRNGKey(3), (4, 8, 1))
    c = random_params(jax.random.PRNGKey(4), (4, 8, 1))
    assert all(np.array_equal(wa, wb) for (wa, _), (wb, _) in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])
    assert np.all(np.asarray(a[0][1]) != 0)  # nonzero biases
    # He-normal: variance 2 / fan_in
    big = random_params(jax.random.PRNGKey(0), (200, 300, 1))
    assert abs(float(np.var(np.asarray(big[0][0]))) * 200 / 2 - 1) < 0.05


def test_flatten_round_trip(x64):
    p = random_params(jax.random.PRNGKey(0), (2, 5, 1))
    theta, unflatten = flatten(p)
    assert theta.shape == (21,)
    for (w, b), (w2, b2) in zip(p, unflatten(theta)):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)
    np.testing.assert_array_equal(theta[:10], np.asarray(p[0][0]).ravel())


def test_from_nnx_sequential_and_round_trip(x64):
    p = random_params(jax.random.PRNGKey(0), (3, 5, 2))
    net = to_nnx(p, rngs=nnx.Rngs(0))
    assert isinstance(net, nnx.Sequential)
    # nnx.Linear stores (in, out): the kernel is the transpose of W
    np.testing.assert_array_equal(net.layers[0].kernel[...], np.asarray(p[0][0]).T)
    x = np.random.default_rng(0).normal(size=(6, 3))
    np.testing.assert_allclose(np.asarray(net(jnp.asarray(x))), _numpy_mlp(p, x), rtol=1e-13)
    back = from_nnx(net)
    assert widths(back) == (3, 5, 2)
    for (w, b), (w2, b2) in zip(p, back):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)


def test_from_nnx_overestimate_mlp_and_list(x64):
    g = MLP(2, [4, 3], activation="relu", rngs=nnx.Rngs(0), param_dtype=jnp.float64)
    x = np.random.default_rng(1).normal(size=(5, 2))
    p = from_nnx(g)
    # MLP stores W_l as (out, in) in g.weights (its docstring); g(x) is the first output
    stored = [(np.asarray(w[...]), np.asarray(b[...])) for w, b in zip(g.weights, g.biases)]
    np.testing.assert_allclose(np.asarray(relu_mlp(p, x)), _numpy_mlp(stored, x), rtol=1e-13)
    zeros = nnx.initializers.zeros_init()
    lins = [
        nnx.Linear(2, 3, kernel_init=zeros, rngs=nnx.Rngs(0)),
        nnx.Linear(3, 1, use_bias=False, kernel_init=zeros, rngs=nnx.Rngs(1)),
    ]
    q = from_nnx(lins)
    assert widths(q) == (2, 3, 1)
    np.testing.assert_array_equal(q[1][1], np.zeros(1))


def test_from_nnx_rejects_other_activations():
    with pytest.raises(ValueError, match="activation must be 'relu'"):
        from_nnx(MLP(2, [4], activation="tanh", rngs=nnx.Rngs(0)))
    zeros = nnx.initializers.zeros_init()
    net = nnx.Sequential(
        nnx.Linear(2, 3, kernel_init=zeros, rngs=nnx.Rngs(0)),
        nnx.tanh,
        nnx.Linear(3, 1, kernel_init=zeros, rngs=nnx.Rngs(0)),
    )
    with pytest.raises(ValueError, match=r"layers\[1\] must be the ReLU.*got tanh"):
        from_nnx(net)
    with pytest.raises(ValueError, match="module must be an nnx.Sequential"):
        from_nnx(object())


def test_check_params_messages(user_checks):
    w1, b1 = np.ones((5, 2)), np.ones(5)
    with user_checks():
        with pytest.raises(
            ValueError,
            match=r"params\[1\] \(W\) has 7 columns but params\[0\] has 5 outputs \(d_1 = 5\)",
        ):
            check_params([(w1, b1), (np.ones((1, 7)), np.ones(1))])
        with pytest.raises(ValueError, match=r"params\[0\] \(b\) must have shape \(5,\)"):
            check_params([(w1, np.ones(4))])
        with pytest.raises(ValueError, match=r"params\[0\] \(W\) must be 2-D"):
            check_params([(np.ones(5), b1)])
        bad = np.ones((1, 5))
        bad[0, 2] = np.nan
        with pytest.raises(ValueError, match=r"params\[1\] \(W\) has non-finite entries \(1 NaN"):
            check_params([(w1, b1), (bad, np.ones(1))])
        with pytest.raises(ValueError, match=r"params\[0\] \(W\) must have a real floating dtype"):
            check_params([(np.ones((5, 2), int), b1)])
        with pytest.raises(ValueError, match=r"params\[0\] must be a pair"):
            check_params([(w1,)])
        with pytest.raises(ValueError, match="at least 1 layer"):
            check_params([])
        with pytest.raises(ValueError, match="x has 3 columns but the network has d_0 = 2"):
            relu_mlp([(w1, b1)], np.ones((4, 3)))
        with pytest.raises(ValueError, match=r"x must be 2-D of shape \(B, d_0=2\)"):
            relu_mlp([(w1, b1)], np.ones(2))


def test_relu_mlp_under_jit_and_grad(maybe_jit):
    p = random_params(jax.random.PRNGKey(0), (2, 4, 1))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(8, 2)), jnp.float32)
    loss = maybe_jit(lambda q: jnp.sum(relu_mlp(q, x) ** 2))
    grads = jax.grad(loss)(p)
    assert [g[0].shape for g in grads] == [(4, 2), (1, 4)]
    expected = np.sum(_numpy_mlp(p, np.asarray(x)) ** 2)
    np.testing.assert_allclose(float(loss(p)), expected, rtol=1e-5)


def test_perturb_params_has_the_requested_relative_size(x64):
    p = random_params(jax.random.PRNGKey(3), (20, 40, 30, 1))
    q = perturb_params(jax.random.PRNGKey(4), p, 0.1)
    for (w, b), (v, c) in zip(p, q, strict=True):
        rms = np.sqrt(np.mean(np.asarray(w) ** 2))
        # noise entries are N(0, (0.1 rms)^2): their sample std within 20% for >= 30 entries
        noise = np.concatenate([np.ravel(v - w), np.ravel(c - b)])
        assert abs(noise.std() / (0.1 * rms) - 1) < 0.2
        assert v.dtype == w.dtype and c.shape == b.shape
    same = perturb_params(jax.random.PRNGKey(4), p, 0.1)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(q, same, strict=True))
    assert all(
        np.array_equal(a[0], b[0])
        for a, b in zip(p, perturb_params(jax.random.PRNGKey(4), p, 0.0), strict=True)
    )
    with pytest.raises(ValueError, match="scale must be a finite number >= 0"):
        perturb_params(jax.random.PRNGKey(4), p, -1.0)


def test_training_the_nnx_copy_leaves_the_params_alive(x64):
    # to_nnx copies: a jitted step that donates the module's buffers must not delete the
    # caller's arrays (the study measures the start distance after training)
    p = random_params(jax.random.PRNGKey(0), (2, 3, 1))
    model = to_nnx(p, rngs=nnx.Rngs(0))
    state = nnx.state(model)
    jax.jit(lambda s: jax.tree.map(lambda a: a + 1, s), donate_argnums=0)(state)
    assert all(np.isfinite(np.asarray(w)).all() and np.isfinite(np.asarray(b)).all() for w, b in p)
