"""Training infrastructure: loop, step, data parallelism, optimizers, trackers, checkpoints.

Modules: ``loop`` (:func:`fit`), ``step`` (:class:`TrainState`, the jitted step with its
NaN guard), ``parallel`` (devices, mesh, batch sharding), ``optim``
(:func:`make_optimizer`), ``tracking``, ``checkpoint``, ``evaluate``, ``load``
(:func:`load_run`: a finished run's config, summary, metrics and trained model).
"""

from .checkpoint import Checkpointer as Checkpointer
from .checkpoint import CheckpointMismatchError as CheckpointMismatchError
from .checkpoint import SkippedCheckpoint as SkippedCheckpoint
from .evaluate import jit_metrics as jit_metrics
from .load import LoadedRun as LoadedRun
from .load import load_run as load_run
from .loop import FitResult as FitResult
from .loop import Interrupted as Interrupted
from .loop import LoopConfig as LoopConfig
from .loop import NonFiniteError as NonFiniteError
from .loop import fit as fit
from .optim import make_optimizer as make_optimizer
from .parallel import set_cpu_devices as set_cpu_devices
from .parallel import sharded_batch_mean as sharded_batch_mean
from .step import TrainState as TrainState
from .step import init_train_state as init_train_state
from .step import make_train_step as make_train_step
from .tracking import HistoryTracker as HistoryTracker
from .tracking import JsonlTracker as JsonlTracker
from .tracking import NullTracker as NullTracker
from .tracking import PrefixTracker as PrefixTracker
from .tracking import Tracker as Tracker
from .tracking import WandbTracker as WandbTracker
from .tracking import make_tracker as make_tracker

__all__ = [
    "CheckpointMismatchError",
    "Checkpointer",
    "FitResult",
    "HistoryTracker",
    "Interrupted",
    "JsonlTracker",
    "LoadedRun",
    "LoopConfig",
    "NonFiniteError",
    "NullTracker",
    "PrefixTracker",
    "SkippedCheckpoint",
    "Tracker",
    "TrainState",
    "WandbTracker",
    "fit",
    "init_train_state",
    "jit_metrics",
    "load_run",
    "make_optimizer",
    "make_train_step",
    "set_cpu_devices",
    "sharded_batch_mean",
    "make_tracker",
]
