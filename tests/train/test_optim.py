"""``optim.schedule=step``: the learning rate applied, against its closed form.

With plain SGD (no momentum) the update on a unit gradient is ``-lr_t``, so reading the
updates reads the schedule that is actually applied (not the schedule function alone).
Closed form (PyTorch's StepLR after a linear warm-up of ``w`` steps): ``lr * t / w`` for
``t < w``, then ``lr * gamma ** ((t - w) // k)``.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.train import make_optimizer


def _applied_lrs(tx, n: int) -> np.ndarray:
    params = {"w": jnp.zeros(())}
    grad = {"w": jnp.ones(())}
    state = tx.init(params)
    out = []
    for _ in range(n):
        updates, state = tx.update(grad, state, params)
        out.append(-float(updates["w"]))
    return np.asarray(out)


@pytest.mark.parametrize(("gamma", "every", "warmup"), [(0.5, 3, 0), (0.98, 1, 0), (0.8, 4, 5)])
def test_step_schedule_applies_the_closed_form(gamma, every, warmup):
    lr, n = 0.1, 20
    tx = make_optimizer(
        "sgd", lr, momentum=0.0, schedule="step", gamma=gamma, decay_every=every,
        warmup_steps=warmup,
    )  # fmt: skip
    t = np.arange(n)
    after = lr * gamma ** (np.maximum(t - warmup, 0) // every)
    expected = np.where(t < warmup, lr * t / max(warmup, 1), after)
    np.testing.assert_allclose(_applied_lrs(tx, n), expected, rtol=1e-6, atol=1e-9)


def test_step_schedule_gamma_one_is_constant():
    tx = make_optimizer("sgd", 0.1, momentum=0.0, schedule="step", gamma=1.0, decay_every=2)
    np.testing.assert_allclose(_applied_lrs(tx, 6), 0.1, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gamma": 0.0}, r"optim.gamma must be in \(0, 1\], got 0.0"),
        ({"gamma": 1.5}, r"optim.gamma must be in \(0, 1\], got 1.5"),
        ({"decay_every": 0}, "optim.decay_every must be an integer >= 1, got 0"),
        ({"decay_every": 2.5}, "optim.decay_every must be an integer >= 1, got 2.5"),
    ],
)
def test_step_schedule_bad_values_name_the_key(kwargs, match, user_checks):
    with user_checks(), pytest.raises(ValueError, match=match):
        make_optimizer("adam", 1e-3, schedule="step", **kwargs)


def test_unknown_schedule_lists_the_choices():
    with pytest.raises(ValueError, match="'constant', 'cosine' or 'step', got 'linear'"):
        make_optimizer("adam", 1e-3, schedule="linear")
