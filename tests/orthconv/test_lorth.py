"""lorth: the paper's formula, the identity err_F^2 = N^d L_orth, orthogonal kernels, bounds."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxorth.orthconv import (
    conv_matrix,
    lorth,
    orthogonality_errors,
    singular_values,
)


# ----------------------------------------------------------------- independent references
def paper_lorth(kernel: np.ndarray, stride: int) -> float:
    """REFERENCES.md section 1, written out with loops: conv(K, K, padding P, stride S)."""
    m, c = kernel.shape[:2]
    ks = kernel.shape[2:]
    d = len(ks)
    r = [(k - 1) // stride for k in ks]
    padded = np.pad(kernel, [(0, 0), (0, 0)] + [(stride * ri, stride * ri) for ri in r])
    total = 0.0
    for t in itertools.product(*[range(2 * ri + 1) for ri in r]):
        window = tuple(slice(stride * ti, stride * ti + k) for ti, k in zip(t, ks))
        patch = padded[(slice(None), slice(None), *window)]
        out = patch.reshape(m, -1) @ kernel.reshape(m, -1).T  # sum_{c,a} K[j] Kpad[i, St + a]
        if all(ti == ri for ti, ri in zip(t, r)):
            out = out - np.eye(m)
        total += float(np.sum(out**2))
    return total - max(0, m - c * stride**d)


def _orthonormal(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A rows x cols matrix with orthonormal rows (rows <= cols) or columns."""
    q, _ = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    return q.T if rows <= cols else q


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Kernel of conv(conv(x, inner, 1), outer, S): taps add, channel matrices multiply."""
    d = outer.ndim - 2
    ks = tuple(a + b - 1 for a, b in zip(outer.shape[2:], inner.shape[2:]))
    out = np.zeros((outer.shape[0], inner.shape[1], *ks))
    for a in np.ndindex(*outer.shape[2:]):
        for b in np.ndindex(*inner.shape[2:]):
            t = tuple(ai + bi for ai, bi in zip(a, b))
            out[(slice(None), slice(None), *t)] += outer[(..., *a)] @ inner[(..., *b)]
    assert out.ndim == d + 2
    return out


def paraunitary(n: int, d: int, factors: int, rng: np.random.Generator) -> np.ndarray:
    """Stride-1 orthogonal n -> n kernel: products of Q (I - P + P z_j) Q' (size 2 per factor).

    Its symbol is unitary at every frequency, so the layer is orthogonal for every N.
    """
    kernel = _orthonormal(n, n, rng).reshape(n, n, *(1,) * d)
    for f in range(factors):
        axis = f % d
        v = _orthonormal(n, max(1, n // 2), rng)  # n x n/2, orthonormal columns
        proj = v @ v.T
        shape = [2 if j == axis else 1 for j in range(d)]
        step = np.zeros((n, n, *shape))
        first = (slice(None), slice(None)) + (0,) * d
        second = (slice(None), slice(None)) + tuple(1 if j == axis else 0 for j in range(d))
        step[first] = np.eye(n) - proj
        step[second] = proj
        step = compose(_orthonormal(n, n, rng).reshape(n, n, *(1,) * d), step)
        kernel = compose(step, kernel)
    return kernel


def space_to_depth(m: int, c: int, stride: int, d: int, k: int, rng: np.random.Generator):
    """K[m, (c, a)] = Q[m, (c, a)] on an S^d block of taps: A = blockdiag(Q) up to order."""
    q = _orthonormal(m, c * stride**d, rng).reshape((m, c) + (stride,) * d)
    kernel = np.zeros((m, c) + (k,) * d)
    offset = rng.integers(0, k - stride + 1)
    kernel[(slice(None), slice(None)) + (slice(offset, offset + stride),) * d] = q
    return kernel


def orthogonal_examples():
    rng = np.random.default_rng(7)
    ex = []
    # one orthonormal matrix at one tap: RO (M <= C) for any stride, CO (M >= C) for S = 1
    one_tap = np.zeros((2, 3, 3, 3))
    one_tap[:, :, 0, 2] = _orthonormal(2, 3, rng)
    ex.append(("one-tap RO S=2", one_tap, 2))
    co = np.zeros((5, 3, 4))
    co[:, :, 1] = _orthonormal(5, 3, rng)
    ex.append(("one-tap CO k=4", co, 1))
    # paraunitary stride 1: k = 2 (even) and 3, 1-D and 2-D
    ex.append(("paraunitary 1-D k=3", paraunitary(4, 1, 2, rng), 1))
    ex.append(("paraunitary 2-D k=2", paraunitary(4, 2, 2, rng), 1))
    # space-to-depth o paraunitary: stride S with overlapping taps (k = S + 1 or S + 2)
    inner = paraunitary(2, 2, 2, rng)  # 2 -> 2, k = 2 x 2
    ex.append(("square S=2 k=3", compose(space_to_depth(8, 2, 2, 2, 2, rng), inner), 2))
    ex.append(("RO S=2 k=3", compose(space_to_depth(6, 2, 2, 2, 2, rng), inner), 2))
    ex.append(("CO S=2 k=3", compose(space_to_depth(11, 2, 2, 2, 2, rng), inner), 2))
    inner1 = paraunitary(2, 1, 2, rng)  # 1-D, k = 3
    ex.append(("square S=3 k=5", compose(space_to_depth(6, 2, 3, 1, 3, rng), inner1), 3))
    ex.append(("CO S=3 k=5", compose(space_to_depth(7, 2, 3, 1, 3, rng), inner1), 3))
    return ex


# ------------------------------------------------------------------------------ tests
IDENTITY_CASES = [
    # (d, stride, k, M, C)
    (1, 1, 3, 2, 3),
    (1, 1, 4, 5, 2),
    (1, 2, 3, 3, 2),
    (1, 2, 4, 4, 2),
    (1, 2, 5, 6, 2),
    (1, 3, 2, 2, 2),
    (1, 3, 6, 8, 2),
    (2, 1, 2, 3, 2),
    (2, 1, 3, 2, 2),
    (2, 2, 3, 8, 2),
    (2, 2, 4, 3, 1),
    (2, 2, 4, 6, 1),
    (2, 3, 3, 2, 1),
]


@pytest.mark.parametrize(("d", "stride", "k", "m", "c"), IDENTITY_CASES)
def test_err_f_squared_equals_n_d_lorth(x64, d, stride, k, m, c):
    # Achour et al. 2022, L_orth identity: (err_F^N)^2 = N^d L_orth(K) for every N >= 2r + 1,
    # with err_F from the dense float64 layer matrix
    rng = np.random.default_rng(100 * d + 10 * stride + k)
    kernel = rng.standard_normal((m, c) + (k,) * d) / np.sqrt(c * k**d)
    value = float(lorth(jnp.asarray(kernel), stride))
    np.testing.assert_allclose(value, paper_lorth(kernel, stride), rtol=1e-11)
    r = (k - 1) // stride
    for big_n in (2 * r + 1, 2 * r + 2):
        a = conv_matrix(kernel, stride * big_n, stride)
        gram = a @ a.T if m <= c * stride**d else a.T @ a
        err_f_sq = np.sum((gram - np.eye(gram.shape[0])) ** 2)
        np.testing.assert_allclose(err_f_sq, big_n**d * value, rtol=1e-10)


def test_identity_fails_below_2r_plus_1(x64):
    # the identity needs N >= 2r + 1: at N = 2r, wrapped-around taps overlap
    kernel = np.random.default_rng(0).standard_normal((2, 2, 5))
    a = conv_matrix(kernel, 4, 1)  # r = 2, N = 4 < 5
    err_f_sq = np.sum((a @ a.T - np.eye(a.shape[0])) ** 2)
    assert abs(err_f_sq - 4 * float(lorth(kernel, 1))) > 1e-3 * err_f_sq


@pytest.mark.parametrize(("name", "kernel", "stride"), orthogonal_examples())
def test_orthogonal_kernels_have_zero_lorth(x64, name, kernel, stride):
    d = kernel.ndim - 2
    m, c = kernel.shape[:2]
    # independent check of the construction: the dense matrix is orthogonal
    a = conv_matrix(kernel, stride * 3, stride)
    gram = a @ a.T if m <= c * stride**d else a.T @ a
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-12)

    @jax.jit  # one compiled program per kernel: float64 lorth, spectrum, errors; float32 lorth
    def measures(k64, k32):
        return (
            lorth(k64, stride),
            singular_values(k64, stride * 2, stride),
            orthogonality_errors(k64, stride * 5, stride),
            lorth(k32, stride),
        )

    value, sv, errs, value32 = measures(jnp.asarray(kernel), jnp.asarray(kernel, jnp.float32))
    assert value.dtype == jnp.float64 and value32.dtype == jnp.float32
    assert abs(float(value)) < 1e-24
    # orthogonal at every size, including N < 2r + 1
    np.testing.assert_allclose(sv, 1.0, atol=1e-12)
    assert max(errs) < 1e-12
    # float32: the regularizer vanishes to float32 precision
    assert abs(float(value32)) < 1e-10


@pytest.mark.parametrize(
    ("m", "c", "k", "stride", "d", "bound"),
    [
        (5, 2, 2, 3, 1, 5 - 2 * 2),  # impossible RO (C k^d < M <= C S^d): L >= M - C k^d
        (9, 1, 2, 3, 2, 9 - 1 * 4),  # impossible RO, 2-D
        (8, 2, 1, 2, 1, 2 * (2 - 1)),  # impossible CO (S > k): L >= C (S^d - k^d)
        (20, 2, 2, 3, 2, 2 * (9 - 4)),
    ],
)
def test_lorth_lower_bound_when_impossible(m, c, k, stride, d, bound):
    # S > k: C (S^d - k^d) polyphase columns vanish, so some singular values are 0
    rng = np.random.default_rng(5)
    for _ in range(3):
        kernel = jnp.asarray(rng.standard_normal((m, c) + (k,) * d), jnp.float32)
        assert float(lorth(kernel, stride)) >= bound - 1e-4
        assert float(lorth(kernel / 10, stride)) >= bound - 1e-4


def test_lorth_gradient_and_jit(x64, maybe_jit):
    rng = np.random.default_rng(3)
    for shape, stride in (((3, 2, 3, 3), 2), ((7, 2, 4), 2)):  # RO and CO branches
        kernel = jnp.asarray(rng.standard_normal(shape) / 3)
        fn = maybe_jit(lambda k, s=stride: lorth(k, s))
        np.testing.assert_allclose(fn(kernel), paper_lorth(np.asarray(kernel), stride))
        check_grads(fn, (kernel,), order=1, modes=("rev",), atol=1e-6, rtol=1e-6)


def test_lorth_float32_dtype_and_bad_input():
    value = lorth(jnp.ones((2, 2, 3, 3), jnp.float32), 1)
    assert value.dtype == jnp.float32 and value.shape == ()
    assert jax.jit(lambda k: lorth(k, 2))(jnp.ones((2, 2, 3, 3))).shape == ()
    with pytest.raises(ValueError, match=r"stride must be a positive integer, got 0"):
        lorth(jnp.ones((2, 2, 3, 3)), 0)
    with pytest.raises(ValueError, match=r"kernel must have shape \(M, C, k_1, ..., k_d\)"):
        lorth(jnp.ones((2, 2)), 1)
