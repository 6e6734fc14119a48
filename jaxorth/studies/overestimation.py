r"""Study ``experiment=overestimation``: networks certified never to underestimate ``f``.

Reproduces the method of Gauffriau, Malgouyres & Ducoffe, "Overestimation learning with
guarantees" (AAAI-21 SafeAI workshop, arXiv 2101.11717) and compares its two routes to
the guarantee. For every reference function ``f`` of
:data:`jaxorth.overestimate.FUNCTIONS` (``experiment.functions``: smooth, steep and
piecewise-constant functions in d = 1, 2, 3, and AASHTO's stopping sight distance, which
decreases in one coordinate), every tolerance ``delta`` (``experiment.deltas``, as a
fraction of the range ``max f - min f`` over the box) and every route
(``experiment.routes``):

1. :func:`~jaxorth.overestimate.majoring_points` on the box (the time and the number of
   cells and kept points, against the uniform dyadic grid with the same guarantee);
2. a network trained with the asymmetric loss through :func:`jaxorth.train.fit`
   (checkpoints and resume in ``runs/<tag>/``; metrics logged as ``<tag>/train/...``):
   a :class:`~jaxorth.overestimate.MonotoneMLP` for ``monotone`` (``<tag>`` =
   ``<function>_d<delta>_monotone``), an unconstrained
   :class:`~jaxorth.overestimate.MLP` (``<function>_d<delta>_mlp``, trained once)
   certified by interval bounds (``ibp``) and by CROWN (``crown``) over each cell;
3. the float64 output shift, then ``g - f`` on a dense grid (``experiment.grid``
   points per axis) and at ``experiment.random_points`` uniform random points: its
   minimum (``>= 0``: the guarantee, checked on every row; the summary's
   ``all_certified``), mean and maximum (tightness).

Tables: ``results`` (one row per function, delta and route) and ``tightness`` (mean
overestimation, routes side by side). Figures: ``<function>.png``: ``f``, ``g`` and the
majoring points (1-D); heat maps of ``g - f`` per route and of the cell density (2-D).
::

    jaxorth experiment=overestimation
    jaxorth experiment=overestimation experiment.functions=[tanh_2d] experiment.deltas=[0.02]
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import numpy as np
from omegaconf import DictConfig

from jaxorth import overestimate as ov
from jaxorth import report
from jaxorth.studies._common import fit_in_run, loop_from_cfg
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table, config_key
from jaxorth.studies._registry import register_study

Route = ov.Route


@dataclasses.dataclass
class OverestimationConfig:
    """Schema of ``experiment=overestimation``.

    ``functions``: names in :data:`jaxorth.overestimate.FUNCTIONS`; ``deltas``:
    refinement tolerances as fractions of each function's range (in ``(0, 1]``);
    ``routes``: ``monotone``, ``ibp``, ``crown``; ``widths``: hidden widths of every
    network; ``max_depth``: refinement depth cap; ``under_weight``: the loss's weight
    of underestimation; ``monotone_lr``: learning rate of the monotone route (``null``:
    ``optim.lr``, which the unconstrained network uses; the best of {0.01, 0.03} for
    each route in our runs); ``grid``: dense evaluation grid, points per axis for d = 1, 2,
    3; ``random_points``: uniform random evaluation points.
    """

    name: str = "overestimation"
    functions: list[str] = dataclasses.field(default_factory=lambda: list(ov.FUNCTIONS))
    deltas: list[float] = dataclasses.field(default_factory=lambda: [0.1, 0.05])
    routes: list[Route] = dataclasses.field(default_factory=lambda: list(Route))
    widths: list[int] = dataclasses.field(default_factory=lambda: [32, 32])
    max_depth: int = 8
    under_weight: float = 10.0
    monotone_lr: float | None = 0.03
    grid: list[int] = dataclasses.field(default_factory=lambda: [10001, 301, 41])
    random_points: int = 100_000
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.experiment`` and ``cfg.train`` before any compute."""
    ex = cfg.experiment
    for i, name in enumerate(ex.functions):
        if name not in ov.FUNCTIONS:
            raise ValueError(
                f"experiment.functions[{i}]={name!r} is not a reference function; choose "
                f"from {', '.join(ov.FUNCTIONS)}"
            )
    if not ex.functions or not ex.deltas or not ex.routes:
        raise ValueError(
            "experiment.functions, experiment.deltas and experiment.routes "
            "must each list at least one entry"
        )
    for i, delta in enumerate(ex.deltas):
        if not 0 < float(delta) <= 1:
            raise ValueError(
                f"experiment.deltas[{i}] must lie in (0, 1] (a fraction of the range of f), "
                f"got {delta}"
            )
    for i, width in enumerate(ex.widths):
        if int(width) < 1:
            raise ValueError(f"experiment.widths[{i}] must be >= 1, got {width}")
    if not ex.widths:
        raise ValueError("experiment.widths must list at least one hidden width")
    if not 0 <= int(ex.max_depth) <= 20:
        raise ValueError(f"experiment.max_depth must lie in [0, 20], got {ex.max_depth}")
    if ex.monotone_lr is not None and not float(ex.monotone_lr) > 0:
        raise ValueError(f"experiment.monotone_lr must be > 0, got {ex.monotone_lr}")
    if not float(ex.under_weight) > 0:
        raise ValueError(f"experiment.under_weight must be > 0, got {ex.under_weight}")
    if len(ex.grid) != 3 or any(int(n) < 2 for n in ex.grid):
        raise ValueError(
            f"experiment.grid must list 3 sizes >= 2 (points per axis for d = 1, 2, 3), "
            f"got {list(ex.grid)}"
        )
    if int(ex.random_points) < 0:
        raise ValueError(f"experiment.random_points must be >= 0, got {ex.random_points}")
    loop_from_cfg(cfg)


def _tag(name: str, delta: float, route: str) -> str:
    return f"{name}_d{delta:g}_{route}"


def _dense_grid(fn: ov.MonotoneFunction, per_axis: int) -> tuple[np.ndarray, list[np.ndarray]]:
    axes = [np.linspace(lo, up, per_axis) for lo, up in zip(fn.lower, fn.upper)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=1), axes


def _trainer(cfg: DictConfig, ctx: RunContext, tag: str, lr: float | None = None) -> Any:
    """``overestimate``'s ``train`` argument: :func:`jaxorth.train.fit` in ``runs/<tag>``."""

    def train(model: Any, loss_fn: Any, data: tuple[np.ndarray, np.ndarray]) -> Any:
        return fit_in_run(cfg, ctx, tag, model, loss_fn, data, lr=lr).model

    return train


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Majoring points, training and certification for every function, delta and route."""
    ex = cfg.experiment
    rows: list[dict[str, Any]] = []
    figures: dict[str, dict[str, Any]] = {}
    root = jax.random.PRNGKey(int(cfg.seed))
    rng = np.random.default_rng(int(cfg.seed))
    step = 0
    for f_index, name in enumerate(ex.functions):
        fn = ov.FUNCTIONS[name]
        lower, upper = np.asarray(fn.lower), np.asarray(fn.upper)
        bottom = np.where(np.asarray(fn.directions) > 0, lower, upper)[None]
        top = np.where(np.asarray(fn.directions) > 0, upper, lower)[None]
        f_range = float(fn.f(top)[0] - fn.f(bottom)[0])
        grid_x, axes = _dense_grid(fn, int(ex.grid[fn.d - 1]))
        random_x = lower + (upper - lower) * rng.uniform(size=(int(ex.random_points), fn.d))
        f_grid, f_random = fn.f(grid_x), fn.f(random_x)
        fig: dict[str, Any] = {
            "d": fn.d,
            "description": fn.description,
            "axes": axes,
            "f": f_grid,
            "lower": lower,
            "upper": upper,
            "runs": [],
        }
        for delta in ex.deltas:
            delta = float(delta)
            free: Any = None  # the unconstrained network, trained once for ibp and crown
            for route in ex.routes:
                route = str(route)
                tag = _tag(name, delta, route)
                key = jax.random.fold_in(root, f_index)
                t0 = time.perf_counter()
                if route != Route.monotone and free is not None:
                    g = ov.certified_surrogate(
                        free.model, free.points, route=route, mu=free.mu, sigma=free.sigma
                    )
                    g.seconds = {**free.seconds, "certify": time.perf_counter() - t0}
                else:
                    run_tag = tag if route == Route.monotone else _tag(name, delta, "mlp")
                    with config_key("experiment", f"{name}, delta={delta:g}, route={route}"):
                        g = ov.overestimate(
                            fn.f,
                            lower,
                            upper,
                            delta=delta * f_range,
                            key=key,
                            widths=[int(w) for w in ex.widths],
                            max_depth=int(ex.max_depth),
                            directions=fn.directions,
                            route=route,
                            under_weight=float(ex.under_weight),
                            train=_trainer(
                                cfg,
                                ctx,
                                run_tag,
                                ex.monotone_lr if route == Route.monotone else None,
                            ),
                        )
                    if route != Route.monotone:
                        free = g
                gap_grid = g(grid_x) - f_grid
                gap_random = g(random_x) - f_random if len(random_x) else gap_grid
                pts = g.points
                row = {
                    "function": name,
                    "d": fn.d,
                    "delta": delta,
                    "route": route,
                    "cells": pts.n_cells,
                    "points": pts.n_points if route == Route.monotone else pts.n_cells,
                    "uniform": pts.uniform_cells,
                    "capped": pts.capped,
                    "majoring_s": g.seconds["majoring"],
                    "train_s": g.seconds["training"],
                    "shift": g.shift,
                    "min_gap_grid": float(gap_grid.min()),
                    "min_gap_random": float(gap_random.min()),
                    "mean_over": float(gap_grid.mean()),
                    "max_over": float(gap_grid.max()),
                    "mean_over_rel": float(gap_grid.mean()) / f_range,
                    "certify_s": g.seconds["certify"],
                }
                rows.append(row)
                ctx.tracker.log(
                    {f"{tag}/{k}": v for k, v in row.items() if isinstance(v, int | float)},
                    step=step,
                )
                step += 1
                fig["runs"].append(
                    {
                        "delta": delta,
                        "route": route,
                        "g": g(grid_x),
                        "gap": gap_grid,
                        "anchors": pts.points,
                        "values": pts.values,
                        "cell_lower": pts.cell_lower,
                        "cell_upper": pts.cell_upper,
                    }
                )
        figures[name] = fig

    tight_rows = []
    for name in ex.functions:
        for delta in ex.deltas:
            sel = [r for r in rows if r["function"] == name and r["delta"] == float(delta)]
            tight = {"function": name, "delta": float(delta)}
            tight.update({f"{r['route']} mean_over/range": r["mean_over_rel"] for r in sel})
            tight["tightest"] = min(sel, key=lambda r: r["mean_over"])["route"]
            tight_rows.append(tight)
    min_gap = min(min(r["min_gap_grid"], r["min_gap_random"]) for r in rows)
    summary: dict[str, Any] = {
        "all_certified": bool(min_gap >= 0),
        "min_gap": min_gap,
        "rows": len(rows),
        "tightest": {f"{t['function']}_d{t['delta']:g}": t["tightest"] for t in tight_rows},
    }
    for r in rows:
        tag = _tag(r["function"], r["delta"], r["route"])
        for k in ("shift", "min_gap_grid", "mean_over", "max_over", "cells", "points"):
            summary[f"{tag}/{k}"] = r[k]
    if min_gap < 0:
        print(f"[overestimation] guarantee violated: min(g - f) = {min_gap:.3g} < 0")
    return StudyResult(
        tables={
            "results": Table(rows, "overestimation: majoring points, shift and g - f >= 0"),
            "tightness": Table(
                tight_rows, "mean overestimation / range of f on the dense grid, by route"
            ),
        },
        summary=summary,
        arrays={"figures": figures},
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``<function>.png`` for every function of dimension 1 or 2."""
    for name, fig in result.arrays["figures"].items():
        if fig["d"] == 1:
            ctx.save_figure(_plot_1d(name, fig), name)
        elif fig["d"] == 2:
            ctx.save_figure(_plot_2d(name, fig), name)


def _plot_1d(name: str, fig: dict[str, Any]) -> Any:
    x = fig["axes"][0]
    panels = []
    for delta in sorted({r["delta"] for r in fig["runs"]}, reverse=True):
        runs = [r for r in fig["runs"] if r["delta"] == delta]
        curves = [report.Curve(x, fig["f"], "$f$", "-", color="k")]
        curves += [report.Curve(x, r["g"], f"$g$ ({r['route']})", "-") for r in runs]
        mono = [r for r in runs if r["route"] == Route.monotone] or runs[:1]
        curves.append(
            report.Curve(
                mono[0]["anchors"][:, 0],
                mono[0]["values"],
                "majoring points",
                kind="scatter",
                color="k",
                size=8,
            )
        )
        panels.append(
            report.Panel(
                curves,
                title=rf"{fig['description']}, $\delta$ = {delta:g} range",
                xlabel="$x$",
                ylabel="value",
                yscale="linear",
            )
        )
    return report.panels_figure(panels, figsize=(6.0 * len(panels), 4.0))


def _cell_density(
    cell_lower: np.ndarray, cell_upper: np.ndarray, extent: tuple, pixels: int = 128
) -> np.ndarray:
    """``1 / area`` of the leaf cell under each pixel centre, ``(pixels, pixels)``."""
    x0, x1, y0, y1 = extent
    cx = x0 + (np.arange(pixels) + 0.5) * (x1 - x0) / pixels
    cy = y0 + (np.arange(pixels) + 0.5) * (y1 - y0) / pixels
    image = np.full((pixels, pixels), np.nan)
    area = np.prod(cell_upper - cell_lower, axis=1)
    for i in np.argsort(-area):  # finer cells painted last
        ix = (cx >= cell_lower[i, 0]) & (cx < cell_upper[i, 0])
        iy = (cy >= cell_lower[i, 1]) & (cy < cell_upper[i, 1])
        image[np.ix_(ix, iy)] = 1.0 / area[i]
    return image


def _plot_2d(name: str, fig: dict[str, Any]) -> Any:
    (x0, x1), (y0, y1) = (
        (float(fig["lower"][0]), float(fig["upper"][0])),
        (float(fig["lower"][1]), float(fig["upper"][1])),
    )
    n = len(fig["axes"][0])
    extent = (x0, x1, y0, y1)
    delta = min(r["delta"] for r in fig["runs"])
    runs = [r for r in fig["runs"] if r["delta"] == delta]
    panels = [
        report.Panel(
            heatmap=report.Heatmap(r["gap"].reshape(n, n).T, extent, "$g - f$"),
            title=f"$g - f$, {r['route']}",
            xlabel="$x_1$",
            ylabel="$x_2$",
            legend=False,
        )
        for r in runs
    ]
    panels.append(
        report.Panel(
            heatmap=report.Heatmap(
                _cell_density(runs[0]["cell_lower"], runs[0]["cell_upper"], extent).T,
                extent,
                "cells per unit area",
                norm="log",
            ),
            title=rf"cell density, $\delta$ = {delta:g} range",
            xlabel="$x_1$",
            ylabel="$x_2$",
            legend=False,
        )
    )
    return report.panels_figure(panels, figsize=(4.8 * len(panels), 4.0))


STUDY = register_study(
    Study("overestimation", OverestimationConfig, run=run, check=check, report=plot, float64=False)
)
