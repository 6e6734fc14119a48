"""Experiment trackers: a small protocol with ``null``, ``jsonl`` and ``wandb`` backends.

Every backend takes plain Python scalars (``float``/``int``/``str``); arrays are converted
with ``float()`` by :func:`to_scalars`. ``wandb`` is imported lazily and runs in offline
mode unless the user sets ``tracking.mode=online`` (the machines are offline by default).

Besides the :class:`Tracker` protocol, a tracker may have ``log_table(name, rows,
title)`` (results tables; :func:`log_table` calls it when it is there): the W&B backend
logs them as ``wandb.Table``, the others ignore them (the tables are files already).
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Tracker(Protocol):
    """What a run reports to: metrics by step, images, a final summary.

    ``truncate_after(step, prefix)`` forgets what was logged after ``step`` (only the
    records with a key starting with ``prefix`` when it is not empty); :func:`fit` calls
    it when it resumes from the checkpoint of ``step``, so no step is logged twice.

    Examples
    --------
    >>> from jaxorth.train import JsonlTracker, NullTracker, Tracker
    >>> isinstance(NullTracker(), Tracker), isinstance(object(), Tracker)  # a Protocol
    (True, False)
    """

    def log(self, metrics: Mapping[str, Any], step: int) -> None: ...

    def log_image(
        self, name: str, path: str | os.PathLike[str], step: int | None = None
    ) -> None: ...

    def summary(self, values: Mapping[str, Any]) -> None: ...

    def finish(self) -> None: ...

    def truncate_after(self, step: int, prefix: str = "") -> None: ...


def _matches(record: Mapping[str, Any], step: int, prefix: str) -> bool:
    """Whether ``truncate_after(step, prefix)`` drops ``record``."""
    if int(record.get("step", -1)) <= step:
        return False
    return not prefix or any(k.startswith(prefix) for k in record if k != "step")


def to_scalars(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Convert 0-d arrays / numpy scalars to Python scalars; keep strings and ints."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, str | bool | int) or value is None:
            out[key] = value
            continue
        arr = np.asarray(value)
        if arr.ndim != 0:
            raise ValueError(f"metric {key!r} must be a scalar, got shape {arr.shape}")
        if np.issubdtype(arr.dtype, np.integer):
            out[key] = int(arr)
        else:
            out[key] = float(arr)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return sanitize_json(value.item())
    if isinstance(value, np.ndarray):
        return sanitize_json(value.tolist())
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def sanitize_json(value: Any) -> Any:
    """Make ``value`` strict JSON: non-finite floats become the strings "nan"/"inf"/"-inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): sanitize_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sanitize_json(v) for v in value]
    if isinstance(value, np.generic | np.ndarray):
        return sanitize_json(_json_default(value))
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` producing strict JSON (see :func:`sanitize_json`)."""
    return json.dumps(sanitize_json(value), default=_json_default, allow_nan=False, **kwargs)


def records_of(tracker: Tracker, prefix: str = "") -> list[dict[str, Any]]:
    """What ``tracker`` has kept (its ``records(prefix)`` method), or ``[]``."""
    read = getattr(tracker, "records", None)
    return list(read(prefix)) if callable(read) else []


def log_table(
    tracker: Tracker, name: str, rows: Sequence[Mapping[str, Any]], title: str | None = None
) -> None:
    """Hand a results table to ``tracker`` (its optional ``log_table`` method), if it has one."""
    method = getattr(tracker, "log_table", None)
    if callable(method):
        method(name, rows, title)


#: The file in a run directory that holds the id of its W&B run (see :class:`WandbTracker`).
WANDB_ID_FILE = "wandb_run_id"


def new_run_id(length: int = 8) -> str:
    """A fresh W&B run id: ``length`` random lowercase letters and digits (as W&B's own).

    Drawn from :mod:`secrets`, not from the experiment's seed: two runs of one config in
    two folders are two W&B runs.
    """
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _read_run_id(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def _write_run_id(path: Path, run_id: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(run_id + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _jsonl_lines(path: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                out.append((line, record))
    return out


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file, in order (``[]`` if it does not exist).

    Lines cut by a kill are skipped; the strings ``"nan"``, ``"inf"`` and ``"-inf"``
    that :func:`dumps` writes for non-finite floats are read back as floats.
    """
    non_finite = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
    return [
        {k: non_finite.get(v, v) if isinstance(v, str) else v for k, v in record.items()}
        for _, record in _jsonl_lines(Path(path))
    ]


class NullTracker:
    """Discards everything.

    Examples
    --------
    >>> from jaxorth.train import NullTracker, Tracker
    >>> tracker = NullTracker()
    >>> tracker.log({"loss": 1.0}, step=0), tracker.summary({"loss": 1.0}), tracker.finish()
    (None, None, None)
    >>> isinstance(tracker, Tracker)
    True
    """

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        del metrics, step

    def log_image(self, name: str, path: str | os.PathLike[str], step: int | None = None) -> None:
        del name, path, step

    def summary(self, values: Mapping[str, Any]) -> None:
        del values

    def finish(self) -> None:
        pass

    def truncate_after(self, step: int, prefix: str = "") -> None:
        """Nothing is kept, so nothing to drop."""
        del step, prefix


class JsonlTracker:
    """Appends one JSON object per ``log`` call to ``run_dir/metrics.jsonl``.

    Lines are flushed at once, so a killed run keeps every metric logged before the kill.
    On resume, lines with ``step`` beyond the resumed step are dropped by
    :meth:`truncate_after` so the file has no duplicated steps.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.train import JsonlTracker
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     tracker = JsonlTracker(run_dir)
    ...     tracker.log({"loss": 1.0}, step=10)
    ...     tracker.log({"loss": 0.5}, step=20)
    ...     tracker.truncate_after(10)  # resumed from step 10: later lines dropped
    ...     tracker.finish()
    ...     lines = Path(run_dir, "metrics.jsonl").read_text().splitlines()
    >>> lines
    ['{"step": 10, "loss": 1.0}']
    """

    def __init__(self, run_dir: str | os.PathLike[str], filename: str = "metrics.jsonl"):
        self.path = Path(run_dir) / filename
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")

    def truncate_after(self, step: int, prefix: str = "") -> None:
        """Drop logged lines whose ``step`` is greater than ``step`` (used on resume).

        With a ``prefix``, only the lines holding a key that starts with it are dropped
        (several models logging into one file, see :class:`PrefixTracker`).
        """
        self._fh.close()
        kept = [line for line, record in self._lines() if not _matches(record, step, prefix)]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
        os.replace(tmp, self.path)
        self._fh = self.path.open("a", encoding="utf-8")

    def records(self, prefix: str = "") -> list[dict[str, Any]]:
        """Every record in the file (those with a key starting with ``prefix`` if given).

        Lines cut by a kill are skipped. :class:`HistoryTracker` reads this on resume so
        that figures and summaries cover the whole run, not only the steps since.
        """
        self._fh.flush()
        return [
            record
            for _, record in self._lines()
            if not prefix or any(k.startswith(prefix) for k in record if k != "step")
        ]

    def _lines(self) -> list[tuple[str, dict[str, Any]]]:
        """``(line, record)`` for each line of the file; lines cut by a kill are skipped."""
        return _jsonl_lines(self.path)

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        record = {"step": int(step), **to_scalars(metrics)}
        self._fh.write(dumps(record) + "\n")
        self._fh.flush()

    def log_image(self, name: str, path: str | os.PathLike[str], step: int | None = None) -> None:
        del name, path, step  # images are already files in the run dir

    def summary(self, values: Mapping[str, Any]) -> None:
        del values  # summary.json is written by the run itself

    def finish(self) -> None:
        if not self._fh.closed:
            self._fh.close()


class WandbTracker:
    """Weights & Biases backend (imported lazily; offline unless ``mode="online"``).

    The W&B run id is stored in ``run_dir/wandb_run_id`` (written atomically before
    ``wandb.init``); a tracker opened later on the same run directory (a resumed or
    continued run) reads it and passes ``id=..., resume="allow"``, so the run goes on in
    the same W&B run instead of starting a second one. Offline, each session writes its
    own ``wandb/offline-run-<time>-<id>`` folder, all with that id: ``wandb sync`` puts
    them into one run. Nothing is stored with ``mode="disabled"``.

    Parameters
    ----------
    run_dir : path
        The run directory (W&B writes into ``run_dir/wandb``).
    config : mapping
        The resolved config (``wandb.init(config=...)``).
    project, mode, name, tags, group, entity
        Passed to ``wandb.init``; ``name=None``: the name of ``run_dir``.
    jsonl : bool
        Also write ``metrics.jsonl`` (the run's own record, read on resume).

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> from jaxorth.train import WandbTracker
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     tracker = WandbTracker(run_dir, {"lr": 0.1}, mode="disabled")  # W&B stores nothing
    ...     tracker.log({"loss": 1.0}, step=1)
    ...     records = tracker.records()  # the run's own JSONL copy
    ...     tracker.finish()
    ...     files = sorted(os.listdir(run_dir))
    >>> files, records
    (['metrics.jsonl'], [{'step': 1, 'loss': 1.0}])
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        config: Mapping[str, Any],
        project: str = "jaxorth",
        mode: str = "offline",
        name: str | None = None,
        tags: list[str] | None = None,
        jsonl: bool = True,
        group: str | None = None,
        entity: str | None = None,
    ):
        try:
            import wandb
        except ImportError as err:  # pragma: no cover - depends on the extra
            raise ImportError(
                "tracking=wandb needs the wandb extra: pip install 'jaxorth[wandb]'"
            ) from err
        if mode not in ("online", "offline", "disabled"):
            raise ValueError(f"tracking.mode must be online, offline or disabled, got {mode!r}")
        self._wandb = wandb
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        id_file = run_dir / WANDB_ID_FILE
        run_id = None
        if mode != "disabled":
            run_id = _read_run_id(id_file)
            if run_id is None:
                run_id = new_run_id()
                _write_run_id(id_file, run_id)
        self._run = wandb.init(
            project=project,
            entity=entity,
            mode=mode,
            dir=str(run_dir),
            id=run_id,
            resume="allow" if run_id is not None else None,
            name=name if name is not None else run_dir.absolute().name,
            group=group,
            tags=list(tags or []),
            config=dict(config),
            reinit="finish_previous",
        )
        self._jsonl = JsonlTracker(run_dir) if jsonl else None
        # images and tables go to the last logged step: a step of their own (W&B's next)
        # could be one that a continued run then logs again, which W&B drops
        self._step: int | None = None

    @property
    def run_id(self) -> str:
        """The W&B run's id (the same for every session of one run directory)."""
        return str(self._run.id)

    def truncate_after(self, step: int, prefix: str = "") -> None:
        """Drop the JSONL lines after ``step`` (W&B itself ignores re-logged steps)."""
        if self._jsonl is not None:
            self._jsonl.truncate_after(step, prefix)

    def records(self, prefix: str = "") -> list[dict[str, Any]]:
        """The records of the JSONL copy (see :meth:`JsonlTracker.records`)."""
        return self._jsonl.records(prefix) if self._jsonl is not None else []

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        scalars = to_scalars(metrics)
        self._step = int(step) if self._step is None else max(self._step, int(step))
        self._run.log(scalars, step=int(step))
        if self._jsonl is not None:
            self._jsonl.log(scalars, step)

    def log_image(self, name: str, path: str | os.PathLike[str], step: int | None = None) -> None:
        self._run.log(
            {name: self._wandb.Image(str(path))}, step=self._step if step is None else step
        )

    def log_table(
        self, name: str, rows: Sequence[Mapping[str, Any]], title: str | None = None
    ) -> None:
        """Log a results table as a ``wandb.Table`` under ``tables/<name>``.

        Columns are the rows' keys in first-seen order (a missing cell is ``None``);
        arrays and numpy scalars become Python values. Logged at the last logged step.
        """
        columns: list[str] = []
        for row in rows:
            columns += [str(k) for k in row if str(k) not in columns]
        data = [[sanitize_json(row.get(c)) for c in columns] for row in rows]
        table = self._wandb.Table(columns=columns, data=data, allow_mixed_types=True)
        self._run.log({f"tables/{name}": table}, step=self._step)
        if title:
            self._run.summary[f"tables/{name}/title"] = title

    def log_checkpoint(self, directory: str | os.PathLike[str]) -> Any | None:
        """Upload the newest checkpoint in ``directory`` as an artifact of type ``model``.

        The artifact is named ``checkpoint-<run id>`` with the aliases ``latest`` and
        ``step-<step>``; returns it, or ``None`` when ``directory`` holds no checkpoint.
        """
        folder = Path(directory)
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        steps = [int(n) for n in names if n.isdigit()]
        if not steps:
            return None
        step = max(steps)
        artifact = self._wandb.Artifact(
            f"checkpoint-{self.run_id}", type="model", metadata={"step": step}
        )
        artifact.add_dir(str(folder / str(step)), name=str(step))
        self._run.log_artifact(artifact, aliases=["latest", f"step-{step}"])
        return artifact

    def summary(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            if isinstance(value, int | float | str | bool):
                self._run.summary[key] = value

    def finish(self) -> None:
        self._run.finish()
        if self._jsonl is not None:
            self._jsonl.finish()


def make_tracker(
    backend: str,
    run_dir: str | os.PathLike[str],
    config: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Tracker:
    """Build a tracker by name: ``"null"``, ``"jsonl"`` or ``"wandb"``.

    Examples
    --------
    >>> from jaxorth.train import NullTracker, make_tracker
    >>> isinstance(make_tracker("null", "unused"), NullTracker)
    True
    >>> try:
    ...     make_tracker("tensorboard", "unused")
    ... except ValueError as error:
    ...     print(error)
    tracking.backend must be one of null, jsonl, wandb; got 'tensorboard'
    """
    if backend == "null":
        return NullTracker()
    if backend == "jsonl":
        return JsonlTracker(run_dir)
    if backend == "wandb":
        return WandbTracker(run_dir, config or {}, **kwargs)
    raise ValueError(f"tracking.backend must be one of null, jsonl, wandb; got {backend!r}")


class HistoryTracker:
    """Forwards to another tracker and keeps every logged record in ``history``.

    On resume (:meth:`truncate_after`) the history is reloaded from the inner tracker
    when it keeps records (``metrics.jsonl``: :meth:`JsonlTracker.records`), so series
    drawn from it cover the whole run and not only the steps since the resume.

    Examples
    --------
    >>> from jaxorth.train import HistoryTracker, NullTracker
    >>> tracker = HistoryTracker(NullTracker())
    >>> tracker.log({"loss": 1.0}, step=10)
    >>> tracker.log({"loss": 0.5}, step=20)
    >>> tracker.series("loss")
    ([10, 20], [1.0, 0.5])
    >>> tracker.truncate_after(10)  # a run resumed from the checkpoint of step 10
    >>> tracker.history
    [{'step': 10, 'loss': 1.0}]
    """

    def __init__(self, inner: Tracker):
        self.inner = inner
        self.history: list[dict[str, Any]] = []

    def truncate_after(self, step: int, prefix: str = "") -> None:
        """Drop the records after ``step`` here and in the inner tracker."""
        self.inner.truncate_after(step, prefix)
        stored = records_of(self.inner, prefix)
        kept = [r for r in self.history if not _matches(r, step, prefix)]
        if stored:
            kept = [r for r in stored if int(r.get("step", -1)) <= step]
        self.history = kept

    def records(self, prefix: str = "") -> list[dict[str, Any]]:
        return [r for r in self.history if not prefix or any(k.startswith(prefix) for k in r)]

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        self.history.append({"step": int(step), **to_scalars(metrics)})
        self.inner.log(metrics, step)

    def log_image(self, name: str, path: str | os.PathLike[str], step: int | None = None) -> None:
        self.inner.log_image(name, path, step)

    def log_table(
        self, name: str, rows: Sequence[Mapping[str, Any]], title: str | None = None
    ) -> None:
        log_table(self.inner, name, rows, title)

    def summary(self, values: Mapping[str, Any]) -> None:
        self.inner.summary(values)

    def finish(self) -> None:
        self.inner.finish()

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """Steps and values of one metric, in logging order."""
        pairs = [(r["step"], r[key]) for r in self.history if key in r]
        return [p[0] for p in pairs], [p[1] for p in pairs]


class PrefixTracker:
    """Forwards to another tracker with every metric and image name as ``<prefix>/<name>``.

    For a run that trains several models into one tracker (one ``fit`` per model):
    ``truncate_after`` on resume drops only this model's records, ``finish`` leaves the
    inner tracker open for the next model.

    Examples
    --------
    >>> from jaxorth.train import HistoryTracker, NullTracker, PrefixTracker
    >>> inner = HistoryTracker(NullTracker())
    >>> PrefixTracker(inner, "student").log({"loss": 1.0}, step=5)
    >>> inner.history
    [{'step': 5, 'student/loss': 1.0}]
    """

    def __init__(self, inner: Tracker, prefix: str):
        if not prefix or "/" in prefix:
            raise ValueError(f"prefix must be a non-empty name without '/', got {prefix!r}")
        self.inner, self.prefix = inner, prefix

    def truncate_after(self, step: int, prefix: str = "") -> None:
        self.inner.truncate_after(step, f"{self.prefix}/{prefix}")

    def records(self, prefix: str = "") -> list[dict[str, Any]]:
        """The inner tracker's records of this prefix, with the prefix taken off."""
        head = f"{self.prefix}/"
        out = []
        for record in records_of(self.inner, head + prefix):
            out.append({k[len(head) :] if k.startswith(head) else k: v for k, v in record.items()})
        return out

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        self.inner.log({f"{self.prefix}/{k}": v for k, v in metrics.items()}, step=step)

    def log_image(self, name: str, path: str | os.PathLike[str], step: int | None = None) -> None:
        self.inner.log_image(f"{self.prefix}/{name}", path, step)

    def log_table(
        self, name: str, rows: Sequence[Mapping[str, Any]], title: str | None = None
    ) -> None:
        log_table(self.inner, f"{self.prefix}/{name}", rows, title)

    def summary(self, values: Mapping[str, Any]) -> None:
        self.inner.summary({f"{self.prefix}/{k}": v for k, v in values.items()})

    def finish(self) -> None:
        return None
