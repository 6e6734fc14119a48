r"""Study ``experiment=orthconv_tradeoff``: accuracy vs orthogonality vs robustness.

A small circular-padded CNN (:class:`~jaxorth.lipschitz.OrthCNN`) on scikit-learn's 8x8
digits (offline, ``sklearn.datasets.load_digits``; 1,797 images, ``test_fraction`` held
out)::

    conv(1 -> c1, k, S=1) -> MaxMin -> conv(c1 -> c2, k, S=2) -> MaxMin
    -> conv(c2 -> c2, k, S=2) -> MaxMin -> flatten -> dense(4 c2 -> 10, orthonormal rows)

with, for the three convolutions, either

- ``soft`` layers (:class:`~jaxorth.orthconv.SoftOrthConv`): free kernels trained with
  ``loss + lam * sum_l L_orth(K_l)`` (Achour, Malgouyres, Mamalet, JMLR 2022, section 3),
  one run per ``lam`` in ``lams``; or
- ``exact`` layers (:class:`~jaxorth.orthconv.OrthConv`, BCOP o RKO explicit kernels):
  orthogonal by construction (layer 1 column-orthogonal, layers 2-3 row-orthogonal).

The dense head is the same orthonormal-rows (Bjorck) matrix in both, and MaxMin
(GroupSort-2) is 1-Lipschitz, so the network's l2 Lipschitz constant is at most
``L = prod_l sigma_max(conv_l)``. For every run the study reports the test accuracy, the
exact per-layer ``sigma_min`` / ``sigma_max`` on the 8x8 input grid
(:func:`~jaxorth.orthconv.singular_values`, polyphase FFT), ``sum_l L_orth``, ``L``, and
the certified robust accuracy at the radii ``radii``: the fraction of test images that
are correctly classified with ``margin / (sqrt(2) L) > r`` (Tsuzuku et al., NeurIPS 2018),
``margin`` = top logit minus runner-up (:func:`~jaxorth.lipschitz.certified`).
The loss is cross-entropy on ``logit_scale`` times the logits (Lipschitz networks need
the scale to reach large margins). Each model trains through :func:`jaxorth.train.fit`
(NaN guard; checkpoints and resume in ``runs/<tag>/`` of the run directory, one
subdirectory per model, ``<tag>`` = ``exact`` or ``soft_lam<lam>``); its metrics are
logged as ``<tag>/train/...`` (``task``: the cross-entropy; ``lorth``: the penalty).

One figure (``tradeoff.png``): test and certified accuracy, and the isometry deviation
``max_l max |sigma - 1|`` with the Lipschitz bound, against ``lam`` (exact layers as
dashed lines). Run everything (the default)::

    jaxorth experiment=orthconv_tradeoff

or sweep, one job per point::

    jaxorth -m experiment=orthconv_tradeoff experiment.variant=soft experiment.lam=0,0.01,0.1,1
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import optax
from omegaconf import DictConfig

from jaxorth import report
from jaxorth.data import load_images
from jaxorth.studies import _lipschitz_cnn as cnn
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table
from jaxorth.studies._registry import register_study

SIDE = 8  # sklearn digits are 8x8


@dataclasses.dataclass
class OrthconvTradeoffConfig(cnn.CnnConfig):
    """Schema of ``experiment=orthconv_tradeoff``.

    The model keys (``variant``, ``lams`` / ``lam``, ``channels``, ``kernel_size``,
    ``method``) are those of :class:`~jaxorth.studies._lipschitz_cnn.CnnConfig`.
    ``radii``: l2 radii of the certified accuracy (inputs in ``[0, 1]``). Training
    length, batch size and optimizer come from ``train`` and ``optim``.
    """

    name: str = "orthconv_tradeoff"
    logit_scale: float = 8.0
    radii: list[float] = dataclasses.field(default_factory=lambda: [0.1, 0.25, 0.5])
    test_fraction: float = 0.2
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of the whole config, before any compute (messages name the key)."""
    ex = cfg.experiment
    if not ex.logit_scale > 0:
        raise ValueError(f"experiment.logit_scale must be > 0, got {ex.logit_scale}")
    if not 0.0 < ex.test_fraction < 1.0:
        raise ValueError(f"experiment.test_fraction must be in (0, 1), got {ex.test_fraction}")
    cnn.check_cnn(cfg)


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Train the CNN for every (variant, lam) and report accuracy, spectra, robustness."""
    ex = cfg.experiment
    data = load_images("digits", test_fraction=float(ex.test_fraction), seed=int(cfg.seed))
    x_train = np.asarray(data.x_train).reshape(-1, 1, SIDE, SIDE)
    x_test = np.asarray(data.x_test).reshape(-1, 1, SIDE, SIDE)
    scale = float(ex.logit_scale)

    def task_loss(z: Any, y: Any) -> Any:
        return optax.softmax_cross_entropy_with_integer_labels(scale * z, y).mean()

    rows, resumed = [], {}
    train = (x_train, np.asarray(data.y_train))
    for variant, lam, result, train_s in cnn.fit_cnns(cfg, ctx, train, SIDE, task_loss):
        t = cnn.tag(variant, lam)
        z = cnn.logits(result.model, x_test)
        row: dict[str, Any] = {"variant": variant, "lam": lam}
        row["test_acc"] = float(np.mean(z.argmax(axis=1) == data.y_test))
        row.update(cnn.spectral_row(result.model))
        row.update(cnn.certified_row(z, data.y_test, row["lipschitz_bound"], ex.radii))
        row["train_s"] = train_s
        ctx.tracker.log(
            {f"{t}/{k}": v for k, v in row.items() if k != "variant"}, step=int(cfg.train.steps)
        )
        rows.append(row)
        resumed[t] = result.resumed_from
    title = "orthconv_tradeoff (8x8 digits, circular CNN)"
    r0 = cnn.radius_key("cert_acc", ex.radii[0]) if len(ex.radii) else None
    return StudyResult(
        tables={"results": Table(rows, title)},
        summary=cnn.summarize(rows, resumed),
        arrays={"rows": rows, "radius_key": r0},
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``tradeoff.png``: accuracies and orthogonality against ``lam`` (exact: dashed)."""
    panels = cnn.tradeoff_panels(result.arrays["rows"], result.arrays["radius_key"], "8x8 digits")
    ctx.save_figure(report.panels_figure(panels, figsize=(10.0, 4.0)), "tradeoff")


STUDY = register_study(
    Study("orthconv_tradeoff", OrthconvTradeoffConfig, run=run, check=check, report=plot)
)
