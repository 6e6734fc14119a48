"""Synthetic sequence tasks generated on the fly: the copy task and the adding task.

Both are pure functions of a PRNG key, so a training run that draws batch ``s`` from
``jax.random.fold_in(key, s)`` sees exactly the same data when resumed.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from jaxorth._checks import int_at_least

COPY_BLANK = 0


def copy_task_spec(n_symbols: int = 8, n_recall: int = 10) -> dict[str, int]:
    """Vocabulary of the copy task: input and output alphabet sizes.

    Inputs use ``0`` for blank, ``1..n_symbols`` for symbols and ``n_symbols + 1`` for
    the marker; outputs use ``0`` for blank and ``1..n_symbols`` for symbols.

    Examples
    --------
    >>> from jaxorth.data import copy_task_spec
    >>> spec = copy_task_spec()
    >>> sorted(spec)
    ['in_features', 'n_recall', 'out_features']
    """
    int_at_least(n_symbols, "n_symbols", 1)
    int_at_least(n_recall, "n_recall", 1)
    return {"in_features": n_symbols + 2, "out_features": n_symbols + 1, "n_recall": n_recall}


def copy_task_batch(
    key: PRNGKeyArray,
    batch_size: int,
    T: int,
    n_symbols: int = 8,
    n_recall: int = 10,
) -> tuple[Int[Array, "B L"], Int[Array, "B L"]]:
    """Draw a batch of the copy task (Arjovsky, Shah & Bengio 2016; Hochreiter 1997).

    A sequence of length ``L = T + 2 * n_recall``: ``n_recall`` symbols drawn uniformly
    from ``{1..n_symbols}``, then ``T - 1`` blanks, a marker ``n_symbols + 1``, then
    ``n_recall`` blanks during which the network must output the symbols in order. The
    target is blank everywhere else.

    Parameters
    ----------
    key : PRNGKeyArray
        Randomness.
    batch_size : int
        Number of sequences ``B``.
    T : int
        Delay: number of steps between the last symbol and the start of the recall
        window (the ``T - 1`` blanks and the marker), ``T >= 1``.
    n_symbols, n_recall : int
        Alphabet size (8) and number of symbols to recall (10).

    Returns
    -------
    inputs, targets : Int[Array, "B L"]
        Integer tokens; ``L = T + 2 * n_recall``.

    Examples
    --------
    >>> import jax
    >>> from jaxorth.data import copy_task_batch
    >>> x, y = copy_task_batch(jax.random.key(0), batch_size=2, T=5)
    >>> x.shape, y.shape
    ((2, 25), (2, 25))
    """
    int_at_least(batch_size, "batch_size", 1)
    int_at_least(T, "T", 1)
    int_at_least(n_symbols, "n_symbols", 1)
    int_at_least(n_recall, "n_recall", 1)
    length = T + 2 * n_recall
    symbols = jax.random.randint(key, (batch_size, n_recall), 1, n_symbols + 1, dtype=jnp.int32)
    inputs = jnp.zeros((batch_size, length), jnp.int32)
    inputs = inputs.at[:, :n_recall].set(symbols)
    inputs = inputs.at[:, T + n_recall - 1].set(n_symbols + 1)
    targets = jnp.zeros((batch_size, length), jnp.int32)
    targets = targets.at[:, T + n_recall :].set(symbols)
    return inputs, targets


def copy_task_baseline(T: int, n_symbols: int = 8, n_recall: int = 10) -> float:
    """Cross-entropy per time step of the memoryless strategy on the copy task.

    Predict blank until the marker, then uniform over the symbols:
    ``n_recall * ln(n_symbols) / (T + 2 n_recall)`` (``10 ln 8 / (T + 20)``; 0.0204 at
    ``T = 1000``, REFERENCES.md section 3).

    Examples
    --------
    >>> from jaxorth.data import copy_task_baseline
    >>> round(copy_task_baseline(1000), 4)  # 10 ln 8 / (T + 20)
    0.0204
    """
    int_at_least(T, "T", 1)
    int_at_least(n_symbols, "n_symbols", 1)
    int_at_least(n_recall, "n_recall", 1)
    return n_recall * math.log(n_symbols) / (T + 2 * n_recall)


def copy_task_metrics(
    model: Any, x: Int[Array, "B L"], targets: Int[Array, "B L"], n_recall: int
) -> dict[str, Array]:
    """Copy-task cross-entropy over all steps and accuracy over the recall window.

    ``model`` is a sequence model with ``stepwise_cross_entropy(x, targets) -> (ce_t,
    acc_t)`` (per-step batch means, as :class:`jaxorth.rnn.SequenceModel` has): computed
    inside the scan, so the ``(B, T + 20, n)`` states and logits are never stored.
    Returns ``{"ce": mean_t ce_t, "recall_acc": mean of acc_t over the last n_recall}``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.data import copy_task_metrics
    >>> class Fixed:  # a stand-in for SequenceModel.stepwise_cross_entropy: (ce_t, acc_t)
    ...     def stepwise_cross_entropy(self, x, targets):
    ...         return jnp.array([1.0, 2.0, 3.0, 2.0]), jnp.array([1.0, 1.0, 0.0, 1.0])
    >>> x = targets = jnp.zeros((1, 4), jnp.int32)
    >>> m = copy_task_metrics(Fixed(), x, targets, n_recall=2)  # ce over all steps, acc over 2
    >>> float(m["ce"]), float(m["recall_acc"])
    (2.0, 0.5)
    """
    int_at_least(n_recall, "n_recall", 1)
    if n_recall > x.shape[1]:
        raise ValueError(
            f"n_recall={n_recall} exceeds the sequence length L={x.shape[1]} of the inputs"
        )
    ce_t, acc_t = model.stepwise_cross_entropy(x, targets)
    return {"ce": ce_t.mean(), "recall_acc": acc_t[-n_recall:].mean()}


def adding_task_batch(
    key: PRNGKeyArray, batch_size: int, T: int
) -> tuple[Float[Array, "B T 2"], Float[Array, " B"]]:
    """Draw a batch of the adding task (Hochreiter & Schmidhuber 1997).

    Channel 0 holds values uniform in ``[0, 1)``; channel 1 marks two positions, one in
    each half of the sequence. The target is the sum of the two marked values. The
    constant predictor 1 has mean squared error 1/6 (:func:`adding_task_baseline`).

    Examples
    --------
    >>> import jax
    >>> from jaxorth.data import adding_task_batch
    >>> x, y = adding_task_batch(jax.random.key(0), batch_size=3, T=10)
    >>> x.shape, y.shape, int(x[..., 1].sum())  # (value, mark), two marks per sequence
    ((3, 10, 2), (3,), 6)
    """
    int_at_least(batch_size, "batch_size", 1)
    int_at_least(T, "T", 2)
    k_val, k_a, k_b = jax.random.split(key, 3)
    values = jax.random.uniform(k_val, (batch_size, T))
    half = T // 2
    first = jax.random.randint(k_a, (batch_size,), 0, half)
    second = jax.random.randint(k_b, (batch_size,), half, T)
    pos = jnp.arange(T)[None, :]
    marks = ((pos == first[:, None]) | (pos == second[:, None])).astype(values.dtype)
    inputs = jnp.stack([values, marks], axis=-1)
    targets = jnp.sum(values * marks, axis=1)
    return inputs, targets


def adding_task_baseline() -> float:
    """Mean squared error of always predicting 1 on the adding task: Var(U1 + U2) = 1/6.

    Examples
    --------
    >>> from jaxorth.data import adding_task_baseline
    >>> round(adding_task_baseline(), 4)
    0.1667
    """
    return 1.0 / 6.0


def adding_task_metrics(
    model: Any, x: Float[Array, "B T 2"], targets: Float[Array, " B"]
) -> dict[str, Array]:
    """Adding-task mean squared error of the last-step output (regression).

    ``model`` is a sequence model with ``final_output(x) -> (B, 1)`` (as
    :class:`jaxorth.rnn.SequenceModel` has: only the last state is read out). Returns
    ``{"mse": mean_i (y_T,i - target_i)^2}``, to compare with
    :func:`adding_task_baseline` (1/6).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.data import adding_task_metrics
    >>> class LastValue:  # a stand-in for SequenceModel.final_output: (B, T, 2) -> (B, 1)
    ...     def final_output(self, x):
    ...         return x[:, -1, :1]
    >>> x = jnp.zeros((2, 3, 2)).at[:, -1, 0].set(jnp.array([0.5, 1.0]))
    >>> float(adding_task_metrics(LastValue(), x, jnp.array([0.5, 0.0]))["mse"])  # (0 + 1) / 2
    0.5
    """
    if tuple(targets.shape) != (x.shape[0],):
        raise ValueError(
            f"targets must have shape (B,) = ({x.shape[0]},), got {tuple(targets.shape)}"
        )
    pred = model.final_output(x)[:, 0]
    return {"mse": jnp.mean((pred - targets) ** 2)}
