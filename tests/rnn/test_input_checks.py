"""Bad inputs of the sequence model and the cells: a clear ValueError before compute.

Token ids and labels are checked when their values are concrete (eager calls); under
``jit`` only shapes can be checked (the documented contract of ``SequenceModel``).
State widths are shapes, so a cell's recurrence checks them also under ``jit``.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxorth.data import copy_task_metrics, pixel_sequence_metrics
from jaxorth.rnn import (
    BlockHadamRNNCell,
    HadamRNNCell,
    ORNNCell,
    QORNNCell,
    SequenceModel,
    cell_layout,
)

CELLS = {
    "ornn": lambda r: ORNNCell(8, rngs=r),
    "hadamrnn": lambda r: HadamRNNCell(8, rngs=r),
    "block": lambda r: BlockHadamRNNCell(8, 4, rngs=r),
    "hadamrnn32": lambda r: HadamRNNCell(32, rngs=r),  # the factored scan layout
    "qornn": lambda r: QORNNCell(8, 4, rngs=r),
}


def _model(vocab=5, classes=4, cell="ornn"):
    r = nnx.Rngs(0)
    return SequenceModel(CELLS[cell](r), vocab, classes, rngs=r)


def test_token_ids_out_of_range_rejected_when_concrete():
    model = _model(vocab=5)
    for bad, value, where in (([[0, 5, 1]], 5, "(0, 1)"), ([[0, 1, -1]], -1, "(0, 2)")):
        x = jnp.asarray(bad, jnp.int32)
        msg = (
            rf"token ids must lie in \[0, in_features=5\), got {value} at index {re.escape(where)}"
        )
        for call in (model, model.hidden_states, model.final_output, model.drive):
            with pytest.raises(ValueError, match=msg):
                call(x)
    model.drive(jnp.asarray([[0, 4, 1]], jnp.int32))  # the edges of the range pass


def test_labels_out_of_range_rejected_in_the_losses():
    model = _model(vocab=5, classes=4)
    x = jnp.zeros((2, 3), jnp.int32)
    for value in (4, -1):
        y = jnp.zeros((2, 3), jnp.int32).at[1, 2].set(value)
        msg = rf"labels must lie in \[0, out_features=4\), got {value} at index \(1, 2\)"
        with pytest.raises(ValueError, match=msg):
            model.stepwise_cross_entropy(x, y)
        with pytest.raises(ValueError, match=msg):
            copy_task_metrics(model, x, y, 1)
    pix = _model(vocab=1, classes=4)
    xf = jnp.zeros((2, 3, 1))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, n_classes=4\), got 7"):
        pixel_sequence_metrics(pix, xf, jnp.asarray([0, 7]))


def test_under_jit_only_shapes_are_checked():
    # the contract: a traced label cannot be read, so an out-of-range one gives NaN
    model = _model(vocab=5, classes=4)
    graphdef, state = nnx.split(model)
    f = jax.jit(lambda s, x, y: nnx.merge(graphdef, s).stepwise_cross_entropy(x, y)[0])
    x = jnp.zeros((1, 2), jnp.int32)
    ce = f(state, x, jnp.asarray([[0, 9]], jnp.int32))
    assert np.isfinite(float(ce[0])) and np.isnan(float(ce[1]))


@pytest.mark.parametrize("param", ["in_features", "out_features"])
@pytest.mark.parametrize("bad", [0, -3])
def test_sequence_model_sizes_named(user_checks, param, bad):
    r = nnx.Rngs(0)
    sizes = {"in_features": 3, "out_features": 2, param: bad}
    with user_checks(), pytest.raises(ValueError, match=rf"^{param} must be a positive integer"):
        SequenceModel(ORNNCell(4, rngs=r), sizes["in_features"], sizes["out_features"], rngs=r)


def test_sequence_model_rejects_what_is_not_a_cell(user_checks):
    r = nnx.Rngs(0)
    with user_checks(), pytest.raises(ValueError, match="cell must be a recurrent cell"):
        SequenceModel(object(), 3, 2, rngs=r)
    with user_checks(), pytest.raises(ValueError, match="input_transform must be callable"):
        SequenceModel(ORNNCell(4, rngs=r), 3, 2, rngs=r, input_transform=4)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_recurrence_checks_the_state_width(user_checks, name):
    # a shape check: eager and under jit, for the float and the integer recurrence
    cell = CELLS[name](nnx.Rngs(0))
    n = cell.hidden_size
    steps = [(cell.recurrence(), jnp.float32)]
    if hasattr(cell, "integer_recurrence"):
        steps.append((cell.integer_recurrence()[0], jnp.int32))
    for step, dtype in steps:
        for width, wrap in ((n - 1, lambda f: f), (n + 3, jax.jit)):
            h = jnp.ones((2, width), dtype)
            msg = (
                rf"^state width must be hidden_size={n}, got {width} \(state shape \(2, {width}\)\)"
            )
            with user_checks(), pytest.raises(ValueError, match=msg):
                wrap(step)(h)
    if name == "hadamrnn32":  # the factored scan layout checks its input too
        with user_checks(), pytest.raises(ValueError, match=f"state width must be hidden_size={n}"):
            cell_layout(cell).to_state(jnp.ones((2, n + 1)))
    assert cell.recurrence()(jnp.ones((2, n))).shape == (2, n)


def test_ints_in_range_reports_the_first_offender_and_skips_tracers():
    from jaxorth._checks import ints_in_range

    ints_in_range(np.array([[0, 2], [1, 2]]), "ids", 0, 3)
    ints_in_range(np.zeros((0,), np.int32), "ids", 0, 1)  # nothing to check
    with pytest.raises(
        ValueError, match=r"^ids must lie in \[0, 3\), got 7 at index \(1, 0\) \(2 of 4"
    ):
        ints_in_range(np.array([[0, 2], [7, 9]]), "ids", 0, 3)
    jax.jit(lambda v: ints_in_range(v, "ids", 0, 3) or v)(jnp.asarray([5]))  # traced: skipped


def test_integer_recurrence_step_checked(user_checks):
    from jaxorth.rnn import integer_hidden_states

    model = _model(vocab=5, classes=4, cell="hadamrnn")
    x = jnp.zeros((1, 2), jnp.int32)
    for bad in (0.0, -1.0, float("nan")):
        with user_checks(), pytest.raises(ValueError, match="delta_h must be a positive number"):
            integer_hidden_states(model, x, 8, bad)
