"""lorth_lower_bound (Achour et al. 2022): theorem's values, dense bound, attaining kernels."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxorth.orthconv import (
    conv_matrix,
    lorth,
    lorth_lower_bound,
    minimise_lorth,
    orthogonal_conv_exists,
)


def dense_lorth(kernel: np.ndarray, stride: int, big_n: int) -> float:
    """err_F^2 / N^d of the dense float64 layer (= L_orth for N >= 2r + 1)."""
    m, c = kernel.shape[:2]
    d = kernel.ndim - 2
    a = conv_matrix(kernel, stride * big_n, stride)
    gram = a @ a.T if m <= c * stride**d else a.T @ a
    return float(np.sum((gram - np.eye(len(gram))) ** 2)) / big_n**d


IMPOSSIBLE = [
    # (M, C, k, S, d, bound by hand)
    (5, 2, 2, 3, 1, 5 - 2 * 2),  # RO: C k^d = 4 < M = 5 <= C S^d = 6
    (9, 1, 2, 3, 2, 9 - 4),  # RO, 2-D
    (12, 4, 1, 2, 2, 12 - 4),  # RO, 2-D, k = 1
    (8, 2, 1, 2, 1, 2 * (2 - 1)),  # CO: M > C S^d = 4 and S > k
    (20, 2, 2, 3, 2, 2 * (9 - 4)),  # CO, 2-D
]


@pytest.mark.parametrize(("m", "c", "k", "s", "d", "bound"), IMPOSSIBLE)
def test_bound_values_and_dense_check(x64, m, c, k, s, d, bound):
    assert not orthogonal_conv_exists(m, c, k, s, d)
    assert lorth_lower_bound(m, c, k, s, d) == bound
    rng = np.random.default_rng(m + 10 * c)
    # every kernel is above the bound (dense float64 layer matrix, N = 3 >= 2r + 1 = 1)
    for scale in (1.0, 0.1, 3.0):
        kernel = scale * rng.standard_normal((m, c) + (k,) * d)
        assert dense_lorth(kernel, s, 3) >= bound - 1e-9
        assert float(lorth(jnp.asarray(kernel), s)) >= bound - 1e-9
    # attained: the nonzero M x C k^d polyphase block (k <= S: the kernel itself) with
    # orthonormal columns
    q, _ = np.linalg.qr(rng.standard_normal((m, c * k**d)))
    kernel = q.reshape((m, c) + (k,) * d)
    np.testing.assert_allclose(dense_lorth(kernel, s, 3), bound, atol=1e-10)
    np.testing.assert_allclose(float(lorth(jnp.asarray(kernel), s)), bound, atol=1e-10)


@pytest.mark.parametrize(
    ("m", "c", "k", "s", "d"),
    [(16, 16, 3, 1, 2), (8, 16, 3, 1, 2), (32, 16, 3, 2, 2), (4, 2, 2, 2, 1)],
)
def test_bound_is_zero_when_an_orthogonal_conv_exists(m, c, k, s, d):
    assert orthogonal_conv_exists(m, c, k, s, d)
    assert lorth_lower_bound(m, c, k, s, d) == 0


def test_bound_bad_input(user_checks):
    with (
        user_checks(),
        pytest.raises(ValueError, match="out_channels must be a positive integer, got 0"),
    ):
        lorth_lower_bound(0, 2, 3)
    with (
        user_checks(),
        pytest.raises(ValueError, match="stride must be a positive integer, got 1.5"),
    ):
        lorth_lower_bound(4, 2, 3, 1.5)


def test_minimise_lorth_reaches_the_bound(x64):
    rng = np.random.default_rng(0)
    # valid RO config: the minimiser is an orthogonal layer (dense float64 check)
    kernels = jnp.asarray(rng.standard_normal((2, 2, 4, 2, 2)) / np.sqrt(16))
    final, losses = minimise_lorth(kernels, 1, 80, optax.lbfgs())
    assert losses.shape == (2, 81) and final.shape == kernels.shape
    for kernel in np.asarray(final):
        a = conv_matrix(kernel, 3, 1)
        np.testing.assert_allclose(a @ a.T, np.eye(len(a)), atol=1e-5)
    assert np.all(np.asarray(losses[:, -1]) < 1e-10)
    # impossible CO config [10, 2, 1, 2]: stalls at the bound C (S^2 - k^2) = 6
    kernels = jnp.asarray(rng.standard_normal((2, 10, 2, 1, 1)))
    final, losses = minimise_lorth(kernels, 2, 40, optax.lbfgs())
    np.testing.assert_allclose(np.asarray(losses[:, -1]), 6.0, atol=1e-8)
    assert np.all(np.asarray(losses) >= 6.0 - 1e-9)
    np.testing.assert_allclose([dense_lorth(k, 2, 2) for k in np.asarray(final)], 6.0, atol=1e-8)


@pytest.mark.parametrize("optimizer", [optax.adam(0.05), optax.sgd(0.1)])
def test_minimise_lorth_with_an_optimizer_without_line_search(optimizer):
    # regression: the value and gradient were read from the optimizer's state, which only
    # L-BFGS keeps (experiment.optimizer=adam raised "Value or gradient not found")
    kernels = jnp.full((2, 1, 1, 1, 1), 1.1).at[1].set(0.9)  # L_orth = (k^2 - 1)^2
    final, losses = minimise_lorth(kernels, 1, 30, optimizer)
    assert losses.shape == (2, 31)
    np.testing.assert_allclose(np.asarray(losses[:, 0]), [0.21**2, 0.19**2], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(final).ravel(), 1.0, atol=0.02)
    assert np.all(np.asarray(losses[:, -1]) < np.asarray(losses[:, 0]) / 10)
