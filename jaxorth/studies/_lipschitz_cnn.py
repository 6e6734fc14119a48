"""What the studies of :class:`~jaxorth.lipschitz.OrthCNN` share: options, checks, fits, rows.

``experiment=orthconv_tradeoff`` (8x8 digits) and ``experiment=lipschitz_mnist`` (28x28
MNIST) train the same CNN with soft layers (one model per penalty weight ``lam``) and
with exact orthogonal layers, and evaluate each model the same way: test accuracy, the
exact spectrum of every layer, ``sum L_orth``, the network's Lipschitz bound and the
certified accuracy at l2 radii. The helpers here hold that common part; each study adds
its data, its loss and its own measurements.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx

from jaxorth import report
from jaxorth.lipschitz import OrthCNN, certified
from jaxorth.orthconv import check_orthogonal_conv
from jaxorth.studies._common import fit_in_run
from jaxorth.studies._context import RunContext
from jaxorth.train import FitResult

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
class CnnConfig:
    """Keys of every OrthCNN study (each study's schema inherits them).

    ``variant``: ``soft`` (one model per ``lams``), ``exact`` or ``all``; ``lam``: one
    penalty weight instead of ``lams`` (for ``-m`` sweeps). ``channels``: ``[c1, c2]``;
    ``kernel_size``: ``k`` of every conv; ``method``: orthogonalisation of the exact
    layers (``bjorck``, ``cayley``, ``expm``).
    """

    variant: Variant = Variant.all
    lams: list[float] = dataclasses.field(default_factory=lambda: [0.0, 1e-3, 1e-2, 1e-1, 1.0])
    lam: float | None = None
    channels: list[int] = dataclasses.field(default_factory=lambda: [16, 32])
    kernel_size: int = 3
    method: Method = Method.bjorck


def lams(ex: Any) -> tuple[str, list[float]]:
    """``(key, weights)``: ``experiment.lam`` alone when set, else ``experiment.lams``."""
    if ex.lam is not None:
        return "lam", [float(ex.lam)]
    return "lams", [float(v) for v in ex.lams]


def runs(ex: Any) -> list[tuple[str, float | None]]:
    """The (variant, lam) of every model to train, in order."""
    variant = str(ex.variant)
    out: list[tuple[str, float | None]] = []
    if variant in ("soft", "all"):
        out += [("soft", v) for v in lams(ex)[1]]
    if variant in ("exact", "all"):
        out.append(("exact", None))
    return out


def tag(variant: str, lam: float | None) -> str:
    """``exact`` or ``soft_lam<lam>``: the model's run directory and metric prefix."""
    return "exact" if variant == "exact" else f"soft_lam{lam:g}"


def check_cnn(cfg: Any) -> None:
    """Checks of the keys both studies have, before any compute (messages name the key)."""
    ex = cfg.experiment
    key, weights = lams(ex)
    if str(ex.variant) != "exact" and not weights:
        raise ValueError(f"experiment.{key} is empty: the soft variant needs >= 1 weight")
    for v in weights:
        if not (v >= 0.0 and math.isfinite(v)):
            raise ValueError(f"experiment.{key} must hold finite weights >= 0, got {v}")
    if len(ex.channels) != 2 or any(int(c) < 1 for c in ex.channels):
        raise ValueError(
            f"experiment.channels must be [c1, c2] with c >= 1, got {list(ex.channels)}"
        )
    if int(ex.kernel_size) < 1:
        raise ValueError(f"experiment.kernel_size must be >= 1, got {ex.kernel_size}")
    if any(r < 0 for r in ex.radii):
        raise ValueError(f"experiment.radii must be >= 0, got {list(ex.radii)}")
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


def fit_cnns(
    cfg: Any,
    ctx: RunContext,
    data: tuple[np.ndarray, np.ndarray],
    side: int,
    task_loss: Callable[[jax.Array, jax.Array], jax.Array],
) -> Iterator[tuple[str, float | None, FitResult, float]]:
    """Train the CNN of every (variant, lam) of ``cfg.experiment``, one after the other.

    The loss is ``task_loss(logits, labels) + lam * sum_l L_orth(K_l)`` (the penalty is 0
    for exact layers), logged as ``<tag>/train/task`` and ``<tag>/train/lorth``; each
    model trains through :func:`jaxorth.train.fit` in ``runs/<tag>``. Yields
    ``(variant, lam, fit result, training seconds)``.
    """
    ex = cfg.experiment
    for variant, lam in runs(ex):
        weight = 0.0 if lam is None else lam
        model = OrthCNN(
            variant,
            [int(c) for c in ex.channels],
            int(ex.kernel_size),
            input_size=side,
            n_classes=N_CLASSES,
            method=str(ex.method),
            rngs=nnx.Rngs(int(cfg.seed)),
        )

        def loss_fn(m: OrthCNN, batch: Any, weight: float = weight) -> tuple[jax.Array, dict]:
            xb, yb = batch
            task = task_loss(m(xb), yb)
            pen = m.lorth_penalty()
            return task + weight * pen, {"task": task, "lorth": pen}

        t0 = time.perf_counter()
        result = fit_in_run(cfg, ctx, tag(variant, lam), model, loss_fn, data)
        yield variant, lam, result, time.perf_counter() - t0


@nnx.jit  # one jitted function: models of the same structure share its compilation
def _logits(model: OrthCNN, x: np.ndarray | jax.Array) -> jax.Array:
    return model(x)


def logits(model: OrthCNN, x: np.ndarray, chunk: int = 1000) -> np.ndarray:
    """The model's logits on ``x`` in float64, ``chunk`` images at a time."""
    parts = [np.asarray(_logits(model, x[i : i + chunk])) for i in range(0, len(x), chunk)]
    return np.concatenate(parts).astype(np.float64)


def spectral_row(model: OrthCNN) -> dict[str, Any]:
    """Exact per-layer spectra, isometry deviation, ``sum L_orth`` and Lipschitz bound.

    ``conv<j>_smin`` / ``conv<j>_smax``: extreme singular values of each convolution on
    its input grid (:meth:`OrthCNN.layer_singular_values`); ``isometry_dev``:
    ``max_j max |sigma - 1|`` over the convolutions; ``lipschitz_bound``: the product of
    the layers' exact factors (:meth:`OrthCNN.lipschitz_report`, float64).
    """
    row: dict[str, Any] = {}
    spectra = model.layer_singular_values()
    dev = 0.0
    for j, sv in enumerate(spectra[:-1]):
        row[f"conv{j + 1}_smin"] = float(sv.min())
        row[f"conv{j + 1}_smax"] = float(sv.max())
        dev = max(dev, float(np.abs(sv - 1.0).max()))
    row["head_smax"] = float(spectra[-1].max())
    row["lorth_sum"] = sum(float(v) for v in model.lorth_values())
    row["isometry_dev"] = dev
    row["lipschitz_bound"] = model.lipschitz_report().bound
    return row


def radius_key(prefix: str, r: float) -> str:
    """``<prefix>_r<r>``: the column of a radius (``cert_acc_r0.5``)."""
    return f"{prefix}_r{float(r):g}"


def certified_row(
    logit_values: np.ndarray, labels: np.ndarray, lipschitz: float, radii: Sequence[float]
) -> dict[str, float]:
    """``cert_acc_r<r>``: the fraction of examples correct with ``margin / (sqrt(2) L) > r``."""
    radii = [float(r) for r in radii]
    if not radii:
        return {}
    masks = np.asarray(certified(logit_values, labels, lipschitz, radii))
    return {radius_key("cert_acc", r): float(np.mean(m)) for r, m in zip(radii, masks)}


def summarize(rows: Sequence[dict[str, Any]], resumed: dict[str, Any]) -> dict[str, Any]:
    """``<tag>/<column>`` of every row, ``<tag>/resumed_from``, flat keys for one model."""
    summary = {f"{t}/resumed_from": step for t, step in resumed.items()}
    for row in rows:
        t = tag(row["variant"], row["lam"])
        summary.update({f"{t}/{k}": v for k, v in row.items() if k not in ("variant", "lam")})
    if len(rows) == 1:  # one point of a -m sweep: flat keys for the sweep summary
        summary.update(dict(rows[0]))
    return summary


def tradeoff_panels(rows: Sequence[dict[str, Any]], r0: str | None, data: str) -> list:
    """Accuracy and orthogonality against ``lam`` (exact layers: horizontal lines).

    ``r0``: the certified-accuracy column drawn beside the test accuracy (None: none).
    """
    soft = [r for r in rows if r["variant"] == "soft"]
    exact = [r for r in rows if r["variant"] == "exact"]
    nonzero = [r["lam"] for r in soft if r["lam"] > 0]
    zero_x = min(nonzero) / 10 if nonzero else 1e-4
    xs = [r["lam"] if r["lam"] > 0 else zero_x for r in soft]
    acc, orth = [], []
    acc_lines, orth_lines = [], []
    cert = f"certified acc ({r0.split('_r')[-1]})" if r0 else ""
    if soft:
        acc.append(report.Curve(xs, [r["test_acc"] for r in soft], "soft: test acc", "o-", color=0))
        if r0:
            acc.append(report.Curve(xs, [r[r0] for r in soft], f"soft: {cert}", "s-", color=1))
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
            acc_lines.append(report.HLine(r[r0], f"exact: {cert}", color=1))
        dev = max(r["isometry_dev"], 1e-12)
        orth_lines.append(report.HLine(dev, r"exact: max $|\sigma - 1|$", color=0))
        orth_lines.append(report.HLine(r["lipschitz_bound"], "exact: Lipschitz bound", color=1))
    xlabel = r"$\lambda$ ($L_{orth}$ weight; $\lambda = 0$ drawn at the left)"
    return [
        report.Panel(
            acc,
            hlines=acc_lines,
            title=f"accuracy vs orthogonality vs $\\lambda$ ({data})",
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
