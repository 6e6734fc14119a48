"""Timing helpers shared by the benchmark scripts (DESIGN.md, "Benchmarks").

- :func:`header` prints the load average at start (and the JAX devices);
- :func:`interleaved` times several variants A B C A B C ... in one process: the first
  call of each (compilation included) is reported separately, then ``warmup`` untimed
  calls, then ``repeats`` timed rounds; every output is passed to
  ``jax.block_until_ready`` before the clock is read (JAX dispatch is asynchronous);
  the result holds the median of the rounds;
- :func:`timed` times one call the same way;
- :func:`print_table` prints a GFM table of rows (dicts), absolute times beside the
  ratio columns.

Benchmarks are scripts (``python benchmarks/NAME.py``): the script's folder is on
``sys.path``, so they ``import _timing``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax


class Timing(NamedTuple):
    """Seconds measured for one variant: first call, median and every timed run."""

    first: float  # the first call: compilation (when jitted) plus one run
    median: float
    times: tuple[float, ...]


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages (zeros where the OS does not report them)."""
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover - not on this kind of machine
        return (0.0, 0.0, 0.0)


def header(description: str = "") -> str:
    """Print (and return) the load average at start, the CPU count and the JAX devices."""
    one, five, fifteen = load_average()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    devices = jax.devices()
    line = (
        f"load average at start: {one:.2f} {five:.2f} {fifteen:.2f} ({cpus} CPUs); "
        f"jax {jax.__version__}, {len(devices)} x {devices[0].device_kind}"
    )
    if description:
        line += f"; {description}"
    print(line, flush=True)
    return line


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``(fn(*args), seconds)``, the output ready (``block_until_ready``) before the clock."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t0


def interleaved(
    fns: Mapping[str, Callable[[], Any]], repeats: int, *, warmup: int = 1
) -> dict[str, Timing]:
    """Time the variants ``fns`` (no-argument callables) interleaved, after warm-up.

    Each variant is called once (its ``first`` time: compilation plus one run), then
    ``warmup`` times untimed, then once per round for ``repeats`` rounds, A B C A B C
    ..., so that a change of machine load hits every variant alike.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    first = {name: timed(fn)[1] for name, fn in fns.items()}
    for _ in range(warmup):
        for fn in fns.values():
            timed(fn)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn)[1])
    return {
        name: Timing(first[name], statistics.median(ts), tuple(ts)) for name, ts in times.items()
    }


def print_table(
    rows: Sequence[Mapping[str, Any]],
    title: str | None = None,
    formats: Mapping[str, str] | None = None,
) -> str:
    """Print (and return) ``rows`` as a GFM table, columns in the first row's order.

    ``formats`` maps a column to a format string (``"{:.2f}x"``); other values are
    printed with ``str``.
    """
    formats = formats or {}
    if not rows:
        text = "(no rows)\n"
    else:
        cols = list(rows[0])
        cells = [[formats.get(c, "{}").format(r[c]) for c in cols] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
        lines = [
            "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |",
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        ]
        lines += [
            "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |" for row in cells
        ]
        text = "\n".join(lines) + "\n"
    if title:
        text = f"\n### {title}\n" + text
    print(text, end="", flush=True)
    return text
