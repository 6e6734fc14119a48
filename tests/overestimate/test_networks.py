"""MonotoneMLP is monotone by construction; MLP and apply_layers read the applied weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.overestimate import ACTIVATIONS, MLP, MonotoneMLP, apply_layers


def _randomize(model, key, scale=3.0):
    """Replace every parameter by a random draw: monotonicity must not depend on init."""
    params = nnx.state(model, nnx.Param)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    new = [scale * jax.random.normal(k, leaf.shape, leaf.dtype) for k, leaf in zip(keys, leaves)]
    nnx.update(model, jax.tree.unflatten(treedef, new))


NUMPY_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda t: 1.0 / (1.0 + np.exp(-t)),
    "relu": lambda t: np.maximum(t, 0.0),
    "softplus": lambda t: np.logaddexp(0.0, t),
}


def _numpy_forward(layers, x, activation):
    """An independent float64 forward pass of ``layers`` (numpy)."""
    h = x
    for i, (w, b) in enumerate(layers):
        h = h @ np.asarray(w, np.float64).T + np.asarray(b, np.float64)
        h = NUMPY_ACTIVATIONS[activation](h) if i < len(layers) - 1 else h
    return h[:, 0]


def test_every_activation_is_covered_by_the_reference():
    assert set(NUMPY_ACTIVATIONS) == set(ACTIVATIONS)


@pytest.mark.parametrize("directions", [(1, 1, 1), (1, -1, 1), (-1, -1, 1)])
def test_monotone_mlp_finite_differences_have_the_sign_of_directions(directions):
    """Forward differences along each axis, at random points, for random parameters."""
    rng = np.random.default_rng(0)
    for activation in ACTIVATIONS:
        for seed in range(3):
            g = MonotoneMLP(
                3, [12, 12], directions=directions, activation=activation, rngs=nnx.Rngs(seed)
            )
            _randomize(g, jax.random.PRNGKey(100 + seed))
            layers = g.layers()
            x = rng.uniform(-3.0, 3.0, size=(500, 3))
            y = _numpy_forward(layers, x, activation)
            for j, sense in enumerate(directions):
                for h in (1e-3, 0.5):
                    step = np.zeros(3)
                    step[j] = h
                    diff = sense * (_numpy_forward(layers, x + step, activation) - y)
                    assert diff.min() >= 0.0, (activation, directions, seed, j, h)
                    # and not constant: the output depends on every input somewhere
                    assert diff.max() > 0.0, (activation, directions, seed, j, h)


def test_monotone_mlp_applied_weights_are_nonnegative_up_to_directions():
    g = MonotoneMLP(2, [5], directions=[1, -1], rngs=nnx.Rngs(0))
    (w1, _), (w2, _) = g.layers()
    assert w1.shape == (5, 2) and w2.shape == (1, 5)
    assert (w1[:, 0] > 0).all() and (w1[:, 1] < 0).all() and (w2 > 0).all()


@pytest.mark.parametrize("cls", [MonotoneMLP, MLP])
def test_call_is_the_dense_network_of_its_layers(cls):
    """``g(x)`` against a numpy forward pass of ``g.layers()``."""
    g = cls(3, [7, 4], rngs=nnx.Rngs(1))
    x = np.random.default_rng(0).uniform(-1, 1, size=(20, 3)).astype(np.float32)
    ref = _numpy_forward(g.layers(), x.astype(np.float64), g.activation)
    np.testing.assert_allclose(np.asarray(g(jnp.asarray(x))), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(apply_layers(g.layers(), jnp.asarray(x), g.activation)),
        ref,
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_features": 0, "widths": [4]}, "in_features must be a positive integer"),
        ({"in_features": 2, "widths": []}, "widths must list at least one"),
        ({"in_features": 2, "widths": [4, 0]}, r"widths\[1\] must be a positive integer"),
        ({"in_features": 2, "widths": [4], "directions": [1]}, "directions must hold in_featu"),
        ({"in_features": 2, "widths": [4], "directions": [1, 0]}, "each \\+1 or -1"),
        ({"in_features": 2, "widths": [4], "activation": "gelu"}, "activation must be one of"),
    ],
)
def test_monotone_mlp_bad_arguments(user_checks, kwargs, match):
    with user_checks(), pytest.raises(ValueError, match=match):
        MonotoneMLP(**kwargs, rngs=nnx.Rngs(0))
