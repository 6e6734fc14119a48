"""Recurrent model options (``model=NAME``): structured schemas and builders.

Each option is a dataclass registered in Hydra's ConfigStore as ``model=NAME`` and a
builder ``build(model_cfg, in_features, out_features, rngs) -> SequenceModel``
registered in :data:`RNN_BUILDERS`; an option may also register an optimizer hook
``hook(model_cfg, tx) -> tx`` (e.g. a projection after each step) in
:data:`RNN_OPTIMIZERS`. Studies call :func:`build_rnn` and :func:`rnn_optimizer`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import optax
from flax import nnx

from jaxorth.rnn import ORNNCell, SequenceModel
from jaxorth.studies._registry import register_option

RNN_BUILDERS: dict[str, Callable[..., SequenceModel]] = {}
OptimizerHook = Callable[[Any, optax.GradientTransformation], optax.GradientTransformation]
RNN_OPTIMIZERS: dict[str, OptimizerHook] = {}


def register_rnn(
    name: str, schema: type, optimizer: OptimizerHook | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``schema`` as ``model=name`` and the decorated function as its builder.

    ``optimizer``, if given, is the option's hook ``(model_cfg, tx) -> tx`` applied by
    :func:`rnn_optimizer` on top of the study's optimizer.
    """

    def decorator(fn: Callable[..., SequenceModel]) -> Callable[..., SequenceModel]:
        RNN_BUILDERS[name] = fn
        if optimizer is not None:
            RNN_OPTIMIZERS[name] = optimizer
        register_option("model", name, schema)
        return fn

    return decorator


def rnn_optimizer(model_cfg: Any, tx: optax.GradientTransformation) -> optax.GradientTransformation:
    """The optimizer ``cfg.model`` needs on top of ``tx`` (``cfg.optim``).

    ``tx`` unchanged unless the model option registered a hook (:func:`register_rnn`).
    """
    hook = None if model_cfg is None else RNN_OPTIMIZERS.get(str(model_cfg.get("name")))
    return tx if hook is None else hook(model_cfg, tx)


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
