"""Recurrent model options (``model=NAME``): structured schemas and builders.

Each option is a dataclass registered in Hydra's ConfigStore as ``model=NAME`` and a
builder ``build(model_cfg, in_features, out_features, rngs) -> SequenceModel``
registered in :data:`RNN_BUILDERS`. Studies call :func:`build_rnn`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from flax import nnx

from jaxorth.rnn import ORNNCell, SequenceModel
from jaxorth.studies._registry import register_option

RNN_BUILDERS: dict[str, Callable[..., SequenceModel]] = {}


def register_rnn(name: str, schema: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``schema`` as ``model=name`` and the decorated function as its builder."""

    def decorator(fn: Callable[..., SequenceModel]) -> Callable[..., SequenceModel]:
        RNN_BUILDERS[name] = fn
        register_option("model", name, schema)
        return fn

    return decorator


def build_rnn(model_cfg: Any, in_features: int, out_features: int, seed: int) -> SequenceModel:
    """Build the sequence model described by ``cfg.model``."""
    if model_cfg is None:
        raise ValueError("this experiment needs a model: add model=<name> (e.g. model=ornn)")
    name = model_cfg.name
    if name not in RNN_BUILDERS:
        raise ValueError(
            f"model.name={name!r} is not a recurrent model; known: {sorted(RNN_BUILDERS)}"
        )
    return RNN_BUILDERS[name](model_cfg, in_features, out_features, nnx.Rngs(seed))


@dataclasses.dataclass
class ORNNConfig:
    """Full-precision orthogonal RNN: ``W = expm(skew A)`` (expRNN) or Cayley."""

    name: str = "ornn"
    hidden: int = 128
    param: str = "expm"
    init: str = "henaff"


@register_rnn("ornn", ORNNConfig)
def _build_ornn(cfg: Any, in_features: int, out_features: int, rngs: nnx.Rngs) -> SequenceModel:
    cell = ORNNCell(int(cfg.hidden), param=str(cfg.param), init=str(cfg.init), rngs=rngs)
    return SequenceModel(cell, in_features, out_features, rngs=rngs)
