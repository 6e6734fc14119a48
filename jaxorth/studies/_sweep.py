"""Hydra callback that gathers the summaries of a multirun into one table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from jaxorth.report import format_table


def collect_summaries(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """Rows ``{"job": subdir, **summary}`` for every ``summary.json`` under ``sweep_dir``."""
    rows = []
    for path in sorted(Path(sweep_dir).glob("*/summary.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        flat = {k: v for k, v in summary.items() if isinstance(v, int | float | str | bool)}
        rows.append({"job": path.parent.name, **flat})
    return rows


class SweepSummary(Callback):
    """On multirun end: write ``sweep_summary.md`` / ``.json`` in the sweep directory."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = collect_summaries(sweep_dir)
        if not rows:
            return
        text = format_table(rows, title=f"sweep {sweep_dir}")
        (sweep_dir / "sweep_summary.md").write_text(text, encoding="utf-8")
        (sweep_dir / "sweep_summary.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
        print(text, flush=True)
