"""jaxorth.report: Markdown/CSV tables and declarative figures."""

import csv
import io

import numpy as np
import pytest

from jaxorth import report


def _parse_gfm(text: str) -> list[list[str]]:
    """Split a GFM table into cells the way a Markdown renderer does (``\\|`` is literal)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= {"|", "-"}:
            continue
        cells, cur, i = [], "", 1
        body = line.rstrip()[:-1]
        while i < len(body):
            if body[i] == "\\" and i + 1 < len(body):
                cur += body[i + 1]
                i += 2
                continue
            if body[i] == "|":
                cells.append(cur.strip())
                cur = ""
            else:
                cur += body[i]
            i += 1
        cells.append(cur.strip())
        rows.append(cells)
    return rows


def test_table_escapes_pipes_and_keeps_columns():
    rows = [{"model": "a|b", "err": 1.5e-7}, {"model": "c", "err": 0.25, "extra": True}]
    text = report.format_table(rows, title="t | x")
    assert text.startswith("### t \\| x\n")
    parsed = _parse_gfm(text)
    assert parsed[0] == ["model", "err", "extra"]
    assert parsed[1] == ["a|b", "1.500e-07", ""]
    assert parsed[2] == ["c", "0.25", "True"]
    assert all(len(r) == 3 for r in parsed)


def test_format_value_significant_digits():
    assert report.format_value(239.61) == "239.6"
    assert report.format_value(0.0023456) == "0.002346"
    assert report.format_value(123456.0) == "1.235e+05"
    assert report.format_value(0.0) == "0"
    assert report.format_value(float("nan")) == "nan"
    assert report.format_value(float("inf")) == "inf"
    assert report.format_value(7) == "7"


def test_write_table_md_and_csv(tmp_path):
    rows = [{"k": 1, "v": "x|y"}, {"k": 2, "v": "z", "w": 0.5}]
    text = report.write_table(tmp_path, rows, name="res", title="T")
    assert (tmp_path / "res.md").read_text() == text
    got = list(csv.DictReader(io.StringIO((tmp_path / "res.csv").read_text())))
    assert got == [{"k": "1", "v": "x|y", "w": ""}, {"k": "2", "v": "z", "w": "0.5"}]
    report.write_table(tmp_path, [], name="empty")
    assert (tmp_path / "empty.md").read_text() == "(no rows)\n"
    assert not (tmp_path / "empty.csv").exists()


def test_colors_are_eleven_distinct():
    assert len(set(report.COLORS)) == 11
    assert report.color(11) == report.color(0)


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1.0, 10.0], False), ([1e-3, 1.0], True), ([0.0, -1.0, 1e-4, 5.0], True), ([3.0], False)],
)
def test_log_scale_if_wide(values, expected):
    fig, ax = report.subplots()
    assert report.log_scale_if_wide(ax, values) is expected
    assert ax.get_yscale() == ("log" if expected else "linear")
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_panels_figure_draws_what_it_is_told(tmp_path):
    import matplotlib

    x = np.arange(1, 6)
    panels = [
        report.Panel(
            [report.Curve(x, x**3, label="cubic"), report.Curve(x, x, label="id", fmt="o-")],
            hlines=[report.HLine(2.0, "two")],
            title=r"$\mathrm{err}_F / N^{d/2}$",
            xlabel="N",
        ),
        report.Panel([report.Curve(x, -x, kind="scatter")], yscale="symlog", linthresh=1e-3),
        report.Panel([report.Curve(10, np.linspace(0, 1, 50), kind="hist")], yscale="linear"),
    ]
    fig = report.panels_figure(panels, ncols=2)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert matplotlib.get_backend().lower() == "agg"
    assert len(axes) == 3
    assert axes[0].get_yscale() == "log"  # 1..125 spans two decades: auto -> log
    assert axes[1].get_yscale() == "symlog"
    labels = axes[0].get_legend_handles_labels()[1]
    assert labels == ["cubic", "id", "two"]
    lines = axes[0].get_lines()
    assert lines[0].get_color() == report.COLORS[0] and lines[1].get_color() == report.COLORS[1]
    np.testing.assert_array_equal(lines[0].get_ydata(), x**3)
    path = report.save_figure(fig, tmp_path / "fig")
    assert path.name == "fig.png" and path.read_bytes()[:4] == b"\x89PNG"


def test_panel_errors_name_the_option():
    with pytest.raises(ValueError, match="Curve.kind must be"):
        report.panels_figure([report.Panel([report.Curve([1], [1], kind="bar")])])
    with pytest.raises(ValueError, match="yscale must be"):
        report.panels_figure([report.Panel([report.Curve([1], [1])], yscale="loglog")])
    with pytest.raises(ValueError, match="at least one Panel"):
        report.panels_figure([])


def test_heatmap_panels_draw_the_field_with_a_colour_bar():
    from matplotlib import colors

    z = np.arange(12.0).reshape(3, 4) - 4.0  # signed
    panels = [
        report.Panel(heatmap=report.Heatmap(z, (0, 1, 0, 1), "g - f", norm="centered")),
        report.Panel(heatmap=report.Heatmap(np.abs(z) + 1e-3, (0, 2, 0, 1), norm="log")),
    ]
    fig = report.panels_figure(panels)
    images = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(images) == 2 and len(fig.axes) == 4  # two fields and their colour bars
    np.testing.assert_array_equal(images[0].get_array(), z)
    assert isinstance(images[0].norm, colors.TwoSlopeNorm) and images[0].norm.vcenter == 0
    assert isinstance(images[1].norm, colors.LogNorm)
    assert images[1].get_extent() == [0, 2, 0, 1]
    with pytest.raises(ValueError, match="Heatmap.norm must be"):
        report.panels_figure([report.Panel(heatmap=report.Heatmap(z, (0, 1, 0, 1), norm="sym"))])
