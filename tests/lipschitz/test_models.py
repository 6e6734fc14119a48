"""OrthCNN: its Lipschitz bound against dense float64 SVDs and measured ratios."""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.lipschitz import OrthCNN
from jaxorth.orthconv import conv


def dense_layer(kernel: np.ndarray, size: int, stride: int) -> np.ndarray:
    """The layer matrix in float64: conv applied to every basis image (columns)."""
    c = kernel.shape[1]
    eye = np.eye(c * size * size).reshape(-1, c, size, size)
    out = np.asarray(conv(jnp.asarray(eye), jnp.asarray(kernel, jnp.float64), stride))
    return out.reshape(len(eye), -1).T


@functools.cache  # built once per variant for the whole module (the tests only read it)
def trained_like(variant: str) -> OrthCNN:
    model = OrthCNN(variant, (2, 4), 3, input_size=8, rngs=nnx.Rngs(0))
    if variant == "soft":  # move away from the init so that sigma_max differs per layer
        rng = np.random.default_rng(0)
        for layer in model.convs:
            layer.weight[...] = layer.weight[...] * jnp.asarray(
                rng.uniform(0.5, 2.0, layer.weight.shape), jnp.float32
            )
    return model


@pytest.mark.parametrize("variant", ["soft", "exact"])
def test_lipschitz_bound_is_product_of_dense_sigma_max(x64, variant):
    model = trained_like(variant)
    size, norms = 8, []
    for layer, s in zip(model.convs, model.strides):
        a = dense_layer(np.asarray(layer.kernel(), np.float64), size, s)
        norms.append(np.linalg.svd(a, compute_uv=False).max())
        size //= s
    head = np.asarray(model.head_matrix(), np.float64)
    np.testing.assert_allclose(head @ head.T, np.eye(10), atol=1e-5)  # orthonormal rows
    norms.append(np.linalg.svd(head, compute_uv=False).max())
    np.testing.assert_allclose(model.lipschitz_bound(), np.prod(norms), rtol=1e-5)
    spectra = model.layer_singular_values()
    assert [len(v) for v in spectra] == [1 * 64, 4 * 16, 4 * 4, 10]  # min(M, C S^2) N^2
    if variant == "exact":
        np.testing.assert_allclose(np.concatenate(spectra), 1.0, atol=1e-5)
        assert max(float(v) for v in model.lorth_values()) < 1e-8
        assert float(model.lorth_penalty()) == 0.0
    else:
        assert model.lipschitz_bound() > 1.5
        np.testing.assert_allclose(
            float(model.lorth_penalty()), sum(float(v) for v in model.lorth_values()), rtol=1e-6
        )


@pytest.mark.parametrize("variant", ["soft", "exact"])
def test_lipschitz_bound_bounds_measured_ratios(variant):
    model = trained_like(variant)
    lip = model.lipschitz_bound()
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (64, 1, 8, 8)).astype(np.float32)
    forward = nnx.jit(lambda m, z: m(z))
    fx = np.asarray(forward(model, x))
    assert fx.shape == (64, 10)
    for scale in (1.0, 1e-2):
        # perturbation and ratios in numpy (the network is the only jax program here)
        y = x + scale * rng.standard_normal(x.shape).astype(np.float32)
        fy = np.asarray(forward(model, y))
        ratio = np.linalg.norm(fx - fy, axis=1) / np.linalg.norm((x - y).reshape(64, -1), axis=1)
        assert float(ratio.max()) <= lip * (1 + 1e-4)
        assert float(ratio.max()) > 1e-3 * lip


def test_orthcnn_bad_options():
    with pytest.raises(ValueError, match="variant must be one of 'exact', 'soft'"):
        OrthCNN("hard", (2, 4), 3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"channels must be \(c1, c2\)"):
        OrthCNN("soft", (2,), 3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="input_size must be a multiple of 4"):
        OrthCNN("soft", (2, 4), 3, input_size=6, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="no orthogonal convolution exists"):
        OrthCNN("exact", (16, 32), 1, rngs=nnx.Rngs(0))
