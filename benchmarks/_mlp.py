"""The tanh MLP with a mean-squared-error loss timed by the Hessian benchmarks."""

import jax
import jax.numpy as jnp


def mlp(key, sizes):
    """Layers ``[(W, b), ...]`` of an MLP with widths ``sizes`` (``W`` scaled by 1/sqrt(in))."""
    keys = jax.random.split(key, len(sizes))
    return [
        (jax.random.normal(k, (a, b)) / jnp.sqrt(a), jnp.zeros(b))
        for k, a, b in zip(keys, sizes[:-1], sizes[1:])
    ]


def make_loss(x, y):
    """``loss(params)``: the MSE of the tanh MLP on the batch ``(x, y)``."""

    def loss(p):
        h = x
        for w, b in p[:-1]:
            h = jnp.tanh(h @ w + b)
        w, b = p[-1]
        return jnp.mean((h @ w + b - y) ** 2)

    return loss
