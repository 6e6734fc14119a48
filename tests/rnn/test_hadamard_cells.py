import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from flax import nnx

from jaxorth.rnn import BlockHadamRNNCell, HadamRNNCell

# cell.matrix() as one compiled program (faster than its eager ops one by one)
_matrix = nnx.jit(lambda cell: cell.matrix())


@pytest.mark.parametrize("n", [1, 8, 64])
def test_hadamrnn_matrix_is_binary_orthogonal(n):
    cell = HadamRNNCell(n, rngs=nnx.Rngs(n))
    w = np.asarray(_matrix(cell))
    level = np.float32(1 / math.sqrt(n))
    assert set(np.unique(w)) <= {level, -level}
    np.testing.assert_allclose(w @ w.T, np.eye(n), atol=2e-6)
    signs = np.where(np.asarray(cell.u[...]) >= 0, 1.0, -1.0)
    np.testing.assert_allclose(w, signs[:, None] * scipy.linalg.hadamard(n) / math.sqrt(n))
    assert cell.size_bits() == n * n


@pytest.mark.parametrize(("n", "m"), [(16, 4), (64, 8), (24, 8), (32, 32)])
def test_block_hadamrnn_matrix_is_sparse_ternary_orthogonal(n, m):
    cell = BlockHadamRNNCell(n, m, rngs=nnx.Rngs(m))
    w = np.asarray(_matrix(cell))
    level = np.float32(1 / math.sqrt(m))
    assert set(np.unique(w)) <= {0.0, level, -level}
    assert np.count_nonzero(w) / w.size == m / n
    np.testing.assert_allclose(w @ w.T, np.eye(n), atol=2e-6)
    support = np.kron(np.eye(n // m), np.ones((m, m)))
    np.testing.assert_array_equal(w != 0, support.astype(bool))


@pytest.mark.parametrize(
    "make",
    [
        lambda: HadamRNNCell(64, radix=2, rngs=nnx.Rngs(0)),
        lambda: HadamRNNCell(128, rngs=nnx.Rngs(1)),
        lambda: BlockHadamRNNCell(48, 16, rngs=nnx.Rngs(2)),
    ],
)
def test_fast_recurrence_equals_dense_product(x64, maybe_jit, make):
    cell = make()
    n = cell.hidden_size
    h = jnp.asarray(np.random.default_rng(n).standard_normal((5, n)))
    fast = maybe_jit(lambda h: cell.recurrence()(h))(h)
    np.testing.assert_allclose(fast, np.asarray(h) @ np.asarray(cell.matrix()).T, atol=1e-12)
    # norm preservation of an orthogonal step
    np.testing.assert_allclose(
        np.linalg.norm(fast, axis=1), np.linalg.norm(np.asarray(h), axis=1), rtol=1e-12
    )


def test_sign_gradient_through_fast_transform_matches_dense():
    # STE gradient w.r.t. u: the FWHT path and the dense-matrix path agree.
    cell = BlockHadamRNNCell(32, 8, rngs=nnx.Rngs(0))
    h = jnp.asarray(np.random.default_rng(0).standard_normal((3, 32)), jnp.float32)
    target = jnp.asarray(np.random.default_rng(1).standard_normal((3, 32)), jnp.float32)

    def loss_fast(c):
        return jnp.sum((c.recurrence()(h) - target) ** 2)

    def loss_dense(c):
        return jnp.sum((h @ c.matrix().T - target) ** 2)

    g_fast = nnx.grad(loss_fast)(cell).u[...]
    g_dense = nnx.grad(loss_dense)(cell).u[...]
    np.testing.assert_allclose(g_fast, g_dense, rtol=1e-5, atol=1e-5)
    # identity STE: d loss / d u = d loss / d sign(u) = rowwise <2 (hW^T - y), h H/sqrt(m)>
    hh = np.asarray(h) @ np.kron(np.eye(4), scipy.linalg.hadamard(8)) / math.sqrt(8)
    s = np.where(np.asarray(cell.u[...]) >= 0, 1.0, -1.0)
    expected = np.sum(2 * (hh * s - np.asarray(target)) * hh, axis=0)
    np.testing.assert_allclose(g_fast, expected, rtol=1e-4, atol=1e-4)


def test_integer_form_is_exact():
    cell = HadamRNNCell(32, rngs=nnx.Rngs(3))
    f, scale = cell.integer_recurrence()
    c = jnp.asarray(np.random.default_rng(0).integers(-500, 500, (4, 32)), jnp.int32)
    out = f(c)
    assert out.dtype == jnp.int32
    w = np.asarray(cell.matrix(), np.float64)
    np.testing.assert_allclose(scale * np.asarray(out), np.asarray(c) @ w.T, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda r: HadamRNNCell(100, rngs=r), "power of 2.*100.*64 or 128"),
        (lambda r: HadamRNNCell(0, rngs=r), "^hidden_size must be a positive integer"),
        (lambda r: BlockHadamRNNCell(64, 12, rngs=r), "^block_size must be a power of 2"),
        (lambda r: BlockHadamRNNCell(48, 32, rngs=r), "m=32, n=48"),
        (lambda r: HadamRNNCell(8, clip=-1.0, rngs=r), "^clip must be positive"),
        (lambda r: HadamRNNCell(8, init="bad", rngs=r), "^init must be"),
    ],
)
def test_constraints_fail_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make(nnx.Rngs(0))


def test_recurrence_is_traceable_in_scan():
    cell = HadamRNNCell(16, rngs=nnx.Rngs(0))
    step = cell.recurrence()
    h0 = jnp.ones((2, 16))
    hT, _ = jax.lax.scan(lambda h, _: (step(h), None), h0, None, length=10)
    w = np.asarray(cell.matrix(), np.float64)
    np.testing.assert_allclose(hT, np.ones((2, 16)) @ np.linalg.matrix_power(w.T, 10), atol=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda clip: HadamRNNCell(16, clip=clip, rngs=nnx.Rngs(4)),
        lambda clip: BlockHadamRNNCell(16, 4, clip=clip, rngs=nnx.Rngs(5)),
    ],
    ids=["hadamrnn", "block"],
)
def test_clip_zeroes_the_sign_gradient_outside_the_clip_range(make):
    # the clipped STE (Hubara et al. 2018, eq. (4)): d sign(u) / du = 1{|u| <= clip};
    # reference computed with a dense numpy H_m, the mask from u itself
    clip = 0.5
    cell = make(clip)
    n, m = cell.hidden_size, cell.block_size
    h = np.random.default_rng(0).standard_normal((3, n)).astype(np.float32)
    g_out = np.random.default_rng(1).standard_normal((3, n)).astype(np.float32)
    grad = nnx.grad(lambda c: jnp.sum(c.recurrence()(jnp.asarray(h)) * g_out))(cell).u[...]
    hh = h @ np.kron(np.eye(n // m), scipy.linalg.hadamard(m)) / math.sqrt(m)
    u = np.asarray(cell.u[...])
    inside = np.abs(u) <= clip
    assert 0 < inside.sum() < n  # both cases occur
    np.testing.assert_allclose(grad, np.sum(hh * g_out, axis=0) * inside, rtol=1e-5, atol=1e-5)
    # without clip the same entries get their full gradient
    free = nnx.grad(lambda c: jnp.sum(c.recurrence()(jnp.asarray(h)) * g_out))(make(None)).u[...]
    np.testing.assert_allclose(free, np.sum(hh * g_out, axis=0), rtol=1e-5, atol=1e-5)
    assert np.abs(np.asarray(free)[~inside]).max() > 1e-3


def test_uniform_init_is_the_authors_xavier_range():
    # init="uniform": u ~ U(-a, a), a = sqrt(6 / (n + 1)) (Xavier-uniform of a (1, n)
    # tensor): random signs, and entries small enough that sign flips start early
    n = 512
    u = np.asarray(HadamRNNCell(n, init="uniform", rngs=nnx.Rngs(0)).u[...])
    bound = np.sqrt(6.0 / (n + 1))
    assert np.abs(u).max() <= bound and np.abs(u).max() > 0.9 * bound
    assert 0.4 < (u > 0).mean() < 0.6
    with pytest.raises(ValueError, match="'random', 'uniform', 'ones'"):
        HadamRNNCell(8, init="xavier", rngs=nnx.Rngs(0))
