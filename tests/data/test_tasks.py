import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxorth.data import (
    adding_task_baseline,
    adding_task_batch,
    copy_task_baseline,
    copy_task_batch,
    copy_task_spec,
)


@pytest.mark.parametrize("T", [1, 5, 100])
def test_copy_task_structure(T):
    x, y = copy_task_batch(jax.random.key(0), 16, T)
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == y.shape == (16, T + 20)
    # first 10 inputs are symbols in 1..8, marker 9 at position T + 9, blanks elsewhere
    assert np.all((x[:, :10] >= 1) & (x[:, :10] <= 8))
    assert np.all(x[:, T + 9] == 9)
    rest = np.delete(x, list(range(10)) + [T + 9], axis=1)
    assert np.all(rest == 0)
    # targets: blank, then the same symbols in the same order
    np.testing.assert_array_equal(y[:, -10:], x[:, :10])
    assert np.all(y[:, :-10] == 0)


def test_copy_task_symbols_uniform():
    x, _ = copy_task_batch(jax.random.key(1), 4096, 3)
    counts = np.bincount(np.asarray(x[:, :10]).ravel(), minlength=9)[1:]
    assert counts.sum() == 40960
    # chi-square-like loose check of uniformity over the 8 symbols
    assert np.all(np.abs(counts / counts.sum() - 1 / 8) < 0.01)


def test_copy_baseline_matches_memoryless_predictor():
    # An explicit memoryless predictor: blank with prob 1 before the recall window,
    # uniform over the 8 symbols inside it. Its mean cross-entropy is the baseline.
    T = 30
    x, y = copy_task_batch(jax.random.key(2), 64, T)
    logits = jnp.full((64, T + 20, 9), -1e9).at[:, :, 0].set(0.0)
    logits = logits.at[:, -10:, :].set(
        jnp.concatenate([jnp.full((64, 10, 1), -1e9), jnp.zeros((64, 10, 8))], -1)
    )
    logp = jax.nn.log_softmax(logits)
    ce = -jnp.take_along_axis(logp, y[..., None], axis=-1).mean()
    assert float(ce) == pytest.approx(copy_task_baseline(T), rel=1e-5)
    assert copy_task_baseline(1000) == pytest.approx(10 * math.log(8) / 1020)
    assert round(copy_task_baseline(1000), 4) == 0.0204


def test_copy_task_spec():
    assert copy_task_spec() == {"in_features": 10, "out_features": 9, "n_recall": 10}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 4, "T": 0}, "T must be an integer >= 1"),
        ({"batch_size": 4, "T": -3}, "T must be an integer >= 1"),
        ({"batch_size": 0, "T": 5}, "batch_size must be an integer >= 1"),
        ({"batch_size": 4, "T": 5, "n_symbols": 0}, "n_symbols"),
    ],
)
def test_copy_task_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        copy_task_batch(jax.random.key(0), **kwargs)


def test_adding_task():
    x, y = adding_task_batch(jax.random.key(0), 2048, 50)
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == (2048, 50, 2)
    marks = x[..., 1]
    assert np.all(marks.sum(1) == 2)
    assert np.all(marks[:, :25].sum(1) == 1)
    np.testing.assert_allclose(y, (x[..., 0] * marks).sum(1), rtol=1e-6)
    # predicting 1 has MSE 1/6
    assert np.mean((y - 1.0) ** 2) == pytest.approx(adding_task_baseline(), abs=0.015)


class _Model:
    """Stands for a sequence model: the metrics must reject before calling it."""

    out_features = 9

    def stepwise_cross_entropy(self, x, y):
        raise AssertionError("the checks run before the model")

    final_output = stepwise_cross_entropy


def test_task_metrics_and_baseline_check_sizes(user_checks):
    from jaxorth.data import adding_task_metrics, copy_task_metrics

    x = jnp.zeros((2, 6), jnp.int32)
    with pytest.raises(ValueError, match="n_recall=7 exceeds the sequence length L=6"):
        copy_task_metrics(_Model(), x, x, 7)
    with pytest.raises(ValueError, match="n_recall must be an integer >= 1, got 0"):
        copy_task_metrics(_Model(), x, x, 0)
    with user_checks(), pytest.raises(ValueError, match=r"targets must have shape \(B,\) = \(2,\)"):
        adding_task_metrics(_Model(), jnp.zeros((2, 6, 2)), jnp.zeros((3,)))
    with pytest.raises(ValueError, match="n_symbols must be an integer >= 1, got 0"):
        copy_task_baseline(10, n_symbols=0)
