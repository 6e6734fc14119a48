"""What a study receives besides its config: the run directory, the tracker, reporting."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jaxorth import report
from jaxorth.train.tracking import NullTracker, Tracker, dumps, log_table


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
    on_output : callable, optional
        Called with the path of every file written through the context (the CLI
        records them in ``run.json``, so ``train.resume=false`` archives them).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.studies import RunContext
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     ctx = RunContext(Path(run_dir), echo=False)
    ...     text = ctx.table([{"k": 1, "rate": 0.5}], name="results")
    ...     _ = ctx.write_json("summary", {"rate": 0.5})
    ...     files = sorted(p.name for p in ctx.run_dir.iterdir())
    >>> files
    ['results.csv', 'results.md', 'summary.json']
    >>> print(text)
    | k | rate |
    |---|------|
    | 1 | 0.5  |
    """

    run_dir: Path
    tracker: Tracker = dataclasses.field(default_factory=NullTracker)
    echo: bool = True
    on_output: Callable[[Path], None] | None = None

    def _written(self, *paths: Path) -> None:
        if self.on_output is not None:
            for path in paths:
                self.on_output(path)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def table(
        self, rows: Sequence[Mapping[str, Any]], title: str | None = None, name: str = "results"
    ) -> str:
        """Print a results table, write it as ``<name>.md`` and ``<name>.csv``, log it.

        The tracker receives it when it logs tables (``tracking=wandb``: a ``wandb.Table``
        named ``tables/<name>``; see :func:`jaxorth.train.tracking.log_table`).
        """
        text = report.write_table(self.run_dir, rows, name=name, title=title)
        self._written(self.run_dir / f"{name}.md", self.run_dir / f"{name}.csv")
        log_table(self.tracker, name, rows, title)
        if self.echo:
            print(text, flush=True)
        return text

    def save_figure(self, fig: Any, name: str) -> Path:
        """Save a figure as ``<name>.png`` in the run dir and log it to the tracker."""
        path = report.save_figure(fig, self.run_dir / f"{name}.png")
        self._written(path)
        self.tracker.log_image(name, path)
        return path

    def write_json(self, name: str, payload: Any) -> Path:
        """Write ``<name>.json`` in the run dir (atomically)."""
        path = self.run_dir / f"{name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(dumps(payload, indent=2), encoding="utf-8")
        tmp.replace(path)
        self._written(path)
        return path
