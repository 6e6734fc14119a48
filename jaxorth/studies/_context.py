"""What a study receives besides its config: the run directory and the tracker."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jaxorth.train.tracking import NullTracker, Tracker, dumps


def format_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> str:
    """Render rows (dicts with the same keys) as a GitHub-flavoured markdown table."""
    if not rows:
        return f"### {title}\n(no rows)\n" if title else "(no rows)\n"
    cols = list(rows[0].keys())
    for row in rows[1:]:
        for key in row:
            if key not in cols:
                cols.append(key)

    def fmt(value: Any) -> str:
        if isinstance(value, float):
            if value != 0.0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
                return f"{value:.3e}"
            return f"{value:.4g}"  # 4 significant digits: 0.002345, 73.89, 239.6
        return str(value)

    cells = [[fmt(row.get(c, "")) for c in cols] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    lines = []
    if title:
        lines.append(f"### {title}")
    lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        lines.append("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |")
    return "\n".join(lines) + "\n"


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
        text = format_table(rows, title)
        if self.echo:
            print(text, flush=True)
        (self.run_dir / f"{name}.md").write_text(text, encoding="utf-8")
        if rows:
            cols: list[str] = []
            for row in rows:
                cols.extend(k for k in row if k not in cols)
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=cols)
            writer.writeheader()
            for row in rows:
                writer.writerow(dict(row))
            (self.run_dir / f"{name}.csv").write_text(buf.getvalue(), encoding="utf-8")
        return text

    def save_figure(self, fig: Any, name: str) -> Path:
        """Save a matplotlib figure as ``<name>.png`` in the run dir and log it."""
        import matplotlib.pyplot as plt

        path = self.run_dir / f"{name}.png"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        self.tracker.log_image(name, path)
        return path

    def write_json(self, name: str, payload: Any) -> Path:
        """Write ``<name>.json`` in the run dir (atomically)."""
        path = self.run_dir / f"{name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(dumps(payload, indent=2), encoding="utf-8")
        tmp.replace(path)
        return path
