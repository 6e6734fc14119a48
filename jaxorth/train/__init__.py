"""Training infrastructure: loop, trackers, checkpoints."""

from .checkpoint import Checkpointer as Checkpointer
from .evaluate import jit_metrics as jit_metrics
from .loop import FitResult as FitResult
from .loop import LoopConfig as LoopConfig
from .loop import NonFiniteError as NonFiniteError
from .loop import fit as fit
from .loop import make_optimizer as make_optimizer
from .loop import set_cpu_devices as set_cpu_devices
from .loop import sharded_batch_mean as sharded_batch_mean
from .tracking import HistoryTracker as HistoryTracker
from .tracking import JsonlTracker as JsonlTracker
from .tracking import NullTracker as NullTracker
from .tracking import Tracker as Tracker
from .tracking import WandbTracker as WandbTracker
from .tracking import make_tracker as make_tracker

__all__ = [
    "Checkpointer",
    "FitResult",
    "HistoryTracker",
    "JsonlTracker",
    "LoopConfig",
    "NonFiniteError",
    "NullTracker",
    "Tracker",
    "WandbTracker",
    "fit",
    "jit_metrics",
    "make_optimizer",
    "set_cpu_devices",
    "sharded_batch_mean",
    "make_tracker",
]
