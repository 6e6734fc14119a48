"""Study ``experiment=har``: human activity recognition (UCI HAR) from the user's files.

Each window (2.56 s at 50 Hz: 128 steps of the 9 raw inertial signals, standardized with
the training statistics; :func:`jaxorth.data.load_har`) is read one step at a time by a
recurrent model option and the activity (6 classes) is read from the last state.

HadamRNN (Foucault, Mamalet and Malgouyres, ICLR 2025) reports two IoT benchmarks
among which human activity recognition; its authors' repository
(github.com/deel-ai-papers/hadamRNN) holds no HAR config, so the YAML's hidden size,
learning rate, batch and epochs are [to confirm in the paper], as are the paper's HAR
variant (the 6 UCI classes here; the IoT RNN literature also uses a binary "HAR-2") and
its preprocessing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from jaxorth.data import HAR_CLASSES, HAR_SIGNALS, load_har
from jaxorth.studies._classify import (
    check_epochs,
    classifier_row,
    fit_classifier,
    loss_arrays,
    loss_figure,
    steps_for_epochs,
)
from jaxorth.studies._common import check_data_name, check_step_schedule
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table
from jaxorth.studies._registry import register_study
from jaxorth.studies.rnn_models import build_rnn


@dataclasses.dataclass
class HarConfig:
    """Schema of ``experiment=har``.

    ``epochs``: training length in epochs of the 7,352 training windows (sets
    ``train.steps``; ``null``: ``train.steps`` counts) [to confirm in the paper].
    ``eval_chunk``: test windows per evaluation batch.
    """

    name: str = "har"
    epochs: int | None = 100
    eval_chunk: int = 1000
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.data`` / ``cfg.experiment`` before any file is read."""
    data = check_data_name(cfg, "har")
    if data.dir is None:
        raise ValueError("data.dir is required: the folder holding 'UCI HAR Dataset'")
    if not Path(str(data.dir)).expanduser().is_dir():
        raise FileNotFoundError(f"data.dir={str(data.dir)!r} is not a directory")
    check_epochs(cfg)
    check_step_schedule(cfg, has_epochs=True)


def build_model(cfg: DictConfig) -> Any:
    """The untrained ``cfg.model``: the HAR signals in, one logit per activity out."""
    return build_rnn(cfg.model, len(HAR_SIGNALS), HAR_CLASSES, seed=int(cfg.seed))


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Read the UCI HAR windows, train ``cfg.model`` on them, evaluate on the test split."""
    ds = load_har(str(cfg.data.dir), standardize=bool(cfg.data.standardize))
    model = build_model(cfg)
    cfg, per_epoch = steps_for_epochs(cfg, len(ds.x_train))
    result, history = fit_classifier(
        cfg, ctx, model, (ds.x_train, ds.y_train), (ds.x_test, ds.y_test)
    )
    data = f"{len(ds.x_train)} train / {len(ds.x_test)} test windows"
    row = classifier_row(cfg, model, result, data, epochs=round(result.step / per_epoch, 2))
    T = ds.x_train.shape[1]
    title = f"har: UCI HAR, {HAR_CLASSES} activities ({T} steps x {len(HAR_SIGNALS)} signals)"
    summary = {**{k: v for k, v in row.items() if k != "data"}, "steps_per_epoch": per_epoch}
    return StudyResult(
        tables={"results": Table([row], title)},
        summary=summary,
        arrays=loss_arrays(history, "har"),
    )


HAR = register_study(
    Study("har", HarConfig, run=run, check=check, report=loss_figure, build_model=build_model)
)
