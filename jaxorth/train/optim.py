"""Optimizers from the ``optim`` config group (optax)."""

from __future__ import annotations

import math

import optax


def make_optimizer(
    name: str = "adam",
    lr: float = 1e-3,
    *,
    weight_decay: float = 0.0,
    grad_clip: float | None = None,
    schedule: str = "constant",
    warmup_steps: int = 0,
    total_steps: int = 1,
    momentum: float = 0.9,
    gamma: float = 0.98,
    decay_every: int = 1,
) -> optax.GradientTransformation:
    """Build an optax optimizer from the ``optim`` config group.

    ``schedule`` is ``"constant"``, ``"cosine"`` (to 0 at ``total_steps``) or ``"step"``,
    each after a linear warm-up from 0 to ``lr`` over ``warmup_steps``. ``"step"`` is a
    staircase (PyTorch's ``StepLR``, as the HadamRNN authors' configs use): counting
    ``s`` from the end of the warm-up, the learning rate of step ``s`` is
    ``lr * gamma ** (s // decay_every)``. ``decay_every`` counts optimizer steps here; the
    studies convert ``optim.decay_unit=epoch`` to steps (steps per epoch times
    ``optim.decay_every``). ``gamma`` and ``decay_every`` are read by ``"step"`` only.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.train import make_optimizer
    >>> tx = make_optimizer("sgd", lr=0.1, momentum=0.0)
    >>> updates, _ = tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
    >>> [round(float(u), 6) for u in updates]
    [-0.1, -0.1]
    """
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"optim.lr must be a positive number, got {lr}")
    if warmup_steps < 0:
        raise ValueError(f"optim.warmup_steps must be >= 0, got {warmup_steps}")
    if schedule == "step":
        if not (0 < gamma <= 1):
            raise ValueError(f"optim.gamma must be in (0, 1], got {gamma}")
        if isinstance(decay_every, bool) or int(decay_every) != decay_every or decay_every < 1:
            raise ValueError(f"optim.decay_every must be an integer >= 1, got {decay_every}")
        sched = optax.exponential_decay(lr, int(decay_every), gamma, staircase=True)
        if warmup_steps:
            sched = optax.join_schedules(
                [optax.linear_schedule(0.0, lr, warmup_steps), sched], [warmup_steps]
            )
    elif schedule == "constant":
        sched: optax.Schedule | float = lr
        if warmup_steps:
            sched = optax.join_schedules(
                [optax.linear_schedule(0.0, lr, warmup_steps), optax.constant_schedule(lr)],
                [warmup_steps],
            )
    elif schedule == "cosine":
        sched = optax.warmup_cosine_decay_schedule(
            0.0, lr, max(warmup_steps, 1), max(total_steps, warmup_steps + 1)
        )
    else:
        raise ValueError(f"optim.schedule must be 'constant', 'cosine' or 'step', got {schedule!r}")
    if name == "adam":
        core = optax.adam(sched)
    elif name == "adamw":
        core = optax.adamw(sched, weight_decay=weight_decay)
    elif name == "sgd":
        core = optax.sgd(sched, momentum=momentum or None)
    elif name == "rmsprop":
        core = optax.rmsprop(sched)
    else:
        raise ValueError(f"optim.name must be one of adam, adamw, sgd, rmsprop; got {name!r}")
    if grad_clip is not None:
        if grad_clip <= 0:
            raise ValueError(f"optim.grad_clip must be > 0 or null, got {grad_clip}")
        return optax.chain(optax.clip_by_global_norm(grad_clip), core)
    return core
