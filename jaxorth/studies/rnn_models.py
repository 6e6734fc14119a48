"""Recurrent model options (``model=NAME``): structured schemas and builders.

``model=ornn`` (full-precision orthogonal RNN), ``model=hadamrnn``,
``model=block_hadamrnn`` (Foucault, Mamalet and Malgouyres, ICLR 2025) and
``model=qornn`` (Foucault, Mamalet and Malgouyres 2024). For the quantized models the
input and output matrices ``U`` and ``V`` are quantized to ``in_bits`` / ``out_bits``
(4 by default, one scale per tensor, STE); ``null`` keeps them in full precision.
``levels`` picks the integer codes of every quantized matrix (``U``, ``V`` and the QORNN
``W``): ``full`` (default), the ``2^k`` codes ``[-2^{k-1}, 2^{k-1} - 1]`` with step
``max|w| / 2^{k-1}`` of the authors' code (deel-ai-papers/hadamRNN, ``UniformQuantize``),
or ``symmetric``, ``[-(2^{k-1} - 1), 2^{k-1} - 1]`` with step ``max|w| / (2^{k-1} - 1)``
(this package's quantizer before 2027; :func:`jaxorth.quant.code_range`). Every
size constraint is checked when the model is built, before any compute.

Each option is a dataclass registered in Hydra's ConfigStore as ``model=NAME`` and a
builder ``build(model_cfg, in_features, out_features, rngs) -> SequenceModel``
registered in :data:`RNN_BUILDERS` (keyword options such as ``embedding_dim`` are
passed on to :class:`~jaxorth.rnn.SequenceModel`); an option may also register an optimizer hook
``hook(model_cfg, tx) -> tx`` (e.g. a projection after each step) in
:data:`RNN_OPTIMIZERS`. Studies call :func:`build_rnn` and :func:`rnn_optimizer`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
from collections.abc import Callable, Iterator
from typing import Any

import jax
import optax
from flax import nnx

from jaxorth.quant import KBitSTE, check_bits, check_levels
from jaxorth.rnn import (
    BlockHadamRNNCell,
    HadamRNNCell,
    ORNNCell,
    QORNNCell,
    SequenceModel,
    project_orthogonal,
)
from jaxorth.studies._protocol import config_key
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


def build_rnn(
    model_cfg: Any, in_features: int, out_features: int, seed: int, **options: Any
) -> SequenceModel:
    """Build the sequence model described by ``cfg.model``.

    ``options`` (e.g. ``embedding_dim``, ``padding_id`` for token inputs) go to
    :class:`~jaxorth.rnn.SequenceModel`.
    """
    if model_cfg is None:
        raise ValueError("this experiment needs a model: add model=<name> (e.g. model=ornn)")
    name = model_cfg.name
    if name not in RNN_BUILDERS:
        raise ValueError(
            f"model.name={name!r} is not a recurrent model; known: {sorted(RNN_BUILDERS)}"
        )
    return RNN_BUILDERS[name](model_cfg, in_features, out_features, nnx.Rngs(seed), **options)


def weight_bits_label(model_cfg: Any) -> str:
    """Recurrent-weight precision of a model option, for the tables."""
    name = str(model_cfg.name)
    if name == "hadamrnn":
        return "1 (binary)"
    if name == "block_hadamrnn":
        return "ternary"
    if name == "qornn":
        return str(int(model_cfg.bits))
    return "32"


# the cells' parameter names -> the keys of cfg.model (for the messages)
_KEYS = {
    "hidden_size": "hidden",
    "block_size": "block",
    "param": "param",
    "init": "init",
    "clip": "clip",
    "radix": "radix",
    "bits": "bits",
    "method": "method",
    "n_iter": "n_iter",
    "scale": "scale",
    "levels": "levels",
}


@contextlib.contextmanager
def model_keys(model_cfg: Any) -> Iterator[None]:
    """Re-word a cell's ``ValueError`` with the ``model.*`` key of the parameter it names.

    The cells name their own parameters (``hidden_size must be a positive integer``);
    inside this block the message becomes ``model.hidden=0: hidden_size must be ...``
    (:func:`jaxorth.studies.config_key`). Messages that name no parameter pass unchanged.
    """
    try:
        yield
    except ValueError as err:
        first = str(err).split(" ", 1)[0].split("=", 1)[0]
        key = _KEYS.get(first)
        if key is None or key not in model_cfg:
            raise
        with config_key(f"model.{key}", model_cfg[key]):
            raise err from None


def _cell_param_mask(params: Any, name: str) -> Any:
    def is_it(path: tuple[Any, ...], _: Any) -> bool:
        names = [getattr(k, "key", getattr(k, "name", None)) for k in path]
        return names[:2] == ["cell", name]

    return jax.tree_util.tree_map_with_path(is_it, params)


def recurrent_weight_mask(params: Any) -> Any:
    """``True`` on the free recurrent parameter ``cell.w`` of a SequenceModel's params."""
    return _cell_param_mask(params, "w")


def sign_vector_mask(params: Any) -> Any:
    """``True`` on the sign vector ``cell.u`` of a Hadamard SequenceModel's params."""
    return _cell_param_mask(params, "u")


def skew_parameter_mask(params: Any) -> Any:
    """``True`` on the recurrent parameter ``cell.a`` of an ORNN SequenceModel's params."""
    return _cell_param_mask(params, "a")


def _scaled_lr(
    tx: optax.GradientTransformation, scale: float, mask: Callable[[Any], Any]
) -> optax.GradientTransformation:
    # Adam's step is proportional to the lr: scaling the update scales the lr exactly
    return tx if scale == 1.0 else optax.chain(tx, optax.masked(optax.scale(scale), mask))


def ornn_optimizer(
    model_cfg: Any, tx: optax.GradientTransformation
) -> optax.GradientTransformation:
    """Optimizer hook of ``model=ornn`` (see :func:`rnn_optimizer`).

    ``recurrent_lr_scale=s``: the recurrent parameter ``A`` (``cell.a``, ``W = expm(A -
    A^T)`` or its Cayley transform) trains with the learning rate ``s * optim.lr`` (same
    schedule), the other parameters with ``optim.lr``: expRNN's separate recurrent
    learning rate (Lezcano-Casado and Martinez-Rubio 2019).
    """
    lr_scale = float(model_cfg.get("recurrent_lr_scale", 1.0))
    if not lr_scale > 0:
        raise ValueError(f"model.recurrent_lr_scale must be > 0, got {lr_scale!r}")
    return _scaled_lr(tx, lr_scale, skew_parameter_mask)


def hadamard_optimizer(
    model_cfg: Any, tx: optax.GradientTransformation
) -> optax.GradientTransformation:
    """Optimizer hook of ``model=hadamrnn`` / ``block_hadamrnn`` (see :func:`rnn_optimizer`).

    ``recurrent_lr_scale=s``: the sign vector ``u`` (``cell.u``) trains with the learning
    rate ``s * optim.lr`` (the same schedule), the other parameters with ``optim.lr``;
    ``s = 0`` keeps the signs of ``W`` fixed at their initial values. Why it matters: a
    sign flip changes ``W`` and with it every power ``W^t`` of the recurrence, so a model
    fitted to fixed signs loses its fit at the first flips (sequential MNIST, hidden 512,
    ``init=random``, Adam lr ``1e-3``: no flip before step ~2,000, then the training
    loss jumps from 0.2 to 3.6 within 10 steps and the flips cascade; README).
    """
    lr_scale = float(model_cfg.get("recurrent_lr_scale", 1.0))
    if not lr_scale >= 0:
        raise ValueError(
            f"model.recurrent_lr_scale must be >= 0 (0: fixed signs), got {lr_scale!r}"
        )
    return _scaled_lr(tx, lr_scale, sign_vector_mask)


class ORNNParam(enum.StrEnum):
    """``model.param`` of ``model=ornn``: exponential map (expRNN) or Cayley transform."""

    expm = "expm"
    cayley = "cayley"


class ORNNInit(enum.StrEnum):
    """``model.init`` of ``model=ornn``: Henaff rotations, zeros (W = I) or random skew."""

    henaff = "henaff"
    zeros = "zeros"
    random = "random"


@dataclasses.dataclass
class ORNNConfig:
    """Full-precision orthogonal RNN: ``W = expm(skew A)`` (expRNN) or Cayley."""

    name: str = "ornn"
    hidden: int = 128
    param: ORNNParam = ORNNParam.expm
    init: ORNNInit = ORNNInit.henaff
    recurrent_lr_scale: float = 1.0


@register_rnn("ornn", ORNNConfig, optimizer=ornn_optimizer)
def _build_ornn(
    cfg: Any, in_features: int, out_features: int, rngs: nnx.Rngs, **options: Any
) -> SequenceModel:
    with model_keys(cfg):
        cell = ORNNCell(int(cfg.hidden), param=str(cfg.param), init=str(cfg.init), rngs=rngs)
    return SequenceModel(cell, in_features, out_features, rngs=rngs, **options)


def _levels(cfg: Any) -> str:
    with config_key("model.levels", cfg.levels):
        return check_levels(str(cfg.levels))


def _transform(bits: Any, key: str, levels: str) -> KBitSTE | None:
    if bits is None:
        return None
    with config_key(f"model.{key}", bits):
        return KBitSTE(check_bits(int(bits), key), levels)


def _model(
    cfg: Any, cell: Any, in_features: int, out_features: int, rngs: nnx.Rngs, **options: Any
) -> Any:
    levels = _levels(cfg)
    return SequenceModel(
        cell,
        in_features,
        out_features,
        rngs=rngs,
        input_transform=_transform(cfg.in_bits, "in_bits", levels),
        output_transform=_transform(cfg.out_bits, "out_bits", levels),
        **options,
    )


def _clip(cfg: Any) -> float | None:
    return None if cfg.clip is None else float(cfg.clip)


class QuantLevels(enum.StrEnum):
    """``model.levels``: integer codes of the quantized matrices (``code_range``)."""

    full = "full"
    symmetric = "symmetric"


class HadamInit(enum.StrEnum):
    """``model.init`` of ``model=hadamrnn`` / ``block_hadamrnn``: the sign vector ``u``."""

    random = "random"
    uniform = "uniform"
    ones = "ones"


@dataclasses.dataclass
class HadamRNNConfig:
    """HadamRNN: ``W = diag(sign u) H_n / sqrt(n)``, ``n = hidden`` a power of 2."""

    name: str = "hadamrnn"
    hidden: int = 128
    in_bits: int | None = 4
    out_bits: int | None = 4
    levels: QuantLevels = QuantLevels.full
    clip: float | None = None
    init: HadamInit = HadamInit.random
    radix: int = 64
    recurrent_lr_scale: float = 1.0


@register_rnn("hadamrnn", HadamRNNConfig, optimizer=hadamard_optimizer)
def _build_hadamrnn(
    cfg: Any, in_features: int, out_features: int, rngs: nnx.Rngs, **options: Any
) -> Any:
    with model_keys(cfg):
        cell = HadamRNNCell(
            int(cfg.hidden), clip=_clip(cfg), init=str(cfg.init), radix=int(cfg.radix), rngs=rngs
        )
    return _model(cfg, cell, in_features, out_features, rngs, **options)


@dataclasses.dataclass
class BlockHadamRNNConfig:
    """Block-HadamRNN: ``W = diag(sign u)(I kron H_m)/sqrt(m)``, ``m = block`` divides ``n``."""

    name: str = "block_hadamrnn"
    hidden: int = 128
    block: int = 16
    in_bits: int | None = 4
    out_bits: int | None = 4
    levels: QuantLevels = QuantLevels.full
    clip: float | None = None
    init: HadamInit = HadamInit.random
    radix: int = 64
    recurrent_lr_scale: float = 1.0


@register_rnn("block_hadamrnn", BlockHadamRNNConfig, optimizer=hadamard_optimizer)
def _build_block_hadamrnn(
    cfg: Any, in_features: int, out_features: int, rngs: nnx.Rngs, **options: Any
) -> Any:
    with model_keys(cfg):
        cell = BlockHadamRNNCell(
            int(cfg.hidden),
            int(cfg.block),
            clip=_clip(cfg),
            init=str(cfg.init),
            radix=int(cfg.radix),
            rngs=rngs,
        )
    return _model(cfg, cell, in_features, out_features, rngs, **options)


class QORNNMethod(enum.StrEnum):
    """``model.method`` of ``model=qornn``: STE-Bjorck or STE-projUNN."""

    bjorck = "bjorck"
    projunn = "projunn"


class QORNNInit(enum.StrEnum):
    """``model.init`` of ``model=qornn``: Henaff rotations, Haar orthogonal or identity."""

    henaff = "henaff"
    orthogonal = "orthogonal"
    identity = "identity"


class QuantScale(enum.StrEnum):
    """``model.scale`` of ``model=qornn``: the step of ``W_q`` (``max|W_o| / L`` or MSE)."""

    max = "max"
    mse = "mse"


@dataclasses.dataclass
class QORNNConfig:
    """QORNN: ``bits``-bit recurrent matrix by STE-Bjorck or STE-projUNN.

    ``init="orthogonal"`` (Haar) by default: the Henaff rotations of the full-precision
    ORNN quantize to eigenvalue moduli 0.91..1.09 at 4 bits (see the module docstring
    of :class:`jaxorth.rnn.QORNNCell`). ``method="projunn"`` also projects ``W`` back onto
    O(n) after every optimizer step (:func:`qornn_optimizer`). ``scale="mse"`` uses the
    least-squared-error step for ``W_q`` instead of ``max|W_o| / 2^{k-1}``. ``levels``:
    the codes of ``W_q``, ``U`` and ``V`` (module docstring). ``recurrent_lr_scale``
    multiplies the learning rate of the recurrent parameter ``W`` only
    (:func:`qornn_optimizer`).
    """

    name: str = "qornn"
    hidden: int = 128
    bits: int = 4
    method: QORNNMethod = QORNNMethod.bjorck
    n_iter: int = 15
    init: QORNNInit = QORNNInit.orthogonal
    scale: QuantScale = QuantScale.max
    levels: QuantLevels = QuantLevels.full
    recurrent_lr_scale: float = 1.0
    in_bits: int | None = 4
    out_bits: int | None = 4


def qornn_optimizer(
    model_cfg: Any, tx: optax.GradientTransformation
) -> optax.GradientTransformation:
    """Optimizer hook of ``model=qornn`` (see :func:`rnn_optimizer`).

    ``recurrent_lr_scale=s`` (``s != 1``): the update of the recurrent parameter ``W``
    (``cell.w``) is multiplied by ``s`` (``optax.scale`` masked to ``cell.w``), i.e. ``W``
    trains with the learning rate ``s * optim.lr`` and the same schedule (exact for
    Adam, whose step is proportional to the lr), the other parameters with
    ``optim.lr``: the separate recurrent learning rate of the orthogonal RNN literature
    (expRNN, Lezcano-Casado and Martinez-Rubio 2019; projUNN, Kiani et al. 2022).
    ``method=projunn`` (STE-projUNN, Foucault, Mamalet and Malgouyres 2024):
    after each step the recurrent parameter ``W`` is projected back onto
    O(n) (:func:`jaxorth.rnn.project_orthogonal`, masked to ``cell.w``), so the
    parameter itself stays orthogonal, not only the matrix used in the forward pass.
    ``method=bjorck`` with ``recurrent_lr_scale=1`` gets ``tx`` unchanged.
    """
    lr_scale = float(model_cfg.get("recurrent_lr_scale", 1.0))
    if not lr_scale > 0:
        raise ValueError(f"model.recurrent_lr_scale must be > 0, got {lr_scale!r}")
    tx = _scaled_lr(tx, lr_scale, recurrent_weight_mask)
    if str(model_cfg.get("method")) != "projunn":
        return tx
    return optax.chain(tx, optax.masked(project_orthogonal(), recurrent_weight_mask))


@register_rnn("qornn", QORNNConfig, optimizer=qornn_optimizer)
def _build_qornn(
    cfg: Any, in_features: int, out_features: int, rngs: nnx.Rngs, **options: Any
) -> Any:
    with model_keys(cfg):
        cell = QORNNCell(
            int(cfg.hidden),
            int(cfg.bits),
            method=str(cfg.method),
            n_iter=int(cfg.n_iter),
            init=str(cfg.init),
            scale=str(cfg.scale),
            levels=_levels(cfg),
            rngs=rngs,
        )
    return _model(cfg, cell, in_features, out_features, rngs, **options)
