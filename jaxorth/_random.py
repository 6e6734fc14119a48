"""Randomness shared by every package: a numpy generator seeded by a JAX key.

Drawing initial values or samples with numpy needs no XLA compilation per shape (one
compile per layer shape adds up in small models and in tests), and seeding the generator
from the caller's explicit JAX key keeps the library's rule: the same key gives the same
result, and there is no hidden global state.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["numpy_rng"]


def numpy_rng(key: Any, name: str = "key") -> np.random.Generator:
    """A :class:`numpy.random.Generator` seeded by the JAX PRNG key ``key``.

    Accepts typed keys (``jax.random.key(0)``) and raw ``uint32`` keys
    (``jax.random.PRNGKey(0)``); anything else is a ``ValueError`` naming ``name``.
    """
    try:
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
        data = np.asarray(key, dtype=np.uint32).reshape(-1)
    except (AttributeError, TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a JAX PRNG key (jax.random.key(0)), got {key!r}") from err
    return np.random.default_rng(data.tolist())
