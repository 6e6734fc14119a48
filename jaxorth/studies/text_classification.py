"""Study ``experiment=text_classification``: IMDB, GLUE SST-2 or QQP from the user's files.

The reviews / sentences / question pairs are read from ``data.dir``
(:func:`jaxorth.data.load_text`: a vocabulary of the ``data.max_words`` most frequent
training words, padded and truncated to ``data.length`` tokens), then a recurrent model
option reads the token ids through a learned float embedding of width
``experiment.embedding`` before its (quantized) input matrix, and the class (2: negative
/ positive, not duplicate / duplicate) is read from the last state
(:class:`jaxorth.rnn.SequenceModel` with ``embedding_dim``; the padding id's embedding
row is held at zero).

Settings of the HadamRNN authors (Foucault, Mamalet and Malgouyres, ICLR 2025; their
configs ``config/imdb/imdb_hadamRNN_paper.yaml`` and ``config/glue/*_hadamRNN_paper.yaml``
in github.com/deel-ai-papers/hadamRNN): a word embedding (``torch.nn.Embedding``, float,
padding row 0) before the 4-bit input layer, the last state's 4-bit readout, Adam,
lr 5e-4, decayed by 0.99 per epoch (StepLR).

- IMDB: hidden 128, embedding 512, T = 500, batch 100, 30 epochs; the Keras IMDB data
  (10,000 words, pre-padded, the last 500 tokens kept).
- SST-2: hidden 128, embedding 256, T = 128, batch 100, 30 epochs.
- QQP: hidden 512, Block-HadamRNN with blocks of 2^7 = 128 (``BASIC_BLOCK: 7``),
  embedding 256, T = 128, batch 20, 50 epochs.

Differences: their GLUE runs use the BERT WordPiece tokenizer (30,522 ids, one
``[CLS]`` first, ``[SEP]`` last); here words come from :func:`jaxorth.data.tokenize`
and the vocabulary is built on the training split (no download). Their loss is a binary
cross-entropy on one logit; here a 2-class softmax cross-entropy on two (the same model
family: the logit difference). ``experiment.epochs`` sets ``train.steps`` to whole
epochs of the training split; ``null`` keeps ``train.steps``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from jaxorth._checks import int_at_least
from jaxorth.data import PAD_ID, load_text
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
from jaxorth.studies._protocol import Study, StudyResult, Table, config_key
from jaxorth.studies._registry import register_study
from jaxorth.studies.rnn_models import build_rnn

#: The word embedding width of the HadamRNN authors' runs (``INPUT_SIZE`` of their configs).
PAPER_EMBEDDING = {"imdb": 512, "sst2": 256, "qqp": 256}


@dataclasses.dataclass
class TextClassificationConfig:
    """Schema of ``experiment=text_classification``.

    ``epochs``: training length in epochs of the training split (sets ``train.steps``;
    ``null``: ``train.steps`` counts). ``embedding``: width of the word embedding
    (``null``: the paper's, 512 for IMDB, 256 for SST-2 and QQP). ``eval_chunk``: test
    sequences per evaluation batch.
    """

    name: str = "text_classification"
    epochs: int | None = 30
    embedding: int | None = None
    eval_chunk: int = 500
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.data`` / ``cfg.experiment`` before any file is read."""
    data, ex = check_data_name(cfg, "text"), cfg.experiment
    if data.dir is None:
        raise ValueError(
            "data.dir is required: the folder holding aclImdb/ (data.task=imdb) or "
            "SST-2/ / QQP/ with the GLUE TSV files (data.task=sst2 / qqp)"
        )
    if not Path(str(data.dir)).expanduser().is_dir():
        raise FileNotFoundError(f"data.dir={str(data.dir)!r} is not a directory")
    for key in ("length", "max_words"):
        if data[key] is not None:
            with config_key(f"data.{key}", data[key]):
                int_at_least(int(data[key]), key, 1)
    if ex.embedding is not None:
        with config_key("experiment.embedding", ex.embedding):
            int_at_least(int(ex.embedding), "embedding", 1)
    check_epochs(cfg)
    check_step_schedule(cfg, has_epochs=True)


def _load(cfg: DictConfig) -> Any:
    """The tokenized task of ``cfg.data`` (:func:`jaxorth.data.load_text`)."""
    data = cfg.data
    return load_text(
        str(data.task),
        str(data.dir),
        length=None if data.length is None else int(data.length),
        max_words=int(data.max_words),
        padding=str(data.padding),
        skip_malformed=bool(data.skip_malformed),
    )


def _embedding(cfg: DictConfig) -> int:
    ex = cfg.experiment
    return PAPER_EMBEDDING[str(cfg.data.task)] if ex.embedding is None else int(ex.embedding)


def _model(cfg: DictConfig, vocabulary_size: int) -> Any:
    return build_rnn(
        cfg.model,
        vocabulary_size,
        2,
        seed=int(cfg.seed),
        embedding_dim=_embedding(cfg),
        padding_id=PAD_ID,
    )


def build_model(cfg: DictConfig) -> Any:
    """The untrained ``cfg.model`` with its word embedding.

    Reads the task's files (as :func:`run` does) for the size of the vocabulary.
    """
    return _model(cfg, len(_load(cfg).vocabulary))


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Read the task's files, train ``cfg.model`` with a word embedding, evaluate."""
    task = str(cfg.data.task)
    ds = _load(cfg)
    embedding = _embedding(cfg)
    model = _model(cfg, len(ds.vocabulary))
    cfg, per_epoch = steps_for_epochs(cfg, len(ds.x_train))
    result, history = fit_classifier(
        cfg, ctx, model, (ds.x_train, ds.y_train), (ds.x_test, ds.y_test)
    )
    n, T = ds.x_train.shape
    row = classifier_row(
        cfg,
        model,
        result,
        f"{task}: {n} train / {len(ds.x_test)} {ds.test_split}",
        embedding=embedding,
        vocabulary=len(ds.vocabulary),
        T=T,
        epochs=round(result.step / per_epoch, 2),
    )
    title = (
        f"text_classification: {task} ({T} tokens, class from the last state; "
        f"test = the {ds.test_split} split)"
    )
    summary = {
        **{k: v for k, v in row.items() if k != "data"},
        "task": task,
        "steps_per_epoch": per_epoch,
    }
    return StudyResult(
        tables={"results": Table([row], title)},
        summary=summary,
        arrays=loss_arrays(history, f"text_classification: {task}"),
    )


TEXT_CLASSIFICATION = register_study(
    Study(
        "text_classification",
        TextClassificationConfig,
        run=run,
        check=check,
        report=loss_figure,
        build_model=build_model,
    )
)
