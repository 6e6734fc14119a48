"""Atomic, resumable checkpoints of a training state with Orbax.

Orbax writes each step into a temporary folder and renames it once complete, so a run
killed mid-save leaves the previous checkpoint intact; a half-written folder is never
seen as a checkpoint. Saves are synchronous: when :meth:`Checkpointer.save` returns,
the step is on disk.

Corrupt checkpoints
-------------------
A complete folder can still be damaged afterwards (a truncated data file, an emptied
``_METADATA``, a deleted ``manifest.ocdbt``, a disk that filled up). :meth:`Checkpointer.
restore_latest` tries the newest step first and, when it cannot be read, logs one
WARNING line naming the step and the error (exception type and the first line of its
message), moves the folder aside to ``<directory>_corrupt/<step>`` (next to the
checkpoint folder, so Orbax no longer sees it and the same step can be saved again;
nothing is deleted), and tries the next older step. What was skipped is returned as a
list of :class:`SkippedCheckpoint`.

A checkpoint that is *intact* but holds a different tree (another model, width or
optimizer) is not corruption: before reading any array, the stored leaf paths, shapes
and dtypes are compared with the tree to restore into, and a difference raises
:class:`CheckpointMismatchError` naming the step and the first differing leaves, instead
of an Orbax traceback. Nothing is moved in that case.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

# Orbax logs every save at INFO through absl; keep run logs readable.
logging.getLogger("absl").setLevel(logging.WARNING)

log = logging.getLogger(__name__)

# the item folder inside a step folder (CheckpointManager's name for a single item)
_ITEM = "default"
# how many differing leaves a mismatch error lists
_SHOWN = 4


class CheckpointMismatchError(ValueError):
    """An intact checkpoint holds a different tree than the one to restore into.

    Attributes
    ----------
    step : int
        The checkpoint's step.
    directory : Path
        The checkpoint folder (``.../checkpoints``).
    differences : list of str
        One line per differing leaf (``params/kernel/value: checkpoint (5, 2) float32,
        model (7, 2) float32``, or a leaf present on one side only).

    Examples
    --------
    >>> import tempfile
    >>> import jax.numpy as jnp
    >>> from jaxorth.train import CheckpointMismatchError, Checkpointer
    >>> with tempfile.TemporaryDirectory() as root, Checkpointer(f"{root}/checkpoints") as ckpt:
    ...     ckpt.save(5, {"w": jnp.zeros(2)})
    ...     try:  # another model's tree: an error, nothing moved aside
    ...         ckpt.restore_latest({"w": jnp.zeros(3)})
    ...     except CheckpointMismatchError as error:
    ...         found = error
    >>> found.step, found.differences
    (5, ['w: checkpoint (2,) float32, model (3,) float32'])
    """

    def __init__(self, step: int, directory: Path, differences: list[str]):
        self.step = int(step)
        self.directory = Path(directory)
        self.differences = list(differences)
        shown = "; ".join(self.differences[:_SHOWN])
        more = len(self.differences) - _SHOWN
        super().__init__(
            f"the checkpoint at step {self.step} in {self.directory} does not match this "
            f"model ({len(self.differences)} differing leaves: {shown}"
            + (f"; and {more} more" if more > 0 else "")
            + "); it was written by a different configuration: use a new run directory "
            "or train.resume=false"
        )

    def __reduce__(self):
        return type(self), (self.step, self.directory, self.differences)


class SkippedCheckpoint(NamedTuple):
    """A checkpoint that could not be restored and was moved aside.

    ``step`` is its step, ``reason`` the exception type and the first line of its message,
    ``moved_to`` where its folder now is.

    Examples
    --------
    >>> from pathlib import Path
    >>> from jaxorth.train import SkippedCheckpoint
    >>> skipped = SkippedCheckpoint(3, "ValueError: truncated file", Path("checkpoints_corrupt/3"))
    >>> skipped.step, skipped.moved_to.name, skipped._fields
    (3, '3', ('step', 'reason', 'moved_to'))
    """

    step: int
    reason: str
    moved_to: Path


def _key_name(key: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _leaf_specs(tree: Any) -> dict[str, tuple[tuple[int, ...], str | None]]:
    """``{"a/b/0/c": (shape, dtype)}`` for every leaf of ``tree``.

    Containers of any kind (dicts, lists, namedtuples, NNX states, Orbax metadata) give
    the same paths. Leaves under a top-level ``params`` come first (the most telling).
    """
    specs = {}
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    leaves.sort(key=lambda item: not (item[0] and _key_name(item[0][0]) == "params"))
    for path, leaf in leaves:
        name = "/".join(_key_name(k) for k in path)
        shape = getattr(leaf, "shape", None)
        dtype = getattr(leaf, "dtype", None)
        specs[name] = (
            tuple(shape) if shape is not None else tuple(np.shape(leaf)),
            str(np.dtype(dtype)) if dtype is not None else None,
        )
    return specs


def _describe(spec: tuple[tuple[int, ...], str | None]) -> str:
    shape, dtype = spec
    return f"{shape}" + (f" {dtype}" if dtype else "")


def tree_differences(stored: Any, like: Any) -> list[str]:
    """The leaves where ``stored`` and ``like`` differ, one readable line each.

    ``stored`` is a checkpoint's tree or its metadata; leaves are compared by path, shape
    and dtype. Empty when they match. Differing shapes come first, then leaves only in
    ``like`` ("the model"), then leaves only in ``stored``.
    """
    a, b = _leaf_specs(stored), _leaf_specs(like)
    out = []
    for k in b:
        if k in a:
            (sa, da), (sb, db) = a[k], b[k]
            if sa != sb or (da is not None and db is not None and da != db):
                out.append(f"{k}: checkpoint {_describe(a[k])}, model {_describe(b[k])}")
    out += [f"{k}: only in the model {_describe(b[k])}" for k in b if k not in a]
    out += [f"{k}: only in the checkpoint {_describe(a[k])}" for k in a if k not in b]
    return out


# where Orbax/TensorStore messages start dumping their JSON specs
_SPEC_MARKERS = (" [tensorstore_spec=", ". See full TensorStore details", " See full TensorStore")


def _reason(error: BaseException) -> str:
    """``"Type: first line of the message"``, without TensorStore's spec dumps."""
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else ""
    for marker in _SPEC_MARKERS:
        first = first.split(marker, 1)[0]
    if len(first) > 240:
        first = first[:240] + "..."
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _is_orbax_leftover(unraisable: Any) -> bool:
    """Whether an unraisable exception is the debris of an abandoned Orbax read.

    Either an Orbax read coroutine finalized unfinished, or a TensorStore completion
    callback that found its event loop closed (``call_soon_threadsafe``).
    """
    code = getattr(unraisable.object, "cr_code", None)
    if code is not None and "orbax" in code.co_filename:
        return True
    if not (
        isinstance(unraisable.exc_value, RuntimeError)
        and "Event loop is closed" in str(unraisable.exc_value)
        and unraisable.exc_traceback is not None
    ):
        return False
    frames = traceback.extract_tb(unraisable.exc_traceback)
    return any(frame.name == "call_soon_threadsafe" for frame in frames)


class _OrbaxTaskFilter(logging.Filter):
    """Drops asyncio's "... exception was never retrieved" for abandoned Orbax reads."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "exception was never retrieved" not in message:
            return True
        text = message
        if record.exc_info and record.exc_info[2] is not None:
            text += "".join(str(f.filename) for f in traceback.extract_tb(record.exc_info[2]))
        return not any(word in text for word in ("tensorstore", "orbax", "_read_array"))


_LEFTOVERS_MUTED = False


def _mute_orbax_leftovers() -> None:
    """Mute, from now on, the debris of failed Orbax reads (installed once).

    When one array of a checkpoint cannot be read, Orbax abandons the reads of the other
    arrays; their coroutines are finalized later (at some garbage collection, after their
    event loop closed), and each prints "Exception ignored in: <coroutine
    _read_array_index_and_device_put>" with a long traceback, or asyncio logs "Task
    exception was never retrieved". After the first failed read, exactly those messages
    are dropped (``sys.unraisablehook`` and the ``asyncio`` logger get a narrow filter;
    everything else passes through), so a fallback stays one warning line.
    """
    global _LEFTOVERS_MUTED
    if _LEFTOVERS_MUTED:
        return
    _LEFTOVERS_MUTED = True
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not _is_orbax_leftover(unraisable):
            previous(unraisable)

    sys.unraisablehook = hook
    logging.getLogger("asyncio").addFilter(_OrbaxTaskFilter())


def _attempt(read: Callable[[], Any]) -> tuple[Any, str | None]:
    """``(read(), None)``, or ``(None, reason)`` when it raised (see :func:`_reason`)."""
    try:
        return read(), None
    except Exception as error:
        _mute_orbax_leftovers()
        reason = _reason(error)
    gc.collect()  # finalize what the failed read left, now that ``error`` is released
    return None, reason


def _placed_like(restored: Any, leaf: Any) -> Any:
    """``restored`` placed as ``leaf``: uncommitted when ``leaf`` is an uncommitted array.

    Orbax commits every array it restores to a device; a fresh model's arrays are not
    committed, and JAX compiles a program again for committed arguments. (An uncommitted
    ``leaf`` on another device than the default one keeps Orbax's placement.)
    """
    if isinstance(leaf, jax.Array) and not leaf.committed and isinstance(restored, jax.Array):
        placed = jax.device_put(np.asarray(restored))  # no device named: not committed
        if placed.devices() == leaf.devices():
            return placed
    return restored


def _shape_dtype(leaf: Any) -> jax.ShapeDtypeStruct:
    """A restore target (read as a numpy array) for a leaf of stored metadata."""
    return jax.ShapeDtypeStruct(tuple(leaf.shape), leaf.dtype)


class Checkpointer:
    """Save and restore pytrees by step in ``directory`` (keeps the newest ``max_to_keep``).

    :meth:`restore_latest` is the resume entry point: it falls back past corrupt
    checkpoints (moved to ``<directory>_corrupt/``) and raises
    :class:`CheckpointMismatchError` for an intact checkpoint of another tree.

    Examples
    --------
    >>> import tempfile
    >>> import jax.numpy as jnp
    >>> from jaxorth.train import Checkpointer
    >>> with tempfile.TemporaryDirectory() as root, Checkpointer(f"{root}/checkpoints") as ckpt:
    ...     ckpt.save(5, {"w": jnp.arange(2.0)})
    ...     tree, step, skipped = ckpt.restore_latest({"w": jnp.zeros(2)})
    >>> tree["w"].tolist(), step, skipped
    ([0.0, 1.0], 5, [])
    """

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

    @property
    def corrupt_directory(self) -> Path:
        """Where corrupt checkpoints are moved: ``<directory>_corrupt`` (a sibling)."""
        return self.directory.with_name(self.directory.name + "_corrupt")

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
        """Read checkpoint ``step`` into a pytree with the structure of ``like``.

        Each array comes back placed as its leaf of ``like``: on the same sharding, or,
        for an array not committed to a device (a fresh model's, outside a mesh), not
        committed either, so the programs a fresh run compiled (which JAX keys by the
        placement of their arguments) are reused, not compiled again. No fallback and no
        structure check here (see :meth:`restore_latest`).
        """
        tree = self._manager.restore(int(step), args=ocp.args.StandardRestore(like))
        if jax.tree.structure(tree) != jax.tree.structure(like):
            return tree  # restore_latest reports the difference
        return jax.tree.map(_placed_like, tree, like)

    def stored_metadata(self, step: int) -> Any:
        """The tree of leaf metadata (shape, dtype) that checkpoint ``step`` holds.

        Raises whatever Orbax raises when the metadata cannot be read (a corrupt step).
        """
        folder = self.directory / str(int(step))
        item = folder / _ITEM if (folder / _ITEM).is_dir() else folder
        handler = ocp.StandardCheckpointHandler()
        try:
            return handler.metadata(item)
        finally:
            handler.close()

    def check_matches(self, step: int, like: Any) -> None:
        """Raise :class:`CheckpointMismatchError` if checkpoint ``step`` differs from ``like``.

        Leaf paths, shapes and dtypes are compared; any other error means the step's
        metadata cannot be read.
        """
        differences = tree_differences(self.stored_metadata(step), like)
        if differences:
            raise CheckpointMismatchError(step, self.directory, differences)

    def restore_entry(self, step: int, name: str, like: Any) -> Any:
        """Read only the entry ``name`` of checkpoint ``step`` into the structure of ``like``.

        For a checkpoint of a :meth:`TrainState.checkpoint_tree
        <jaxorth.train.TrainState.checkpoint_tree>`, ``name="params"`` gives the trained
        parameters without building the optimizer: the other entries are read as the
        shapes and dtypes stored (and dropped). Nothing is moved or written.

        Raises
        ------
        KeyError
            If the checkpoint has no entry ``name``.
        CheckpointMismatchError
            If the entry's leaves (paths, shapes, dtypes) differ from ``like``'s.
        """
        stored = self.stored_metadata(step)
        tree = dict(getattr(stored, "tree", stored))
        if name not in tree:
            raise KeyError(
                f"the checkpoint at step {int(step)} in {self.directory} has no entry "
                f"{name!r} (it has {sorted(tree)})"
            )
        differences = tree_differences(tree[name], like)
        if differences:
            raise CheckpointMismatchError(step, self.directory, differences)
        target = {
            key: like if key == name else jax.tree.map(_shape_dtype, value)
            for key, value in tree.items()
        }
        return self.restore(step, target)[name]

    def set_aside(self, step: int, reason: str) -> SkippedCheckpoint:
        """Move checkpoint ``step`` to :attr:`corrupt_directory` (never deleted).

        Logs one WARNING line with ``reason``; the manager forgets the step, so a later
        save of the same step works. A step moved aside before is kept as ``<step>.1``.
        """
        self.corrupt_directory.mkdir(parents=True, exist_ok=True)
        target = self.corrupt_directory / str(int(step))
        n = 1
        while target.exists():
            target = self.corrupt_directory / f"{int(step)}.{n}"
            n += 1
        shutil.move(str(self.directory / str(int(step))), str(target))
        self._manager.reload()
        log.warning(
            "checkpoint step %d in %s cannot be restored (%s); moved it to %s and "
            "trying the next older checkpoint",
            step,
            self.directory,
            reason,
            target,
        )
        return SkippedCheckpoint(int(step), reason, target)

    def restore_latest(self, like: Any) -> tuple[Any | None, int | None, list[SkippedCheckpoint]]:
        """The newest checkpoint that restores, as ``(tree, step, skipped)``.

        Steps are tried from the newest; one that cannot be read is moved aside (see
        :meth:`set_aside`) and listed in ``skipped``, newest first. ``(None, None,
        skipped)`` when no checkpoint restores (or there is none).

        Raises
        ------
        CheckpointMismatchError
            If the newest readable checkpoint is intact but holds another tree than
            ``like`` (a different configuration); nothing is moved.
        """
        skipped: list[SkippedCheckpoint] = []
        for step in sorted(self._manager.all_steps(), reverse=True):
            stored, reason = _attempt(lambda step=step: self.stored_metadata(step))
            if reason is None:
                differences = tree_differences(stored, like)
                if differences:  # intact, but written by another configuration
                    raise CheckpointMismatchError(step, self.directory, differences)
                tree, reason = _attempt(lambda step=step: self.restore(step, like))
            if reason is not None:  # the metadata or an array cannot be read: corrupt
                skipped.append(self.set_aside(step, reason))
                continue
            differences = tree_differences(tree, like)
            if differences:  # should not happen once the metadata matched
                raise CheckpointMismatchError(step, self.directory, differences)
            return tree, int(step), skipped
        if skipped:
            log.warning(
                "no checkpoint in %s could be restored (all moved to %s)",
                self.directory,
                self.corrupt_directory,
            )
        return None, None, skipped

    def close(self) -> None:
        self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
