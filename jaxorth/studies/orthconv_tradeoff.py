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
logged as ``<tag>/train/...``.

One figure (``tradeoff.png``): test and certified accuracy, and the isometry deviation
``max_l max |sigma - 1|`` with the Lipschitz bound, against ``lam`` (exact layers as
dashed lines). Run everything (the default)::

    jaxorth experiment=orthconv_tradeoff

or sweep, one job per point::

    jaxorth -m experiment=orthconv_tradeoff experiment.variant=soft experiment.lam=0,0.01,0.1,1
"""

from __future__ import annotations

import dataclasses
import enum
import math
import time
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx
from omegaconf import DictConfig

from jaxorth import report
from jaxorth.data import load_images
from jaxorth.lipschitz import OrthCNN, certified, lipschitz_bound
from jaxorth.orthconv import check_orthogonal_conv
from jaxorth.studies._common import fit_in_run
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table
from jaxorth.studies._registry import register_study

SIDE = 8  # sklearn digits are 8x8
N_CLASSES = 10


class Variant(enum.StrEnum):
    """``experiment.variant``: soft layers (one run per weight), exact layers, or both."""

    soft = "soft"
    exact = "exact"
    all = "all"


class Method(enum.StrEnum):
    """``experiment.method``: orthogonalisation of the exact layers."""

    bjorck = "bjorck"
    cayley = "cayley"
    expm = "expm"


@dataclasses.dataclass
class OrthconvTradeoffConfig:
    """Schema of ``experiment=orthconv_tradeoff``.

    ``variant``: ``soft`` (one run per ``lams``), ``exact`` or ``all``; ``lam``: one
    penalty weight instead of ``lams`` (for ``-m`` sweeps). ``channels``: ``[c1, c2]``;
    ``kernel_size``: ``k`` of every conv; ``method``: orthogonalisation of the exact
    layers (``bjorck``, ``cayley``, ``expm``). ``radii``: l2 radii of the certified
    accuracy (inputs in ``[0, 1]``). Training length, batch size and optimizer come from
    ``train`` and ``optim``.
    """

    name: str = "orthconv_tradeoff"
    variant: Variant = Variant.all
    lams: list[float] = dataclasses.field(default_factory=lambda: [0.0, 1e-3, 1e-2, 1e-1, 1.0])
    lam: float | None = None
    channels: list[int] = dataclasses.field(default_factory=lambda: [16, 32])
    kernel_size: int = 3
    method: Method = Method.bjorck
    logit_scale: float = 8.0
    radii: list[float] = dataclasses.field(default_factory=lambda: [0.1, 0.25, 0.5])
    test_fraction: float = 0.2
    plot: bool = True


def _lams(ex: Any) -> tuple[str, list[float]]:
    if ex.lam is not None:
        return "lam", [float(ex.lam)]
    return "lams", [float(v) for v in ex.lams]


def _runs(ex: Any) -> list[tuple[str, float | None]]:
    """The (variant, lam) of every model to train, in order."""
    variant = str(ex.variant)
    runs: list[tuple[str, float | None]] = []
    if variant in ("soft", "all"):
        runs += [("soft", v) for v in _lams(ex)[1]]
    if variant in ("exact", "all"):
        runs.append(("exact", None))
    return runs


def check(cfg: DictConfig) -> None:
    """Domain checks of the whole config, before any compute (messages name the key)."""
    ex = cfg.experiment
    key, lams = _lams(ex)
    if str(ex.variant) != "exact" and not lams:
        raise ValueError(f"experiment.{key} is empty: the soft variant needs >= 1 weight")
    for v in lams:
        if not (v >= 0.0 and math.isfinite(v)):
            raise ValueError(f"experiment.{key} must hold finite weights >= 0, got {v}")
    if len(ex.channels) != 2 or any(int(c) < 1 for c in ex.channels):
        raise ValueError(
            f"experiment.channels must be [c1, c2] with c >= 1, got {list(ex.channels)}"
        )
    if int(ex.kernel_size) < 1:
        raise ValueError(f"experiment.kernel_size must be >= 1, got {ex.kernel_size}")
    if not ex.logit_scale > 0:
        raise ValueError(f"experiment.logit_scale must be > 0, got {ex.logit_scale}")
    if any(r < 0 for r in ex.radii):
        raise ValueError(f"experiment.radii must be >= 0, got {list(ex.radii)}")
    if not 0.0 < ex.test_fraction < 1.0:
        raise ValueError(f"experiment.test_fraction must be in (0, 1), got {ex.test_fraction}")
    if int(cfg.train.steps) < 1 or int(cfg.train.batch_size) < 1:
        raise ValueError("train.steps and train.batch_size must be >= 1")
    if str(ex.variant) in ("exact", "all"):  # fail before any compute if a layer is impossible
        c1, c2 = (int(c) for c in ex.channels)
        k = int(ex.kernel_size)
        for j, (cin, cout, s) in enumerate([(1, c1, 1), (c1, c2, 2), (c2, c2, 2)]):
            try:
                check_orthogonal_conv(cout, cin, k, s, 2, warn_square=False)
            except ValueError as err:
                raise ValueError(f"experiment.channels / kernel_size: conv{j + 1}: {err}") from None


def _tag(variant: str, lam: float | None) -> str:
    return "exact" if variant == "exact" else f"soft_lam{lam:g}"


@nnx.jit  # one jitted function: models of the same structure share its compilation
def _logits(model: OrthCNN, x: np.ndarray | jax.Array) -> jax.Array:
    return model(x)


def _evaluate(model: OrthCNN, x_test: np.ndarray, y_test: np.ndarray, radii) -> dict[str, Any]:
    """Test accuracy, exact per-layer spectra, ``sum L_orth``, Lipschitz bound, certificates."""
    logits = np.asarray(_logits(model, x_test), np.float64)
    row: dict[str, Any] = {"test_acc": float(np.mean(logits.argmax(axis=1) == y_test))}
    spectra = model.layer_singular_values()
    dev = 0.0
    for j, sv in enumerate(spectra[:-1]):
        row[f"conv{j + 1}_smin"] = float(sv.min())
        row[f"conv{j + 1}_smax"] = float(sv.max())
        dev = max(dev, float(np.abs(sv - 1.0).max()))
    row["head_smax"] = float(spectra[-1].max())
    row["lorth_sum"] = sum(float(v) for v in model.lorth_values())
    row["isometry_dev"] = dev
    lip = lipschitz_bound(float(sv.max()) for sv in spectra)
    row["lipschitz_bound"] = lip
    radii = [float(r) for r in radii]
    masks = np.asarray(certified(logits, y_test, lip, radii)) if radii else []
    for r, mask in zip(radii, masks):
        row[f"cert_acc_r{r:g}"] = float(np.mean(mask))
    return row


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Train the CNN for every (variant, lam) and report accuracy, spectra, robustness."""
    ex = cfg.experiment
    data = load_images("digits", test_fraction=float(ex.test_fraction), seed=int(cfg.seed))
    x_train = np.asarray(data.x_train).reshape(-1, 1, SIDE, SIDE)
    y_train = np.asarray(data.y_train)
    x_test = np.asarray(data.x_test).reshape(-1, 1, SIDE, SIDE)
    seed = int(cfg.seed)
    scale = float(ex.logit_scale)

    rows, summary = [], {}
    for variant, lam in _runs(ex):
        tag = _tag(variant, lam)
        weight = 0.0 if lam is None else lam
        model = OrthCNN(
            variant,
            [int(c) for c in ex.channels],
            int(ex.kernel_size),
            input_size=SIDE,
            n_classes=N_CLASSES,
            method=str(ex.method),
            rngs=nnx.Rngs(seed),
        )

        def loss_fn(m: OrthCNN, batch: Any, weight: float = weight) -> tuple[jax.Array, dict]:
            xb, yb = batch
            ce = optax.softmax_cross_entropy_with_integer_labels(scale * m(xb), yb).mean()
            pen = m.lorth_penalty()
            return ce + weight * pen, {"ce": ce, "lorth": pen}

        t0 = time.perf_counter()
        result = fit_in_run(cfg, ctx, tag, model, loss_fn, (x_train, y_train))
        train_s = time.perf_counter() - t0
        row = {"variant": variant, "lam": lam}
        row.update(_evaluate(result.model, x_test, data.y_test, ex.radii))
        row["train_s"] = train_s
        ctx.tracker.log(
            {f"{tag}/{k}": v for k, v in row.items() if k != "variant"}, step=int(cfg.train.steps)
        )
        rows.append(row)
        summary[f"{tag}/resumed_from"] = result.resumed_from
    for row in rows:
        tag = _tag(row["variant"], row["lam"])
        for k, v in row.items():
            if k not in ("variant", "lam"):
                summary[f"{tag}/{k}"] = v
    if len(rows) == 1:  # one point of a -m sweep: flat keys for the sweep summary
        summary.update({k: v for k, v in rows[0].items()})
    title = "orthconv_tradeoff (8x8 digits, circular CNN)"
    radius = f"cert_acc_r{float(ex.radii[0]):g}" if len(ex.radii) else None
    return StudyResult(
        tables={"results": Table(rows, title)},
        summary=summary,
        arrays={"rows": rows, "radius_key": radius},
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``tradeoff.png``: accuracies and orthogonality against ``lam`` (exact: dashed)."""
    rows, r0 = result.arrays["rows"], result.arrays["radius_key"]
    soft = [r for r in rows if r["variant"] == "soft"]
    exact = [r for r in rows if r["variant"] == "exact"]
    nonzero = [r["lam"] for r in soft if r["lam"] > 0]
    zero_x = min(nonzero) / 10 if nonzero else 1e-4
    xs = [r["lam"] if r["lam"] > 0 else zero_x for r in soft]
    acc, orth = [], []
    acc_lines, orth_lines = [], []
    if soft:
        acc.append(report.Curve(xs, [r["test_acc"] for r in soft], "soft: test acc", "o-", color=0))
        if r0:
            label = f"soft: certified acc ({r0[9:]})"
            acc.append(report.Curve(xs, [r[r0] for r in soft], label, "s-", color=1))
        orth.append(
            report.Curve(
                xs, [r["isometry_dev"] for r in soft], r"soft: max $|\sigma - 1|$", "o-", color=0
            )
        )
        orth.append(
            report.Curve(
                xs, [r["lipschitz_bound"] for r in soft], "soft: Lipschitz bound", "s-", color=1
            )
        )
    for r in exact:
        acc_lines.append(report.HLine(r["test_acc"], "exact: test acc", color=0))
        if r0:
            acc_lines.append(report.HLine(r[r0], "exact: certified acc", color=1))
        dev = max(r["isometry_dev"], 1e-12)
        orth_lines.append(report.HLine(dev, r"exact: max $|\sigma - 1|$", color=0))
        orth_lines.append(report.HLine(r["lipschitz_bound"], "exact: Lipschitz bound", color=1))
    xlabel = r"$\lambda$ ($L_{orth}$ weight; $\lambda = 0$ drawn at the left)"
    panels = [
        report.Panel(
            acc,
            hlines=acc_lines,
            title="accuracy vs orthogonality vs $\\lambda$ (8x8 digits)",
            xlabel=xlabel,
            ylabel="accuracy",
            xscale="log",
            yscale="linear",
        ),
        report.Panel(
            orth,
            hlines=orth_lines,
            xlabel=xlabel,
            ylabel="orthogonality",
            xscale="log",
            yscale="log",
        ),
    ]
    ctx.save_figure(report.panels_figure(panels, figsize=(10.0, 4.0)), "tradeoff")


STUDY = register_study(
    Study("orthconv_tradeoff", OrthconvTradeoffConfig, run=run, check=check, report=plot)
)
