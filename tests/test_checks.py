"""jaxorth._checks: the shared argument checks and their messages."""

import numpy as np
import pytest

from jaxorth import _checks as c


@pytest.mark.parametrize("good", [1, 7, np.int64(3)])
def test_positive_int_accepts_and_normalises(good):
    out = c.positive_int(good, "hidden_size")
    assert out == int(good) and type(out) is int


@pytest.mark.parametrize("bad", [0, -3, 2.0, True, "4", None])
def test_positive_int_rejects_naming_the_parameter(bad):
    with pytest.raises(ValueError, match=r"^hidden_size must be a positive integer, got "):
        c.positive_int(bad, "hidden_size")


def test_int_at_least():
    assert c.int_at_least(0, "steps", 0) == 0
    with pytest.raises(ValueError, match=r"T must be an integer >= 2, got 1"):
        c.int_at_least(1, "T", 2)


@pytest.mark.parametrize(("n", "ok"), [(1, True), (2, True), (64, True), (0, False), (96, False)])
def test_is_power_of_two(n, ok):
    assert c.is_power_of_two(n) is ok
    assert all(c.is_power_of_two(2**k) for k in range(20))
    assert not any(c.is_power_of_two(2**k + 1) for k in range(2, 20))


def test_power_of_two_names_the_nearest():
    with pytest.raises(
        ValueError, match=r"n must be a power of 2 for a Sylvester .*got 100 \(nearest: 64 or 128\)"
    ):
        c.power_of_two(100, "n", "a Sylvester Hadamard matrix")
    with pytest.raises(ValueError, match=r"n must be a power of 2, got True$"):
        c.power_of_two(True, "n")


def test_numbers():
    assert c.positive_number(0.5, "lr") == 0.5
    for bad in (0, -1.0, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="lr must be a positive number"):
            c.positive_number(bad, "lr")
    assert c.number_at_least(0, "eps", 0.0) == 0.0
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        c.number_at_least(0, "eps", 0.0, strict=True)


def test_one_of_lists_the_choices():
    assert c.one_of("expm", "param", ("expm", "cayley")) == "expm"
    with pytest.raises(ValueError, match=r"param must be one of 'expm', 'cayley'; got 'qr'"):
        c.one_of("qr", "param", ("expm", "cayley"))


def test_float_vector():
    out = c.float_vector([0, 1.5], "lower")
    assert out.dtype == np.float64 and out.tolist() == [0.0, 1.5]
    with pytest.raises(ValueError, match=r"lower must be a 1-D array of real numbers, got shape"):
        c.float_vector([[0.0, 1.0]], "lower")
    for bad in ("ab", [True, False], [1j, 2.0], None):
        with pytest.raises(ValueError, match=r"lower must be a 1-D array of real numbers"):
            c.float_vector(bad, "lower")
    with pytest.raises(ValueError, match=r"upper must have length d=2, got length 3"):
        c.float_vector([0.0, 1.0, 2.0], "upper", 2, "d")
    with pytest.raises(ValueError, match=r"lower must be finite, got 1 NaN"):
        c.float_vector([0.0, float("nan")], "lower")
