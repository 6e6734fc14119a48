"""Quantized recurrent model options: ``model=hadamrnn``, ``block_hadamrnn``, ``qornn``.

HadamRNN / Block-HadamRNN (Foucault, Mamalet and Malgouyres, ICLR 2025) and QORNN
(Foucault, Mamalet and Malgouyres 2024). The input and output matrices ``U`` and ``V``
are quantized to ``in_bits`` / ``out_bits`` (4 by default, one scale per tensor, STE);
``null`` keeps them in full precision. Every size constraint is checked when the model
is built, before any compute.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import optax
from flax import nnx

from jaxorth.quant import KBitSTE, check_bits
from jaxorth.rnn import (
    BlockHadamRNNCell,
    HadamRNNCell,
    QORNNCell,
    SequenceModel,
    project_orthogonal,
)
from jaxorth.studies._models import register_rnn


def _transform(bits: Any, key: str) -> KBitSTE | None:
    if bits is None:
        return None
    return KBitSTE(check_bits(int(bits), f"model.{key}"))


def _model(cfg: Any, cell: Any, in_features: int, out_features: int, rngs: nnx.Rngs) -> Any:
    return SequenceModel(
        cell,
        in_features,
        out_features,
        rngs=rngs,
        input_transform=_transform(cfg.in_bits, "in_bits"),
        output_transform=_transform(cfg.out_bits, "out_bits"),
    )


def _clip(cfg: Any) -> float | None:
    return None if cfg.clip is None else float(cfg.clip)


@dataclasses.dataclass
class HadamRNNConfig:
    """HadamRNN: ``W = diag(sign u) H_n / sqrt(n)``, ``n = hidden`` a power of 2."""

    name: str = "hadamrnn"
    hidden: int = 128
    in_bits: int | None = 4
    out_bits: int | None = 4
    clip: float | None = None
    init: str = "random"
    radix: int = 16


@register_rnn("hadamrnn", HadamRNNConfig)
def _build_hadamrnn(cfg: Any, in_features: int, out_features: int, rngs: nnx.Rngs) -> Any:
    _transform(cfg.in_bits, "in_bits"), _transform(cfg.out_bits, "out_bits")
    cell = HadamRNNCell(
        int(cfg.hidden), clip=_clip(cfg), init=str(cfg.init), radix=int(cfg.radix), rngs=rngs
    )
    return _model(cfg, cell, in_features, out_features, rngs)


@dataclasses.dataclass
class BlockHadamRNNConfig:
    """Block-HadamRNN: ``W = diag(sign u)(I kron H_m)/sqrt(m)``, ``m = block`` divides ``n``."""

    name: str = "block_hadamrnn"
    hidden: int = 128
    block: int = 16
    in_bits: int | None = 4
    out_bits: int | None = 4
    clip: float | None = None
    init: str = "random"
    radix: int = 16


@register_rnn("block_hadamrnn", BlockHadamRNNConfig)
def _build_block_hadamrnn(cfg: Any, in_features: int, out_features: int, rngs: nnx.Rngs) -> Any:
    _transform(cfg.in_bits, "in_bits"), _transform(cfg.out_bits, "out_bits")
    cell = BlockHadamRNNCell(
        int(cfg.hidden),
        int(cfg.block),
        clip=_clip(cfg),
        init=str(cfg.init),
        radix=int(cfg.radix),
        rngs=rngs,
    )
    return _model(cfg, cell, in_features, out_features, rngs)


@dataclasses.dataclass
class QORNNConfig:
    """QORNN: ``bits``-bit recurrent matrix by STE-Bjorck or STE-projUNN.

    ``init="orthogonal"`` (Haar) by default: the Henaff rotations of the full-precision
    ORNN quantize to eigenvalue moduli 0.91..1.09 at 4 bits (see
    :mod:`jaxorth.rnn._qornn`). ``method="projunn"`` also projects ``W`` back onto
    O(n) after every optimizer step (:func:`qornn_optimizer`). ``scale="mse"`` uses the
    least-squared-error step for ``W_q`` instead of ``max|W_o| / L``.
    """

    name: str = "qornn"
    hidden: int = 128
    bits: int = 4
    method: str = "bjorck"
    n_iter: int = 15
    init: str = "orthogonal"
    scale: str = "max"
    in_bits: int | None = 4
    out_bits: int | None = 4


def _is_recurrent_weight(path: tuple[Any, ...], _: Any) -> bool:
    names = [getattr(k, "key", getattr(k, "name", None)) for k in path]
    return names[:2] == ["cell", "w"]


def recurrent_weight_mask(params: Any) -> Any:
    """``True`` on the free recurrent parameter ``cell.w`` of a SequenceModel's params."""
    return jax.tree_util.tree_map_with_path(_is_recurrent_weight, params)


def qornn_optimizer(
    model_cfg: Any, tx: optax.GradientTransformation
) -> optax.GradientTransformation:
    """Optimizer hook of ``model=qornn`` (see :func:`jaxorth.studies._models.rnn_optimizer`).

    ``method=projunn`` (STE-projUNN, Foucault, Mamalet and Malgouyres 2024):
    after each step of ``tx`` the recurrent parameter ``W`` is projected back onto
    O(n) (:func:`jaxorth.rnn.project_orthogonal`, masked to ``cell.w``), so the
    parameter itself stays orthogonal, not only the matrix used in the forward pass.
    ``method=bjorck`` gets ``tx`` unchanged.
    """
    if str(model_cfg.get("method")) != "projunn":
        return tx
    return optax.chain(tx, optax.masked(project_orthogonal(), recurrent_weight_mask))


@register_rnn("qornn", QORNNConfig, optimizer=qornn_optimizer)
def _build_qornn(cfg: Any, in_features: int, out_features: int, rngs: nnx.Rngs) -> Any:
    _transform(cfg.in_bits, "in_bits"), _transform(cfg.out_bits, "out_bits")
    cell = QORNNCell(
        int(cfg.hidden),
        check_bits(int(cfg.bits), "model.bits"),
        method=str(cfg.method),
        n_iter=int(cfg.n_iter),
        init=str(cfg.init),
        scale=str(cfg.scale),
        rngs=rngs,
    )
    return _model(cfg, cell, in_features, out_features, rngs)
