"""Existence of orthogonal circular convolutions (Achour et al. 2022, circular padding)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from jaxorth.orthconv import (
    SquareOrthogonalConvWarning,
    check_orthogonal_conv,
    conv_matrix,
    orthogonal_conv_exists,
)

# (M, C, k, S, d, exists, kind): RO iff M <= C S^d; RO needs M <= C k^d, CO needs S <= k
TABLE = [
    (64, 64, 3, 1, 2, True, "RO"),  # square, S = 1
    (32, 64, 1, 1, 2, True, "RO"),  # RO 1x1
    (128, 64, 3, 1, 2, True, "CO"),  # CO stride 1
    (128, 64, 1, 1, 2, True, "CO"),  # CO 1x1 (S = k)
    (256, 64, 2, 2, 2, True, "RO"),  # square, S = k = 2
    (512, 64, 3, 2, 2, True, "CO"),  # CO, S < k
    (512, 64, 2, 2, 2, True, "CO"),  # CO, S = k
    (300, 32, 3, 4, 2, False, "RO"),  # RO: 300 > C k^2 = 288 (brief's example)
    (288, 32, 3, 4, 2, True, "RO"),  # RO: exactly C k^2
    (512, 32, 3, 4, 2, False, "RO"),  # square with S > k
    (600, 32, 3, 4, 2, False, "CO"),  # CO with S = 4 > k = 3
    (4, 1, 1, 2, 2, False, "RO"),  # square, k = 1 < S = 2
    (1, 1, 1, 2, 2, True, "RO"),  # RO, k = 1 < S: pick one pixel per block
    (5, 2, 2, 3, 1, False, "RO"),  # 1-D: C k = 4 < M = 5 <= C S = 6
    (4, 2, 2, 3, 1, True, "RO"),  # 1-D: M = C k
    (7, 2, 2, 3, 1, False, "CO"),  # 1-D: CO with S > k
    (7, 2, 3, 3, 1, True, "CO"),  # 1-D: CO with S = k
    (9, 1, 2, 3, 2, False, "RO"),  # 2-D square, S > k
    (30, 1, 3, 3, 3, True, "CO"),  # 3-D: C S^3 = 27 < 30, S = k
    (30, 1, 2, 3, 3, False, "CO"),  # 3-D: S > k
    (8, 1, 2, 3, 3, True, "RO"),  # 3-D: M = C k^3 <= C S^3
]


@pytest.mark.parametrize(("m", "c", "k", "s", "d", "exists", "kind"), TABLE)
def test_existence_table(m, c, k, s, d, exists, kind):
    assert orthogonal_conv_exists(m, c, k, s, d) is exists
    if exists:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert check_orthogonal_conv(m, c, k, s, d, warn_square=False) == kind
    else:
        with pytest.raises(ValueError, match=f"M={m}, C={c}, k={k}, stride={s}, ndim={d}"):
            check_orthogonal_conv(m, c, k, s, d)


def test_messages_name_condition_and_numbers(user_checks):
    with pytest.raises(
        ValueError,
        match=r"row-orthogonal \(M <= C\*S\^d = 512\) needs M <= C\*k\^2 = 288",
    ):
        check_orthogonal_conv(300, 32, 3, 4, 2)
    with pytest.raises(
        ValueError, match=r"column-orthogonal \(M > C\*S\^d = 512\) needs stride <= k = 3"
    ):
        check_orthogonal_conv(600, 32, 3, 4, 2)
    with (
        user_checks(),
        pytest.raises(ValueError, match=r"out_channels must be a positive integer, got 0"),
    ):
        orthogonal_conv_exists(0, 3, 3)
    with (
        user_checks(),
        pytest.raises(ValueError, match=r"kernel_size must be a positive integer, got 2.5"),
    ):
        orthogonal_conv_exists(4, 3, 2.5)
    with (
        user_checks(),
        pytest.raises(ValueError, match=r"stride must be a positive integer, got True"),
    ):
        check_orthogonal_conv(4, 3, 3, True)


def test_square_case_warns_and_can_be_silenced():
    with pytest.warns(SquareOrthogonalConvWarning, match=r"square case M = C\*S\^d = 256"):
        assert check_orthogonal_conv(256, 64, 3, 2) == "RO"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_orthogonal_conv(256, 64, 3, 2, warn_square=False)
        check_orthogonal_conv(255, 64, 3, 2)  # not square: no warning
        assert orthogonal_conv_exists(256, 64, 3, 2)  # never warns
    assert issubclass(SquareOrthogonalConvWarning, UserWarning)


@pytest.mark.parametrize(("m", "c", "k", "s", "d"), [(5, 2, 2, 3, 1), (7, 2, 2, 3, 1)])
def test_impossible_configs_are_rank_deficient(m, c, k, s, d):
    # the obstruction behind the theorem when S > k: every layer of that shape has a
    # rank < min(M N, C S N), so no kernel is orthogonal (checked on random kernels)
    rng = np.random.default_rng(0)
    big_n = 3
    a = conv_matrix(rng.standard_normal((m, c) + (k,) * d), s * big_n, s)
    rank = np.linalg.matrix_rank(a)
    assert rank <= min(m, c * k**d) * big_n**d < min(a.shape)
