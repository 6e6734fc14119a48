"""Builders and checks shared by the studies: optimizer, loop settings, the data option."""

from __future__ import annotations

from typing import Any

import optax

from jaxorth.train import LoopConfig, make_optimizer


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


def optimizer_from_cfg(cfg: Any) -> optax.GradientTransformation:
    """The optax optimizer described by ``cfg.optim`` (schedules span ``cfg.train.steps``)."""
    o = cfg.optim
    return make_optimizer(
        str(o.name),
        float(o.lr),
        weight_decay=float(o.weight_decay),
        grad_clip=None if o.grad_clip is None else float(o.grad_clip),
        schedule=str(o.schedule),
        warmup_steps=int(o.warmup_steps),
        total_steps=int(cfg.train.steps),
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
