"""Run directories that are never silently reused, shared or overwritten.

A run directory belongs to one configuration. :func:`open_run` is called before any
compute and decides what happens to what is already there:

=========================================  ==============================================
what the directory holds                   what happens
=========================================  ==============================================
nothing (or no jaxorth run)                a fresh run
a run of *another* config                  :class:`RunConfigMismatch` listing the keys
                                           that differ, before compute
an unfinished run of the same config       resume (``fit`` restores the newest checkpoint
                                           and drops the metrics logged after it)
a finished run of the same config          its summary is returned, nothing is recomputed;
                                           with a larger ``train.steps`` it continues
anything, with ``train.resume=false``      the old run is moved to ``archive/<time>/``
                                           and a fresh one starts
another live process in it                 :class:`RunDirLocked` (pid and host named)
=========================================  ==============================================

"The same config" means the same *fingerprint*: a hash of the resolved config without
the keys that may change between a run and its resume (:data:`VOLATILE_KEYS`: the
length of training, logging, checkpointing, progress bars, devices and tracking).

The directory's state is ``run.json`` (fingerprint, the fingerprinted config, status
``running``/``finished``/``interrupted``/``failed``, ``train.steps``, times and the
files the run wrote); ``.lock`` holds the owner's pid and host while a process works in
it. Both are written atomically (write to a temporary file, then rename or link).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "VOLATILE_KEYS",
    "RunConfigMismatch",
    "RunDir",
    "RunDirLocked",
    "config_diff",
    "fingerprint",
    "open_run",
]

_log = logging.getLogger(__name__)

#: Config keys (dotted prefixes) left out of the fingerprint: changing them between a
#: run and its resume changes how long it trains or what it prints, not what it is.
VOLATILE_KEYS: tuple[str, ...] = (
    "train.steps",
    "train.progress",
    "train.log_every",
    "train.eval_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.resume",
    "train.data_parallel",
    "train.cpu_devices",
    "experiment.plot",
    "tracking",
    "preset",
)

STATE_FILE = "run.json"
LOCK_FILE = ".lock"
ARCHIVE_DIR = "archive"
#: Files and folders a jaxorth run writes besides those it records in ``run.json``.
KNOWN_OUTPUTS = (
    STATE_FILE,
    "config.yaml",
    "metrics.jsonl",
    "summary.json",
    "checkpoints",
    "checkpoints_corrupt",
    "runs",
    "wandb",
    "wandb_run_id",
)


class RunConfigMismatch(ValueError):
    """The run directory holds a run of another configuration."""


class RunDirLocked(RuntimeError):
    """Another live process works in the run directory."""


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, Mapping):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        if not tree and prefix:
            out[prefix[:-1]] = {}
        return out
    return {prefix[:-1]: tree}


def _is_volatile(key: str, volatile: tuple[str, ...]) -> bool:
    return any(key == v or key.startswith(v + ".") for v in volatile)


def stable_config(
    config: Mapping[str, Any], volatile: tuple[str, ...] = VOLATILE_KEYS
) -> dict[str, Any]:
    """``config`` flattened to dotted keys, without the ``volatile`` ones."""
    return {k: v for k, v in _flatten(config).items() if not _is_volatile(k, volatile)}


def fingerprint(config: Mapping[str, Any], volatile: tuple[str, ...] = VOLATILE_KEYS) -> str:
    """A short hash of ``config`` without its ``volatile`` keys (stable across runs)."""
    text = json.dumps(stable_config(config, volatile), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Lines ``key: old -> new`` for the flattened keys that differ (missing: ``<unset>``)."""
    a, b = _flatten(old), _flatten(new)
    lines = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<unset>") != b.get(key, "<unset>"):
            lines.append(f"{key}: {a.get(key, '<unset>')!r} -> {b.get(key, '<unset>')!r}")
    return lines


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _write_json_atomic(path: Path, payload: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _acquire_lock(run_dir: Path) -> Path:
    """Create ``.lock`` (pid, host, time) or raise :class:`RunDirLocked`; stale locks go."""
    lock = run_dir / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
    tmp = run_dir / f".lock.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(me), encoding="utf-8")
    try:
        for _ in range(3):
            try:
                os.link(tmp, lock)  # atomic: fails if the lock exists
                return lock
            except FileExistsError:
                pass
            try:
                owner = json.loads(lock.read_text(encoding="utf-8"))
                pid, host = int(owner["pid"]), str(owner["host"])
            except (OSError, ValueError, KeyError, TypeError):
                owner, pid, host = {}, -1, me["host"]  # unreadable: treated as stale
            if host == me["host"] and (pid < 0 or not _pid_alive(pid)):
                _log.warning("%s: removing the stale lock of process %s (not running)", lock, pid)
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                continue
            where = "this host" if host == me["host"] else f"host {host}"
            raise RunDirLocked(
                f"run directory {run_dir} is in use by process {pid} on {where} "
                f"(since {owner.get('since', '?')}): wait for it to finish, or give this run "
                f"another directory (hydra.run.dir=...)"
                + f"; if process {pid} is not a jaxorth run of this directory (a reused pid, "
                f"or gone from another host), delete {lock}"
            )
        raise RunDirLocked(f"could not take the lock {lock}")  # pragma: no cover
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class RunDir:
    """An opened run directory (see :func:`open_run`); holds its lock until :meth:`close`.

    Attributes
    ----------
    path : Path
        The directory.
    action : str
        What :func:`open_run` decided: ``"fresh"``, ``"resume"``, ``"continue"`` (a
        finished run asked for more steps), ``"finished"`` (nothing to do: see
        :attr:`summary`).
    summary : dict or None
        The stored ``summary.json`` of a finished run (``action == "finished"``).
    archived : Path or None
        Where the previous run was moved, when it was.
    """

    def __init__(self, path: Path, state: dict[str, Any], lock: Path):
        self.path, self.state, self._lock = path, state, lock
        self.action = "fresh"
        self.summary: dict[str, Any] | None = None
        self.archived: Path | None = None
        self.message = ""

    def _save(self) -> None:
        _write_json_atomic(self.path / STATE_FILE, self.state)

    def record_output(self, path: str | os.PathLike[str]) -> None:
        """Note a file the run wrote (it is archived with the run, see :func:`open_run`)."""
        rel = os.path.relpath(Path(path).absolute(), self.path.absolute())
        outputs = self.state.setdefault("outputs", [])
        if rel not in outputs and not rel.startswith(".."):
            outputs.append(rel)
            self._save()

    def mark(self, status: str, **extra: Any) -> None:
        """Set the run's status (``finished``, ``interrupted``, ``failed``) and save."""
        self.state.update(status=status, updated=_now(), **extra)
        self._save()

    def close(self) -> None:
        """Release the lock (idempotent)."""
        with contextlib.suppress(FileNotFoundError):
            self._lock.unlink()

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _archive(run_dir: Path, state: Mapping[str, Any] | None) -> Path | None:
    """Move the previous run's files into ``archive/<time>/``; return that folder."""
    names = set(KNOWN_OUTPUTS) | set((state or {}).get("outputs", []))
    present = [n for n in sorted(names) if (run_dir / n).exists()]
    if not present:
        return None
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    dest = run_dir / ARCHIVE_DIR / stamp
    n = 1
    while dest.exists():
        n += 1
        dest = run_dir / ARCHIVE_DIR / f"{stamp}-{n}"
    for name in present:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(run_dir / name), str(target))
    return dest


def _read_state(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / STATE_FILE
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"status": "unknown", "fingerprint": None, "config": None}
    return state if isinstance(state, dict) else None


def _legacy_config(run_dir: Path) -> dict[str, Any] | None:
    """The config of a run directory written before ``run.json`` existed, if any."""
    path = run_dir / "config.yaml"
    if not path.exists():
        return None
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None


def open_run(
    run_dir: str | os.PathLike[str],
    config: Mapping[str, Any],
    *,
    resume: bool = True,
    steps: int | None = None,
    volatile: tuple[str, ...] = VOLATILE_KEYS,
) -> RunDir:
    """Open ``run_dir`` for a run of ``config`` (plain, resolved); see the module table.

    Parameters
    ----------
    run_dir : path
        The run directory (created if missing).
    config : mapping
        The resolved config of this run (plain Python values).
    resume : bool
        ``False`` (``train.resume=false``) archives whatever the directory holds and
        starts fresh.
    steps : int, optional
        ``train.steps`` of this run: a finished run with fewer steps continues.

    Raises
    ------
    RunDirLocked
        Another live process holds the directory.
    RunConfigMismatch
        The directory holds a run of another config (and ``resume`` is true).
    """
    path = Path(run_dir)
    path.mkdir(parents=True, exist_ok=True)
    lock = _acquire_lock(path)
    try:
        return _decide(path, config, lock, resume=resume, steps=steps, volatile=volatile)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        raise


def _decide(
    path: Path,
    config: Mapping[str, Any],
    lock: Path,
    *,
    resume: bool,
    steps: int | None,
    volatile: tuple[str, ...],
) -> RunDir:
    stable = stable_config(config, volatile)
    fp = fingerprint(config, volatile)
    old = _read_state(path)
    if old is None:
        legacy = _legacy_config(path)
        has_outputs = any((path / n).exists() for n in KNOWN_OUTPUTS)
        if legacy is not None or has_outputs:
            old = {
                "status": "unknown",
                "fingerprint": fingerprint(legacy, volatile) if legacy else None,
                "config": stable_config(legacy, volatile) if legacy else None,
            }
    fresh_state = {
        "fingerprint": fp,
        "config": stable,
        "status": "running",
        "steps": steps,
        "created": _now(),
        "updated": _now(),
        "pid": os.getpid(),
        "outputs": [],
    }
    run = RunDir(path, fresh_state, lock)
    if old is None:
        run._save()
        return run
    if not resume:
        run.archived = _archive(path, old)
        if run.archived is not None:
            run.message = (
                f"train.resume=false: the previous run in {path} was moved to {run.archived}"
            )
        run._save()
        return run
    if old.get("fingerprint") != fp:
        if old.get("config") is None:
            detail = "  (its config is unknown: no readable run.json or config.yaml)"
        else:
            detail = "\n".join(f"  {line}" for line in config_diff(old["config"], stable))
        raise RunConfigMismatch(
            f"run directory {path} holds a run of another config:\n{detail}\n"
            "Nothing was changed. Either give this run its own directory "
            "(hydra.run.dir=...), or pass train.resume=false to move the old run to "
            f"{path / ARCHIVE_DIR}/<time>/ and start fresh."
        )
    status = old.get("status")
    old_steps = old.get("steps")
    summary_path = path / "summary.json"
    if status == "finished" and summary_path.exists():
        more = steps is not None and old_steps is not None and int(steps) > int(old_steps)
        if not more:
            run.state = old
            run.action = "finished"
            run.summary = json.loads(summary_path.read_text(encoding="utf-8"))
            shorter = steps is not None and old_steps is not None and int(steps) < int(old_steps)
            note = f" > train.steps={steps}; use a new hydra.run.dir for fewer" if shorter else ""
            run.message = (
                f"{path} already holds this finished run ({old_steps} steps{note}): "
                "its summary is shown, nothing was recomputed"
            )
            return run
        run.action = "continue"
        run.message = f"continuing the finished run in {path} from {old_steps} to {steps} steps"
    elif steps is None:
        # an unfinished run of a study without training steps: nothing to resume from,
        # so its partial outputs go to the archive and the run starts over
        run.archived = _archive(path, old)
        run.message = f"the unfinished run in {path} was moved to {run.archived}; starting over"
        run._save()
        return run
    else:
        run.action = "resume"
    run.state = {
        **old,
        "status": "running",
        "steps": steps,
        "updated": _now(),
        "pid": os.getpid(),
        "fingerprint": fp,
        "config": stable,
    }
    run.state.setdefault("outputs", [])
    run._save()
    return run
