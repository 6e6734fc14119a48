r"""Study ``experiment=multilinear``: stable recovery of a chain of sparse convolutions.

Malgouyres & Landsberg, "Multilinear compressive sensing and an application to
convolutional linear networks" (SIAM J. Math. Data Sci. 2019, arXiv 1703.08044). For
every topology of ``experiment.topologies`` (the supports ``S_1, ..., S_K`` of a chain of
sparse 1-D convolutions, K = 2 to 6, identifiable or not):

1. the topology test (:func:`~jaxorth.multilinear.conv_chain_identifiable`) and the
   stability constant ``inf ||A T|| / ||T||`` over differences of rank-one tensors
   (:func:`~jaxorth.multilinear.stability_constant`);
2. for ``experiment.trials`` random factorizations ``h`` and every relative noise level
   of ``experiment.noise_levels``: the factors recovered from the noisy product
   ``X + noise ||X|| e`` (:func:`~jaxorth.multilinear.recover`, Levenberg-Marquardt from
   ``experiment.starts`` starts), their error up to rescaling
   (:func:`~jaxorth.multilinear.scale_distance`) and the error of their product. The
   stability theorem predicts a linear relation, ``parameter error <= C product error``,
   on identifiable topologies: the fitted ``C`` is the largest ratio over the noisy
   runs; on non-identifiable ones the parameter error stays large at zero noise.

Table ``topologies``: identifiable, stability estimate, recovery rate (noiseless runs
within ``experiment.tolerance`` up to scale), fitted constant. Figure ``recovery.png``:
parameter error against product error, one colour per topology.
::

    jaxorth experiment=multilinear
    jaxorth experiment=multilinear experiment.trials=20 experiment.noise_levels=[0,1e-3]
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from omegaconf import DictConfig

from jaxorth import multilinear as ml
from jaxorth import report
from jaxorth._random import numpy_rng
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table
from jaxorth.studies._registry import register_study


@dataclasses.dataclass
class MultilinearConfig:
    """Schema of ``experiment=multilinear``.

    ``topologies``: each a list of supports (lists of distinct non-negative offsets);
    ``trials``: random factorizations per topology; ``noise_levels``: relative noise on
    the product (0 included: the recovery rate); ``starts`` and ``iterations``: of
    :func:`~jaxorth.multilinear.recover`; ``tolerance``: a recovery within this error
    up to rescaling counts as a success; ``stability_starts``: random starts of the
    stability estimate.
    """

    name: str = "multilinear"
    topologies: list[list[list[int]]] = dataclasses.field(
        default_factory=lambda: [
            [[0, 1], [0, 2]],
            [[0, 1], [0, 1]],
            [[0, 1, 2], [0, 3], [0, 6]],
            [[0, 1], [0, 1], [0, 2]],
            [[0, 1], [0, 2], [0, 4], [0, 8]],
            [[0, 2], [0, 1, 3], [0, 1], [0, 4]],
            [[0, 1], [0, 2], [0, 4], [0, 8], [0, 16], [0, 32]],
            [[0, 1], [0, 2], [0, 4], [0, 8], [0, 16], [0, 16]],
        ]
    )
    trials: int = 5
    noise_levels: list[float] = dataclasses.field(
        default_factory=lambda: [0.0, 1e-4, 1e-3, 1e-2, 1e-1]
    )
    starts: int = 8
    iterations: int = 200
    tolerance: float = 1e-6
    stability_starts: int = 4
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of ``cfg.experiment`` before any compute (errors name the key)."""
    ex = cfg.experiment
    if not ex.topologies:
        raise ValueError("experiment.topologies must list at least one topology")
    for i, supports in enumerate(ex.topologies):
        ml.check_supports([list(s) for s in supports], f"experiment.topologies[{i}]")
    for key in ("trials", "starts", "iterations", "stability_starts"):
        if int(ex[key]) < 1:
            raise ValueError(f"experiment.{key} must be >= 1, got {ex[key]}")
    if not ex.noise_levels:
        raise ValueError("experiment.noise_levels must list at least one level")
    for i, level in enumerate(ex.noise_levels):
        if not float(level) >= 0:
            raise ValueError(f"experiment.noise_levels[{i}] must be >= 0, got {level}")
    if not float(ex.tolerance) > 0:
        raise ValueError(f"experiment.tolerance must be > 0, got {ex.tolerance}")


def _name(supports: list[list[int]]) -> str:
    return " ".join("{" + ",".join(str(o) for o in s) + "}" for s in supports)


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Topology test, stability estimate and noisy recoveries for every topology."""
    ex = cfg.experiment
    root = jax.random.PRNGKey(int(cfg.seed))
    rows, points, summary = [], {}, {}
    for t, supports in enumerate(ex.topologies):
        supports = [[int(o) for o in s] for s in supports]
        key = jax.random.fold_in(root, t)
        top = ml.conv_chain_identifiable(supports)
        stab = ml.stability_constant(
            supports, key=jax.random.fold_in(key, 0), starts=int(ex.stability_starts)
        )
        rng = numpy_rng(jax.random.fold_in(key, 1))
        runs = []
        for trial in range(int(ex.trials)):
            h = [rng.normal(size=len(s)) for s in supports]
            x = np.asarray(ml.conv_chain(h, supports), np.float64)
            for level in ex.noise_levels:
                noise = rng.normal(size=x.shape)
                y = x + float(level) * np.linalg.norm(x) * noise / np.linalg.norm(noise)
                rec = ml.recover(
                    y,
                    supports,
                    key=jax.random.fold_in(key, 1000 * trial + len(runs) + 2),
                    starts=int(ex.starts),
                    iterations=int(ex.iterations),
                )
                x_rec = np.asarray(ml.conv_chain(rec.factors, supports), np.float64)
                runs.append(
                    (
                        float(level),
                        float(np.linalg.norm(x_rec - x) / np.linalg.norm(x)),
                        ml.scale_distance(h, rec.factors),
                    )
                )
        arr = np.asarray(runs)
        clean = arr[arr[:, 0] == 0]
        noisy = arr[(arr[:, 0] > 0) & (arr[:, 1] > 0)]
        constant = float(np.max(noisy[:, 2] / noisy[:, 1])) if len(noisy) else float("nan")
        n_ok = int(np.sum(clean[:, 2] <= float(ex.tolerance)))
        name = _name(supports)
        row = {
            "topology": name,
            "K": len(supports),
            "identifiable": top.identifiable,
            "stability": stab.value,
            "recovered (noise 0)": f"{n_ok} / {len(clean)}" if len(clean) else "-",
            "max param error (noise 0)": float(clean[:, 2].max()) if len(clean) else float("nan"),
            "fitted C": constant,
        }
        rows.append(row)
        points[name] = {"identifiable": top.identifiable, "runs": arr}
        summary[f"{name}/identifiable"] = top.identifiable
        summary[f"{name}/stability"] = stab.value
        summary[f"{name}/fitted_C"] = constant
        summary[f"{name}/recovered"] = row["recovered (noise 0)"]
    return StudyResult(
        tables={
            "topologies": Table(
                rows, "convolution chains: topology test, stability and recovery up to scale"
            )
        },
        summary=summary,
        arrays={"points": points},
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``recovery.png``: parameter error against product error, per topology."""
    panels = []
    for identifiable in (True, False):
        curves = [
            report.Curve(
                np.maximum(p["runs"][:, 1], 1e-17),
                np.maximum(p["runs"][:, 2], 1e-17),
                name,
                kind="scatter",
                color=i,
            )
            for i, (name, p) in enumerate(result.arrays["points"].items())
            if p["identifiable"] == identifiable
        ]
        if curves:
            panels.append(
                report.Panel(
                    curves,
                    title="identifiable topologies" if identifiable else "non-identifiable",
                    xlabel="product error ||X_rec - X|| / ||X||",
                    ylabel="factor error up to rescaling",
                    xscale="log",
                    yscale="log",
                )
            )
    ctx.save_figure(report.panels_figure(panels, figsize=(5.5 * len(panels), 4.5)), "recovery")


STUDY = register_study(
    Study("multilinear", MultilinearConfig, run=run, check=check, report=plot, float64=True)
)
