"""The fused sequence paths (scan layouts, per-step loss, last output) against references.

``SequenceModel.stepwise_cross_entropy`` and ``final_output`` compute the readout inside
the scan and may keep the states in a cell-specific layout; they must give the same
values and the same gradients as the plain ``model(x)`` path, and the layouts must
apply the same matrix as an independent dense float64 construction.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.linalg
import scipy.special
from flax import nnx

from jaxorth._precision import float64
from jaxorth.data import pixel_sequence_metrics
from jaxorth.quant import KBitSTE
from jaxorth.rnn import (
    BlockHadamRNNCell,
    HadamRNNCell,
    ORNNCell,
    QORNNCell,
    SequenceModel,
    cell_layout,
)
from jaxorth.train import jit_metrics

CELLS = {
    "hadamrnn32": lambda r: HadamRNNCell(32, rngs=r),
    "block32of128": lambda r: BlockHadamRNNCell(128, 32, rngs=r),
    "block8of32": lambda r: BlockHadamRNNCell(32, 8, rngs=r),
    "ornn": lambda r: ORNNCell(8, rngs=r),
    "qornn": lambda r: QORNNCell(16, 4, rngs=r),
}


def _dense_signed_hadamard(cell) -> np.ndarray:
    """``diag(sign u) (I kron H_m) / sqrt(m)`` from scipy's Hadamard, in float64."""
    n, m = cell.hidden_size, cell.block_size
    signs = np.where(np.asarray(cell.u[...]) >= 0, 1.0, -1.0)
    return signs[:, None] * np.kron(np.eye(n // m), scipy.linalg.hadamard(m) / np.sqrt(m))


# The Hadamard variants cover the three scan layouts: factored with one block
# (hadamrnn32, ``(a, B, b)``), factored with several blocks (block32of128,
# ``(a, g, B, b)``) and the plain ``(B, n)`` layout around the FWHT recurrence
# (block8of32). Other sizes take one of these branches (hadamrnn128 and hadamrnn32 the
# same one-block branch; hadamrnn16 the same ``(B, n)`` branch as block8of32); which
# branch each size takes is checked in test_hadamard_layouts_are_factored_only_....
LAYOUT_VARIANTS = ["hadamrnn32", "block32of128", "block8of32"]


@pytest.mark.parametrize("name", LAYOUT_VARIANTS)
def test_scan_layout_applies_the_dense_matrix(x64, name):
    cell = CELLS[name](nnx.Rngs(0))
    n = cell.hidden_size
    w = _dense_signed_hadamard(cell)
    layout = cell_layout(cell)
    rng = np.random.default_rng(1)
    h = rng.standard_normal((5, n))
    v = rng.standard_normal((n, 3))

    @jax.jit  # the layout's maps in one program (not one compile per eager op)
    def maps(h, v):
        st = layout.to_state(h)
        st2 = layout.step(layout.step(st))
        return (
            layout.to_vectors(st),
            layout.to_vectors(layout.step(st)),
            layout.readout(st, v),
            layout.to_vectors(st2),
        )

    back, one, read, two = maps(jnp.asarray(h), jnp.asarray(v))
    np.testing.assert_allclose(back, h, atol=0)
    np.testing.assert_allclose(one, h @ w.T, atol=1e-12)
    np.testing.assert_allclose(read, h @ v, atol=1e-12)
    # two steps in the layout = two steps of the dense recurrence
    np.testing.assert_allclose(two, h @ w.T @ w.T, atol=1e-12)


@functools.cache
def _token_run(name):
    """A float64 model driven by tokens and what one compiled program gives for it.

    Shared by the stepwise cross-entropy test and the dense-recurrence test of the same
    model (one build and one compile per model): the plain and fused losses with their
    gradients, the logits ``model(x)`` and the per-step cross-entropy and accuracy.
    ``b`` is random (it is part of the token table of the layouts).
    """
    with float64():
        model = _model(name)
        n = model.cell.hidden_size
        model.b[...] = jax.random.normal(jax.random.key(5), (n,))
        kx, ky = jax.random.split(jax.random.key(3))
        x = jax.random.randint(kx, (4, 11), 0, 6)
        y = jax.random.randint(ky, (4, 11), 0, 5)

        def plain(m):
            logits = m(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), logits

        def fused(m):
            ce_t, acc_t = m.stepwise_cross_entropy(x, y)
            return ce_t.mean(), (ce_t, acc_t)

        # one compiled program for both paths, their gradients and (as the auxiliary
        # outputs of the same forward passes) the logits and the per-step values
        @nnx.jit
        def both(m):
            (l_ref, logits), g_ref = nnx.value_and_grad(plain, has_aux=True)(m)
            (l_new, per_step), g_new = nnx.value_and_grad(fused, has_aux=True)(m)
            return (l_ref, g_ref), (l_new, g_new), logits, per_step

        out = jax.tree.map(np.asarray, both(model))
    return model, np.asarray(x), np.asarray(y), out


@pytest.mark.parametrize("name", LAYOUT_VARIANTS)
def test_token_inputs_follow_the_dense_float64_recurrence(x64, name):
    # Tokens are driven by gathering rows of U + b stored in the layout (along its
    # batch axis); the result must be the plain recurrence with a dense W in numpy.
    model, x, _, (_, _, got, _) = _token_run(name)
    cell = model.cell
    assert model.b[...].dtype == jnp.float64  # the cached model was built in float64
    w = _dense_signed_hadamard(cell)
    u = np.asarray(model.input_matrix())
    b = np.asarray(model.b[...])
    v = np.asarray(model.output_matrix())
    c = np.asarray(model.c[...])
    h = np.zeros((x.shape[0], cell.hidden_size))
    ys = []
    for t in range(x.shape[1]):
        h = h @ w.T + u[x[:, t]] + b
        ys.append(np.maximum(h, 0) @ v + c)
    np.testing.assert_allclose(got, np.stack(ys, 1), atol=1e-12)
    layout = cell_layout(cell)
    table = layout.to_state(jnp.asarray(u))
    tok = jnp.asarray(x[:, 0])
    np.testing.assert_allclose(
        jnp.take(table, tok, axis=layout.batch_axis), layout.to_state(jnp.asarray(u[x[:, 0]]))
    )


def test_hadamard_layouts_are_factored_only_for_blocks_of_32_to_4096():
    def shape(make):
        # traced abstractly (jax.eval_shape): the stored shape, with nothing compiled
        def stored():
            cell = make()
            return cell_layout(cell).to_state(jnp.zeros((2, cell.hidden_size)))

        return jax.eval_shape(stored).shape

    assert shape(lambda: HadamRNNCell(16, rngs=nnx.Rngs(0))) == (2, 16)
    assert shape(lambda: BlockHadamRNNCell(64, 16, rngs=nnx.Rngs(0))) == (2, 64)
    assert shape(lambda: HadamRNNCell(128, rngs=nnx.Rngs(0))) == (8, 2, 16)
    assert shape(lambda: BlockHadamRNNCell(256, 64, rngs=nnx.Rngs(0))) == (8, 4, 2, 8)


def _model(name, in_features=6, out_features=5, seed=0):
    r = nnx.Rngs(seed)
    return SequenceModel(
        CELLS[name](r),
        in_features,
        out_features,
        rngs=r,
        input_transform=KBitSTE(4),
        output_transform=KBitSTE(4),
    )


# the three scan layouts, and the dense (B, n) recurrences of the ORNN and QORNN cells
# (qornn stands for both: the same vector layout around ``h @ W^T``; the ORNN's own
# recurrence is checked in test_ornn_cell and its scan in the trace test below)
@pytest.mark.parametrize("name", [*LAYOUT_VARIANTS, "qornn"])
def test_stepwise_cross_entropy_matches_the_plain_path(x64, name):
    _, _, y, ((l_ref, g_ref), (l_new, g_new), logits, (ce_t, acc_t)) = _token_run(name)
    np.testing.assert_allclose(l_new, l_ref, rtol=1e-12)
    for a, b in zip(jax.tree.leaves(g_new), jax.tree.leaves(g_ref), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    # per-step values: batch means of the plain per-entry cross-entropy and accuracy
    # (the per-entry cross-entropy in numpy: logsumexp of the logits minus the label's)
    ce_ref = (
        scipy.special.logsumexp(logits, -1) - np.take_along_axis(logits, y[..., None], -1)[..., 0]
    )
    np.testing.assert_allclose(ce_t, ce_ref.mean(0), rtol=1e-12)
    np.testing.assert_allclose(acc_t, (logits.argmax(-1) == y).mean(0), atol=0)


# one factored and one (B, n) layout: the float drive ``x_t @ U + b`` is the same code
# for every cell, and the (B, n) readout the same for the ORNN as for block8of32
@pytest.mark.parametrize("name", ["hadamrnn32", "block8of32"])
def test_final_output_matches_last_step_with_float_inputs(x64, name):
    model = _model(name, in_features=1, out_features=10)
    x = jax.random.normal(jax.random.key(0), (3, 17, 1))
    y = jnp.array([1, 4, 9])

    def plain(m):
        last = m(x)[:, -1]
        return optax.softmax_cross_entropy_with_integer_labels(last, y).mean(), last

    def fused(m):
        final = m.final_output(x)
        return optax.softmax_cross_entropy_with_integer_labels(final, y).mean(), final

    @nnx.jit  # one compiled program: both gradients, the outputs from their forward passes
    def both(m):
        (_, final), g_new = nnx.value_and_grad(fused, has_aux=True)(m)
        (_, last), g_ref = nnx.value_and_grad(plain, has_aux=True)(m)
        return final, last, g_ref, g_new

    final, last, g_ref, g_new = both(model)
    np.testing.assert_allclose(final, last, atol=1e-12)
    for a, b in zip(jax.tree.leaves(g_new), jax.tree.leaves(g_ref), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_fused_paths_jit_and_check_labels(user_checks):
    model = _model("hadamrnn32")
    x = jnp.zeros((2, 7), jnp.int32)
    graphdef, state = nnx.split(model)
    f = jax.jit(lambda s, x, y: nnx.merge(graphdef, s).stepwise_cross_entropy(x, y))
    ce, acc = f(state, x, jnp.zeros((2, 7), jnp.int32))
    assert ce.shape == acc.shape == (7,)
    assert np.isfinite(np.asarray(ce)).all()
    with user_checks(), pytest.raises(ValueError, match=r"labels must be \(B, T\) = \(2, 7\)"):
        model.stepwise_cross_entropy(x, jnp.zeros((2, 6), jnp.int32))
    with user_checks(), pytest.raises(ValueError, match="labels must be integer class indices"):
        model.stepwise_cross_entropy(x, jnp.zeros((2, 7), jnp.float32))


@pytest.mark.parametrize("name", ["hadamrnn32", "ornn"])
def test_scan_and_training_step_trace_once(name):
    # a second call with the same shapes (new data, updated parameters) must reuse the
    # compiled scan: chex counts the traces of the wrapped functions
    chex.clear_trace_counter()
    model = SequenceModel(CELLS[name](nnx.Rngs(0)), 1, 3, rngs=nnx.Rngs(1))
    graphdef, params = nnx.split(model)
    tx = optax.adam(1e-2)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def train_step(params, opt_state, x, y):
        def loss(p):
            logits = nnx.merge(graphdef, p).final_output(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    evaluate = jit_metrics(chex.assert_max_traces(pixel_sequence_metrics, n=1))
    opt_state = tx.init(params)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = jnp.asarray(rng.standard_normal((4, 9, 1)), jnp.float32)
        y = jnp.asarray(rng.integers(0, 3, 4), jnp.int32)
        params, opt_state, _ = train_step(params, opt_state, x, y)
        nnx.update(model, params)
        evaluate(model, x, y)  # the study's evaluation path, after each update


def test_embedding_drives_the_recurrence_with_rows_of_e_u(user_checks):
    # With embedding_dim the drive of token w is U^T E[w] + b (the padding row of E held
    # at zero, no gradient): the same recurrence as a dense numpy loop over E U.
    V, E, n = 7, 5, 8
    rngs = nnx.Rngs(3)
    model = SequenceModel(
        HadamRNNCell(n, rngs=rngs),
        V,
        2,
        rngs=rngs,
        input_transform=KBitSTE(4),
        embedding_dim=E,
        padding_id=0,
    )
    assert model.embedding[...].shape == (V, E) and model.u[...].shape == (E, n)
    model.embedding[...] = model.embedding[...].at[0].set(1.0)  # masked anyway
    x = np.array([[0, 0, 3, 6, 1], [2, 5, 4, 0, 6]], dtype=np.int32)
    emb = np.asarray(model.embedding[...]).copy()
    emb[0] = 0.0
    u = emb @ np.asarray(KBitSTE(4)(model.u[...]))
    w = _dense_signed_hadamard(model.cell)
    h = np.zeros((2, n))
    for t in range(x.shape[1]):
        h = h @ w.T + u[x[:, t]] + np.asarray(model.b[...])
    want = np.maximum(h, 0) @ np.asarray(model.output_matrix()) + np.asarray(model.c[...])
    np.testing.assert_allclose(model.final_output(jnp.asarray(x)), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.input_matrix(), u, rtol=1e-6, atol=1e-6)

    # the drive reaches the embedding only through input_matrix(): no gradient to row 0
    grads = nnx.grad(lambda m: jnp.sum(m.input_matrix() ** 2))(model)
    g = np.asarray(grads.embedding[...])
    assert np.all(g[0] == 0.0) and np.all(np.abs(g[1:]).sum(axis=1) > 0)
    # 1 bit per entry of W, 32-bit embedding, 4-bit U (E x n), 32-bit V, biases
    assert model.size_bits() == n * n + 32 * V * E + 4 * E * n + 32 * n * 2 + 32 * (n + 2)
    with user_checks(), pytest.raises(ValueError, match="takes integer tokens"):
        model.final_output(jnp.ones((2, 5, V)))
    with pytest.raises(ValueError, match="padding_id needs embedding_dim"):
        SequenceModel(ORNNCell(4, rngs=rngs), V, 2, rngs=rngs, padding_id=0)
    with pytest.raises(ValueError, match="padding_id must be < in_features=7"):
        SequenceModel(ORNNCell(4, rngs=rngs), V, 2, rngs=rngs, embedding_dim=3, padding_id=7)
