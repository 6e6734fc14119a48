"""What a study receives besides its config: the run directory, the tracker, reporting."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jaxorth import report
from jaxorth.train.tracking import NullTracker, Tracker, dumps


@dataclasses.dataclass
class RunContext:
    """Run directory, tracker and reporting helpers handed to every study.

    Attributes
    ----------
    run_dir : Path
        Hydra's run directory (``outputs/...``); everything the run writes goes here.
    tracker : Tracker
        Where metrics go (``metrics.jsonl``, W&B, or nowhere).
    echo : bool
        Print tables to stdout (the CLI does; tests may not).
    """

    run_dir: Path
    tracker: Tracker = dataclasses.field(default_factory=NullTracker)
    echo: bool = True

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def table(
        self, rows: Sequence[Mapping[str, Any]], title: str | None = None, name: str = "results"
    ) -> str:
        """Print a results table and write it as ``<name>.md`` and ``<name>.csv``."""
        text = report.write_table(self.run_dir, rows, name=name, title=title)
        if self.echo:
            print(text, flush=True)
        return text

    def save_figure(self, fig: Any, name: str) -> Path:
        """Save a figure as ``<name>.png`` in the run dir and log it to the tracker."""
        path = report.save_figure(fig, self.run_dir / f"{name}.png")
        self.tracker.log_image(name, path)
        return path

    def write_json(self, name: str, payload: Any) -> Path:
        """Write ``<name>.json`` in the run dir (atomically)."""
        path = self.run_dir / f"{name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(dumps(payload, indent=2), encoding="utf-8")
        tmp.replace(path)
        return path
