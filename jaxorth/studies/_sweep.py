"""Hydra callback that gathers the jobs of a multirun into one table, failed jobs included.

``sweep_summary.md`` / ``.json`` in the sweep directory hold one row per job: its folder,
its status (``finished``, ``failed``, ``interrupted``, ``running``) and, for a failed job,
the error's first line; then the scalars of its ``summary.json``. The files are rewritten
after every job (so they exist even when a failed job makes Hydra stop the sweep with an
error, and while a long sweep runs) and once more at the end.
"""

from __future__ import annotations

import json
import os
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


def collect_summaries(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """Rows ``{"job", "status", ["error"], **summary scalars}``, one per job folder.

    A job folder is a subfolder of ``sweep_dir`` holding a ``summary.json``, a
    ``run.json`` (written by every jaxorth run) or the ``.job.json`` the callback writes
    when a job ends (the only trace of a job that failed before its run started).
    """
    rows = []
    for folder in sorted(p for p in Path(sweep_dir).iterdir() if p.is_dir()):
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
        error = job.get("error") or run.get("error")
        if status != "finished" and error:
            row["error"] = error
        if summary is not None and status == "finished":
            row.update(
                {k: v for k, v in summary.items() if isinstance(v, int | float | str | bool)}
            )
        rows.append(row)
    return rows


def write_sweep_summary(sweep_dir: str | Path, echo: bool = False) -> list[dict[str, Any]]:
    """(Re)write ``sweep_summary.md`` and ``.json`` in ``sweep_dir``; return the rows."""
    sweep_dir = Path(sweep_dir)
    rows = collect_summaries(sweep_dir)
    if not rows:
        return rows
    failed = sum(r["status"] != "finished" for r in rows)
    title = f"sweep {sweep_dir}"
    if failed:
        title += f" ({failed} of {len(rows)} jobs not finished)"
    text = format_table(rows, title=title)
    for name, payload in (
        ("sweep_summary.md", text),
        ("sweep_summary.json", json.dumps(rows, indent=2)),
    ):
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
        tmp = job_dir / f"{JOB_FILE}.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(job_dir / JOB_FILE)
        write_sweep_summary(sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        write_sweep_summary(Path(config.hydra.sweep.dir), echo=True)
