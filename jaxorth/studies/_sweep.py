"""Hydra callback that gathers the jobs of a multirun into one table, failed jobs included.

``sweep_summary.md`` / ``.json`` in the sweep directory hold one row per job, in job
order (job 10 after job 9): its folder, its status (``finished``, ``failed``,
``interrupted``, ``running``) and, for a failed job, the error's first line; then the
scalars of its ``summary.json``. In the Markdown table, a column that holds the same value
in every job is listed once under the table instead (the JSON keeps every column).

When the sweep varies ``seed``, ``sweep_summary.md`` also holds the aggregated table a
paper reports: one row per combination of the other overrides, with the number of
finished seeds and ``mean ± std`` (sample standard deviation) of every numeric result;
``sweep_aggregate.json`` holds the same numbers. The files are rewritten after every job
(so they exist even when a failed job makes Hydra stop the sweep with an error, and while
a long sweep runs) and once more at the end.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from jaxorth.report import format_table

JOB_FILE = ".job.json"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _job_order(folder: Path) -> tuple[float, str]:
    """Hydra names job folders ``<num>_<overrides>``: sort by the number, then the name."""
    match = re.match(r"(\d+)(?:_|$)", folder.name)
    return (int(match.group(1)) if match else math.inf, folder.name)


def _overrides(folder: Path, job: dict[str, Any]) -> list[str]:
    """The job's command-line overrides: recorded by the callback, else Hydra's own file."""
    if isinstance(job.get("overrides"), list):
        return [str(o) for o in job["overrides"]]
    try:
        import yaml

        value = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text("utf-8"))
    except (OSError, ValueError, ImportError):
        return []
    return [str(o) for o in value] if isinstance(value, list) else []


def collect_summaries(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """Rows ``{"job", "status", ["error"], **summary scalars}``, one per job folder.

    A job folder is a subfolder of ``sweep_dir`` holding a ``summary.json``, a
    ``run.json`` (written by every jaxorth run) or the ``.job.json`` the callback writes
    when a job ends (the only trace of a job that failed before its run started). Rows
    come in job order; each row's ``"overrides"`` is the job's override list.
    """
    rows = []
    folders = sorted(
        (p for p in Path(sweep_dir).iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=_job_order,
    )
    for folder in folders:
        summary = _read(folder / "summary.json")
        run = _read(folder / "run.json") or {}
        job = _read(folder / JOB_FILE) or {}
        if summary is None and not run and not job:
            continue
        default = "finished" if summary is not None else "unknown"
        status = run.get("status") or job.get("status") or default
        if job.get("status") == "failed":
            status = "failed"
        if status == "running" and job.get("status") == "finished":
            status = "finished"
        row: dict[str, Any] = {"job": folder.name, "status": status}
        row["overrides"] = _overrides(folder, job)
        error = job.get("error") or run.get("error")
        if status != "finished" and error:
            row["error"] = error
        if summary is not None and status == "finished":
            row.update(
                {k: v for k, v in summary.items() if isinstance(v, int | float | str | bool)}
            )
        rows.append(row)
    return rows


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def aggregate_over_seeds(rows: Sequence[dict[str, Any]], key: str = "seed") -> list[dict[str, Any]]:
    """Mean and sample standard deviation over ``key`` of the finished jobs' results.

    Jobs are grouped by their overrides other than ``key`` (``rows[i]["overrides"]``, as
    :func:`collect_summaries` gives them), in order of first appearance. Each group gives
    ``{"overrides": "a=1 b=2", "n": <finished jobs>, "<metric>": mean,
    "<metric>_std": std}`` for every numeric result that is not itself an override
    (``std`` is ``nan`` for a single job). Empty when no job overrides ``key``.
    """
    if not any(o.split("=", 1)[0] == key for r in rows for o in r.get("overrides", [])):
        return []
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        others = tuple(o for o in row.get("overrides", []) if o.split("=", 1)[0] != key)
        groups.setdefault(others, [])
        if row.get("status") == "finished":
            groups[others].append(row)
    overridden = {o.split("=", 1)[0] for r in rows for o in r.get("overrides", [])}
    out = []
    for others, members in groups.items():
        agg: dict[str, Any] = {"overrides": " ".join(others) or "(none)", "n": len(members)}
        metrics = [
            k
            for k in dict.fromkeys(k for m in members for k in m)
            if k not in overridden and all(_is_number(m.get(k)) for m in members)
        ]
        for name in metrics:
            values = [float(m[name]) for m in members]
            mean = sum(values) / len(values)
            var = (
                sum((v - mean) ** 2 for v in values) / (len(values) - 1)
                if len(values) > 1
                else math.nan
            )
            agg[name] = mean
            agg[f"{name}_std"] = math.sqrt(var)
        out.append(agg)
    return out


def _constant_columns(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Result columns with one value in every finished job (unfinished jobs: no results)."""
    finished = [r for r in rows if r.get("status") == "finished"]
    if len(finished) < 2:
        return {}
    first = finished[0]
    return {
        k: v
        for k, v in first.items()
        if k not in ("job", "status", "overrides", "error")
        and not isinstance(v, list)
        and all(k in r and r[k] == v for r in finished[1:])
    }


def format_sweep_summary(rows: Sequence[dict[str, Any]], title: str) -> str:
    """The Markdown of ``sweep_summary.md``.

    The job table (columns with one value listed once below it) and, for a seed sweep,
    the ``mean ± std`` table of :func:`aggregate_over_seeds`.
    """
    from jaxorth.report import format_value

    constant = _constant_columns(rows)
    shown = [{k: v for k, v in r.items() if k not in constant and k != "overrides"} for r in rows]
    text = format_table(shown, title=title)
    if constant:
        same = ", ".join(f"{k} = {format_value(v)}" for k, v in constant.items())
        text += f"\nSame in every job: {same}\n"
    agg = aggregate_over_seeds(rows)
    if agg:
        table = []
        for group in agg:
            line: dict[str, Any] = {"overrides": group["overrides"], "seeds": group["n"]}
            for k, v in group.items():
                if k in ("overrides", "n") or k.endswith("_std") or k in constant:
                    continue
                line[k] = f"{format_value(v)} ± {format_value(group[k + '_std'])}"
            table.append(line)
        text += "\n" + format_table(table, title="mean ± std over seed")
    return text


def write_sweep_summary(sweep_dir: str | Path, echo: bool = False) -> list[dict[str, Any]]:
    """(Re)write the sweep's summary files in ``sweep_dir``; return the rows.

    ``sweep_summary.md`` and ``.json``, and ``sweep_aggregate.json`` for a seed sweep.
    """
    sweep_dir = Path(sweep_dir)
    rows = collect_summaries(sweep_dir)
    if not rows:
        return rows
    failed = sum(r["status"] != "finished" for r in rows)
    title = f"sweep {sweep_dir}"
    if failed:
        title += f" ({failed} of {len(rows)} jobs not finished)"
    text = format_sweep_summary(rows, title=title)
    files = [("sweep_summary.md", text), ("sweep_summary.json", json.dumps(rows, indent=2))]
    agg = aggregate_over_seeds(rows)
    if agg:
        files.append(("sweep_aggregate.json", json.dumps(agg, indent=2)))
    for name, payload in files:
        tmp = sweep_dir / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(payload, encoding="utf-8")
        tmp.replace(sweep_dir / name)
    if echo:
        print(text, flush=True)
    return rows


class SweepSummary(Callback):
    """Writes the sweep summary after each job and at the end of the multirun."""

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.utils import JobStatus

        try:
            job_dir = Path(config.hydra.runtime.output_dir)
            sweep_dir = Path(config.hydra.sweep.dir)
        except Exception:  # noqa: BLE001 - not a multirun job
            return
        if job_dir.parent.resolve() != sweep_dir.resolve():
            return
        record: dict[str, Any] = {"status": "finished"}
        if job_return.status == JobStatus.FAILED:
            err = job_return._return_value
            lines = str(err).strip().splitlines()
            record = {
                "status": "failed",
                "error": f"{type(err).__name__}: {lines[0] if lines else ''}"[:500],
            }
        try:
            record["overrides"] = [str(o) for o in config.hydra.overrides.task]
        except Exception:  # noqa: BLE001 - no overrides recorded: the table still works
            pass
        tmp = job_dir / f"{JOB_FILE}.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(job_dir / JOB_FILE)
        write_sweep_summary(sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        write_sweep_summary(Path(config.hydra.sweep.dir), echo=True)
