"""Evaluation of an NNX model under ``jax.jit``, compiled once per model structure."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
from flax import nnx

MetricFn = Callable[..., Mapping[str, jax.Array]]


def jit_metrics(
    fn: MetricFn, static_argnums: tuple[int, ...] = ()
) -> Callable[..., dict[str, float]]:
    """``evaluate(model, *args) -> {name: float}``: ``fn(model, *args)`` under ``jax.jit``.

    The model is split into its graph definition (static) and state (traced), so calling
    ``evaluate`` again with the same model, or with a trained copy of it, reuses the
    compiled program; ``static_argnums`` index ``args`` (0 is the first after ``model``).
    Metrics come back as Python floats (one host transfer per call).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.train import jit_metrics
    >>> evaluate = jit_metrics(lambda model, x: {"mean": model(x).mean()})
    >>> model = nnx.Linear(2, 1, kernel_init=nnx.initializers.ones, rngs=nnx.Rngs(0))
    >>> evaluate(model, jnp.ones((4, 2)))  # Python floats: 1 + 1 (+ a zero bias)
    {'mean': 2.0}
    """
    shifted = tuple(i + 1 for i in static_argnums)  # after the state

    @functools.lru_cache(maxsize=16)
    def compiled(graphdef: Any) -> Callable[..., Mapping[str, jax.Array]]:
        def body(state: Any, *args: Any) -> Mapping[str, jax.Array]:
            return fn(nnx.merge(graphdef, state), *args)

        return jax.jit(body, static_argnums=shifted)

    def evaluate(model: nnx.Module, *args: Any) -> dict[str, float]:
        graphdef, state = nnx.split(model)
        out = compiled(graphdef)(state, *args)
        return {k: float(v) for k, v in out.items()}

    return evaluate
