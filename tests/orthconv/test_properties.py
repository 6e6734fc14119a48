"""Property tests (hypothesis): the conv adjoint identity and err_F^2 = N^d L_orth."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxorth._precision import float64
from jaxorth.orthconv import conv, conv_matrix, conv_transpose, lorth


@settings(max_examples=20, deadline=None, database=None)
@given(
    d=st.integers(1, 2),
    stride=st.integers(1, 3),
    k=st.integers(1, 4),
    m=st.integers(1, 4),
    c=st.integers(1, 4),
    big_n=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_conv_transpose_is_the_adjoint(d, stride, k, m, c, big_n, seed):
    # <conv(x, K), y> = <x, conv_transpose(y, K)> for every shape and stride (float64)
    rng = np.random.default_rng(seed)
    n = stride * big_n
    with float64():
        kernel = jnp.asarray(rng.standard_normal((m, c) + (k,) * d))
        x = jnp.asarray(rng.standard_normal((2, c) + (n,) * d))
        y = jnp.asarray(rng.standard_normal((2, m) + (big_n,) * d))
        # both sides in one compiled program (one compilation per drawn shape, not two)
        pair = jax.jit(
            lambda x, y, kernel: (
                jnp.vdot(conv(x, kernel, stride), y),
                jnp.vdot(x, conv_transpose(y, kernel, stride)),
            )
        )
        lhs, rhs = (float(v) for v in pair(x, y, kernel))
    scale = float(np.linalg.norm(kernel) * np.linalg.norm(x) * np.linalg.norm(y))
    assert abs(lhs - rhs) <= 1e-12 * max(scale, 1.0) * k**d


@settings(max_examples=20, deadline=None, database=None)
@given(
    d=st.integers(1, 2),
    stride=st.integers(1, 2),
    k=st.integers(1, 4),
    m=st.integers(1, 3),
    c=st.integers(1, 3),
    extra=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_err_f_squared_is_n_d_lorth(d, stride, k, m, c, extra, seed):
    # Achour, Malgouyres & Mamalet (JMLR 2022): (err_F^N)^2 = N^d L_orth(K), N >= 2r + 1,
    # err_F of the dense layer: ||A A^T - I||_F (RO, M <= C S^d) or ||A^T A - I||_F (CO)
    rng = np.random.default_rng(seed)
    kernel = rng.standard_normal((m, c) + (k,) * d) / np.sqrt(c * k**d)
    big_n = 2 * ((k - 1) // stride) + 1 + extra
    with float64():
        value = float(lorth(jnp.asarray(kernel), stride))
        a = np.asarray(conv_matrix(kernel, stride * big_n, stride))
    gram = a @ a.T if m <= c * stride**d else a.T @ a
    err_f_sq = float(np.sum((gram - np.eye(len(gram))) ** 2))
    np.testing.assert_allclose(err_f_sq, big_n**d * value, rtol=1e-9, atol=1e-9)
