"""Atomic, resumable checkpoints of a training state with Orbax.

Orbax writes each step into a temporary folder and renames it once complete, so a run
killed mid-save leaves the previous checkpoint intact; a half-written folder is never
seen as a checkpoint. Saves are synchronous: when :meth:`Checkpointer.save` returns,
the step is on disk.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orbax.checkpoint as ocp

# Orbax logs every save at INFO through absl; keep run logs readable.
logging.getLogger("absl").setLevel(logging.WARNING)


class Checkpointer:
    """Save and restore pytrees by step in ``directory`` (keeps the newest ``max_to_keep``)."""

    def __init__(self, directory: str | os.PathLike[str], max_to_keep: int = 2):
        if max_to_keep < 1:
            raise ValueError(f"train.keep_checkpoints must be >= 1, got {max_to_keep}")
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True
            ),
        )

    def latest_step(self) -> int | None:
        """The newest complete checkpoint's step, or None."""
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any) -> None:
        """Write ``state`` (a pytree of arrays and scalars) as checkpoint ``step``."""
        self._manager.save(int(step), args=ocp.args.StandardSave(state), force=True)
        self._manager.wait_until_finished()

    def restore(self, step: int, like: Any) -> Any:
        """Read checkpoint ``step`` into a pytree with the structure of ``like``."""
        return self._manager.restore(int(step), args=ocp.args.StandardRestore(like))

    def close(self) -> None:
        self._manager.close()
