r"""Tables and figures: the one place where results become Markdown, CSV and PNG.

Every study reports through these helpers, so every table and figure of the project
looks the same and nothing else chooses a matplotlib backend.

- :func:`format_table` renders rows as a GitHub-flavoured Markdown table (``|`` inside
  a cell is escaped, floats get 4 significant digits);
  :func:`write_table` also writes ``<name>.md`` and ``<name>.csv``.
- :func:`subplots` returns a figure on the non-interactive Agg backend (chosen once, the
  first time a figure is made; importing :mod:`jaxorth` loads no matplotlib), in the
  project's style: a colour cycle of :data:`COLORS` (11 distinct colours, so the 11
  methods of a study never share one), grid, mathtext labels such as
  ``r"$\mathrm{err}_F / N^{d/2}$"``.
- :func:`save_figure` writes the PNG and closes the figure; :func:`log_scale_if_wide`
  switches an axis to log scale when its positive values span decades.
- :func:`panels_figure` draws a declarative figure: :class:`Panel` s of
  :class:`Curve` s, :class:`HLine` s and an optional :class:`Heatmap` (a 2-D field
  with its colour bar; linear, log or zero-centred colours). Studies describe *what*
  to draw with these and never call matplotlib themselves, so every figure gets the
  same style, colours and axis rules (``yscale="auto"``: log when the values span
  two decades).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "COLORS",
    "Curve",
    "HLine",
    "Heatmap",
    "Panel",
    "panels_figure",
    "color",
    "format_table",
    "format_value",
    "log_scale_if_wide",
    "save_figure",
    "subplots",
    "write_table",
]

#: Eleven colours that stay distinct side by side (tab10 and a dark olive), in the order
#: the colour cycle uses them.
COLORS: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#3b4a1f",
)

_STYLE = {
    "axes.prop_cycle": None,  # filled in by _pyplot (needs matplotlib's cycler)
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "savefig.bbox": "tight",
    "legend.fontsize": 8,
    "mathtext.fontset": "dejavusans",
}


def color(i: int) -> str:
    """The ``i``-th colour of the cycle (wraps after :data:`COLORS`).

    Examples
    --------
    >>> from jaxorth.report import COLORS, color
    >>> color(len(COLORS)) == color(0)  # the cycle wraps
    True
    """
    return COLORS[i % len(COLORS)]


def format_value(value: Any) -> str:
    """One table cell: floats with 4 significant digits (scientific below 1e-3 or from 1e5).

    Examples
    --------
    >>> from jaxorth.report import format_value
    >>> format_value(0.000123456), format_value(3)
    ('1.235e-04', '3')
    """
    if isinstance(value, float):
        if math.isfinite(value) and value != 0.0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: list[str] = []
    for row in rows:
        cols.extend(k for k in row if k not in cols)
    return cols


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def format_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> str:
    r"""Rows (dicts; keys in first-seen order) as a GitHub-flavoured Markdown table.

    A ``|`` inside a header or cell is escaped (``\\|``) so it cannot split the cell; a
    missing key gives an empty cell.

    Examples
    --------
    >>> from jaxorth.report import format_table
    >>> print(format_table([{"k": 1, "rate": 0.5}, {"k": 2, "rate": 0.25}]))
    | k | rate |
    |---|------|
    | 1 | 0.5  |
    | 2 | 0.25 |
    """
    head = f"### {_cell(title)}\n" if title else ""
    if not rows:
        return f"{head}(no rows)\n"
    cols = _columns(rows)
    header = [_cell(c) for c in cols]
    cells = [[_cell(format_value(row.get(c, ""))) for c in cols] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in cells]
    return head + "\n".join(lines) + "\n"


def write_table(
    run_dir: str | Path,
    rows: Sequence[Mapping[str, Any]],
    name: str = "results",
    title: str | None = None,
) -> str:
    """Write ``<name>.md`` (and ``<name>.csv`` when there are rows); return the Markdown.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.report import write_table
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     _ = write_table(run_dir, [{"k": 1, "rate": 0.5}])
    ...     sorted(p.name for p in Path(run_dir).iterdir())
    ['results.csv', 'results.md']
    """
    run_dir = Path(run_dir)
    text = format_table(rows, title)
    _atomic_write(run_dir / f"{name}.md", text)
    if rows:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=_columns(rows))
        writer.writeheader()
        writer.writerows(dict(r) for r in rows)
        _atomic_write(run_dir / f"{name}.csv", buf.getvalue())
    return text


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _pyplot() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler

    style = dict(_STYLE, **{"axes.prop_cycle": cycler(color=list(COLORS))})
    plt.rcParams.update(style)
    return plt


def subplots(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kwargs: Any
) -> tuple[Any, Any]:
    """``plt.subplots`` on the Agg backend in the project's style (``(fig, axes)``).

    ``figsize`` defaults to 5 x 3.8 inches per panel.

    Examples
    --------
    >>> from jaxorth.report import subplots
    >>> fig, axes = subplots(1, 2)  # 5 x 3.8 inches per panel
    >>> fig.get_size_inches().tolist(), axes.shape
    ([10.0, 3.8], (2,))
    """
    plt = _pyplot()
    if figsize is None:
        figsize = (5.0 * ncols, 3.8 * nrows)
    return plt.subplots(nrows, ncols, figsize=figsize, **kwargs)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save ``fig`` as a PNG at ``path`` (``.png`` added if missing) and close it.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.report import save_figure, subplots
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     fig, ax = subplots()
    ...     path = save_figure(fig, Path(run_dir, "loss"))  # ".png" added
    ...     path.name, path.read_bytes()[1:4]
    ('loss.png', b'PNG')
    """
    plt = _pyplot()
    path = Path(path)
    if path.suffix != ".png":
        path = path.with_name(path.name + ".png")
    fig.savefig(path)
    plt.close(fig)
    return path


def log_scale_if_wide(
    ax: Any, values: Iterable[float], axis: str = "y", decades: float = 2.0
) -> bool:
    """Put ``axis`` of ``ax`` on a log scale when the positive ``values`` span ``decades``.

    Returns whether the scale was switched. Values ``<= 0`` or non-finite are ignored
    (they cannot be drawn on a log axis; a symlog axis would hide the spread).

    Examples
    --------
    >>> from jaxorth.report import log_scale_if_wide, subplots
    >>> fig, ax = subplots()
    >>> log_scale_if_wide(ax, [0.01, 0.5, 3.0]), ax.get_yscale()  # 2.5 decades
    (True, 'log')
    >>> log_scale_if_wide(ax, [1.0, 10.0], axis="x"), ax.get_xscale()  # one decade only
    (False, 'linear')
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    pos = [float(v) for v in values if math.isfinite(float(v)) and float(v) > 0]
    if len(pos) < 2 or math.log10(max(pos) / min(pos)) < decades:
        return False
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    return True


@dataclasses.dataclass(frozen=True)
class Curve:
    """One series of a :class:`Panel`.

    ``kind``: ``"line"`` (``fmt`` as in ``ax.plot``, e.g. ``"o-"``), ``"scatter"`` or
    ``"hist"`` (``y`` holds the samples, ``x`` the bin count or edges). ``color``: a
    colour or an index into :data:`COLORS` (default: the next in the cycle). ``size``:
    marker area of a scatter (default 12).

    Examples
    --------
    >>> from jaxorth.report import Curve, Panel, panels_figure
    >>> curve = Curve([1, 2, 3], [3.0, 2.0, 1.0], label="loss", fmt="o-")
    >>> fig = panels_figure([Panel(curves=[curve])])
    >>> line = fig.axes[0].get_lines()[0]
    >>> line.get_ydata().tolist(), line.get_label(), line.get_marker()
    ([3.0, 2.0, 1.0], 'loss', 'o')
    """

    x: Sequence[float] | Any
    y: Sequence[float] | Any
    label: str | None = None
    fmt: str = "-"
    kind: str = "line"
    color: str | int | None = None
    alpha: float = 1.0
    size: float | None = None


@dataclasses.dataclass(frozen=True)
class HLine:
    """A horizontal reference line (a theoretical value, a baseline).

    Examples
    --------
    >>> from jaxorth.report import Curve, HLine, Panel, panels_figure
    >>> panel = Panel(curves=[Curve([1, 2], [0.5, 0.2])], hlines=[HLine(1 / 6, label="baseline")])
    >>> ax = panels_figure([panel]).axes[0]
    >>> line = ax.get_lines()[-1]
    >>> line.get_label(), round(float(line.get_ydata()[0]), 4)
    ('baseline', 0.1667)
    """

    y: float
    label: str | None = None
    color: str | int = "k"
    style: str = "--"
    width: float = 1.0


@dataclasses.dataclass(frozen=True)
class Heatmap:
    """A 2-D field drawn as an image with its colour bar (at most one per :class:`Panel`).

    ``z``: values of shape ``(ny, nx)`` on a regular grid; ``extent``: ``(x0, x1, y0,
    y1)``. ``norm``: ``"linear"``, ``"log"`` (positive values) or ``"centered"``
    (diverging colours around 0, for signed errors). ``label``: the colour bar's.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.report import Heatmap, Panel, panels_figure
    >>> z = np.arange(6.0).reshape(2, 3) + 1  # (ny, nx)
    >>> fig = panels_figure([Panel(heatmap=Heatmap(z, (0, 3, 0, 2), label="error", norm="log"))])
    >>> len(fig.axes), fig.axes[0].images[0].get_array().shape  # the axes and its colour bar
    (2, (2, 3))
    """

    z: Any
    extent: tuple[float, float, float, float]
    label: str | None = None
    norm: str = "linear"
    cmap: str | None = None


@dataclasses.dataclass(frozen=True)
class Panel:
    """One axes of a figure: curves, reference lines, labels (mathtext allowed), scales.

    ``heatmap``: an optional :class:`Heatmap` drawn under the curves (its axes are
    linear). ``xscale`` / ``yscale``: ``"linear"``, ``"log"``, ``"symlog"`` (with ``linthresh``)
    or ``"auto"`` (log when the positive values span two decades). ``xticks``: optional
    ``(positions, labels)``. ``ylim``: optional ``(bottom, top)``. ``legend_columns``:
    number of legend columns.

    Examples
    --------
    >>> from jaxorth.report import Curve, Panel, panels_figure
    >>> panel = Panel(curves=[Curve([1, 10, 100], [1.0, 0.1, 0.01])], title="rate", xscale="log")
    >>> ax = panels_figure([panel]).axes[0]
    >>> ax.get_title(), ax.get_xscale(), ax.get_yscale()  # "auto": log over two decades
    ('rate', 'log', 'log')
    """

    curves: Sequence[Curve] = ()
    hlines: Sequence[HLine] = ()
    heatmap: Heatmap | None = None
    title: str | None = None
    xlabel: str | None = None
    ylabel: str | None = None
    xscale: str = "linear"
    yscale: str = "auto"
    linthresh: float = 1e-6
    xticks: tuple[Sequence[float], Sequence[str]] | None = None
    legend: bool = True
    ylim: tuple[float, float] | None = None
    legend_columns: int = 1


def _resolve_color(c: str | int | None) -> str | None:
    return color(c) if isinstance(c, int) else c


def _draw_heatmap(ax: Any, h: Heatmap) -> None:
    import numpy as np
    from matplotlib import colors

    z = np.asarray(h.z, dtype=float)
    finite = z[np.isfinite(z)]
    if h.norm == "log":
        positive = finite[finite > 0]
        low = float(positive.min()) if positive.size else 1e-12
        high = float(positive.max()) if positive.size else 1.0
        norm: Any = colors.LogNorm(vmin=low, vmax=max(high, low * (1 + 1e-9)))
        z = np.where(z > 0, z, np.nan)
        cmap = h.cmap or "viridis"
    elif h.norm == "centered":
        span = float(np.abs(finite).max()) if finite.size else 1.0
        norm = colors.TwoSlopeNorm(vcenter=0.0, vmin=-span or -1.0, vmax=span or 1.0)
        cmap = h.cmap or "RdBu_r"
    elif h.norm == "linear":
        norm, cmap = None, h.cmap or "viridis"
    else:
        raise ValueError(f"Heatmap.norm must be linear, log or centered; got {h.norm!r}")
    image = ax.imshow(
        z,
        origin="lower",
        extent=h.extent,
        aspect="auto",
        norm=norm,
        cmap=cmap,
        interpolation="nearest",
    )
    bar = ax.figure.colorbar(image, ax=ax)
    if h.label:
        bar.set_label(h.label)


def _draw(ax: Any, panel: Panel) -> None:
    ys: list[float] = []
    xs: list[float] = []
    if panel.heatmap is not None:
        _draw_heatmap(ax, panel.heatmap)
    for i, c in enumerate(panel.curves):
        col = _resolve_color(c.color) or color(i)
        if c.kind == "line":
            ax.plot(c.x, c.y, c.fmt, label=c.label, color=col, alpha=c.alpha)
        elif c.kind == "scatter":
            ax.scatter(
                c.x,
                c.y,
                label=c.label,
                color=col,
                alpha=c.alpha,
                s=12 if c.size is None else c.size,
            )
        elif c.kind == "hist":
            ax.hist(c.y, bins=c.x, label=c.label, color=col, alpha=c.alpha)
            continue
        else:
            raise ValueError(f"Curve.kind must be 'line', 'scatter' or 'hist', got {c.kind!r}")
        ys.extend(float(v) for v in _flat(c.y))
        xs.extend(float(v) for v in _flat(c.x))
    for h in panel.hlines:
        ax.axhline(h.y, color=_resolve_color(h.color), ls=h.style, lw=h.width, label=h.label)
        ys.append(float(h.y))
    for axis, scale, values in (("x", panel.xscale, xs), ("y", panel.yscale, ys)):
        if panel.heatmap is not None:
            continue
        if scale == "auto":
            log_scale_if_wide(ax, values, axis=axis)
        elif scale == "symlog":
            (ax.set_xscale if axis == "x" else ax.set_yscale)("symlog", linthresh=panel.linthresh)
        elif scale in ("linear", "log"):
            (ax.set_xscale if axis == "x" else ax.set_yscale)(scale)
        else:
            raise ValueError(f"{axis}scale must be linear, log, symlog or auto; got {scale!r}")
    if panel.title:
        ax.set_title(panel.title)
    if panel.xlabel:
        ax.set_xlabel(panel.xlabel)
    if panel.ylabel:
        ax.set_ylabel(panel.ylabel)
    if panel.xticks is not None:
        ax.set_xticks(list(panel.xticks[0]), list(panel.xticks[1]))
    if panel.ylim is not None:
        ax.set_ylim(*panel.ylim)
    if panel.legend and any(c.label for c in panel.curves) | any(h.label for h in panel.hlines):
        ax.legend(ncol=panel.legend_columns)


def _flat(values: Any) -> list[float]:
    import numpy as np

    arr = np.asarray(values, dtype=float).ravel()
    return [float(v) for v in arr if math.isfinite(v)]


def panels_figure(
    panels: Sequence[Panel], ncols: int | None = None, *, figsize: tuple[float, float] | None = None
) -> Any:
    """A figure with one axes per :class:`Panel` (``ncols`` per row, default all in one).

    Examples
    --------
    >>> from jaxorth.report import Curve, Panel, panels_figure
    >>> panels = [Panel(curves=[Curve([0, 1], [0, k])], title=f"k={k}") for k in (1, 2, 3)]
    >>> fig = panels_figure(panels, ncols=2)  # two rows of two axes, one left empty
    >>> [ax.get_title() for ax in fig.axes if ax.get_visible()]
    ['k=1', 'k=2', 'k=3']
    """
    if not panels:
        raise ValueError("panels_figure needs at least one Panel")
    ncols = len(panels) if ncols is None else max(1, min(int(ncols), len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = subplots(nrows, ncols, figsize=figsize, squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax, panel in zip(flat, panels):
        _draw(ax, panel)
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
