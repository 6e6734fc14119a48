r"""Monotone reference functions on boxes: the benchmark targets of the overestimation study.

Each :class:`MonotoneFunction` is a vectorised numpy function ``f(x) -> (B,)`` of
``x`` of shape ``(B, d)`` with its box and the sense of monotonicity of each coordinate.
Synthetic ones cover the three regimes where majoring points behave differently
(smooth, steep, piecewise constant with jumps) in d = 1, 2, 3; ``stopping_distance`` is
a real-world model with a decreasing coordinate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["FUNCTIONS", "MonotoneFunction", "stopping_distance"]


class MonotoneFunction(NamedTuple):
    """A monotone function on a box.

    Attributes
    ----------
    f : callable
        ``f(x) -> (B,)`` for ``x`` of shape ``(B, d)`` (numpy, float64).
    lower, upper : tuple of float
        The box.
    directions : tuple of int
        ``+1`` where ``f`` is non-decreasing in that coordinate, ``-1`` where it is
        non-increasing.
    description : str
        The formula, for tables and plots.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.overestimate import FUNCTIONS, MonotoneFunction
    >>> f = MonotoneFunction(lambda x: x[:, 0] - x[:, 1], (0.0, 0.0), (1.0, 1.0), (1, -1), "x - y")
    >>> f.f(np.array([[1.0, 0.25]])).tolist(), f.directions
    ([0.75], (1, -1))
    >>> FUNCTIONS["steep_1d"].description
    'tanh(40(x - 0.4))'
    """

    f: Callable[[np.ndarray], np.ndarray]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    directions: tuple[int, ...]
    description: str

    @property
    def d(self) -> int:
        """The input dimension."""
        return len(self.lower)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def stopping_distance(x: np.ndarray) -> np.ndarray:
    r"""Stopping sight distance (m) of a car, AASHTO's model.

    ``d = 0.278 V t + 0.039 V^2 / a`` with ``V`` the speed (km/h), ``t`` the
    perception-reaction time (s) and ``a`` the deceleration rate (m/s^2): the brake
    reaction distance plus the braking distance (AASHTO, *A Policy on Geometric Design
    of Highways and Streets*, 2011, eq. 3-2; its design values are ``t = 2.5 s``,
    ``a = 3.4 m/s^2``). Increasing in ``V`` and ``t``, decreasing in ``a``.
    ``x[:, 0] = V``, ``x[:, 1] = t``, ``x[:, 2] = a``.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.overestimate import stopping_distance
    >>> d = stopping_distance(np.array([[50.0, 2.5, 3.4], [100.0, 2.5, 3.4]]))  # faster: longer
    >>> bool(d[1] > d[0])
    True
    """
    v, t, a = x[:, 0], x[:, 1], x[:, 2]
    return 0.278 * v * t + 0.039 * v**2 / a


#: The study's reference functions by name.
FUNCTIONS: dict[str, MonotoneFunction] = {
    "smooth_1d": MonotoneFunction(
        lambda x: _sigmoid(6.0 * (x[:, 0] - 0.5)) + 0.5 * x[:, 0],
        (0.0,),
        (1.0,),
        (1,),
        "sigmoid(6(x - 0.5)) + 0.5 x",
    ),
    "steep_1d": MonotoneFunction(
        lambda x: np.tanh(40.0 * (x[:, 0] - 0.4)),
        (0.0,),
        (1.0,),
        (1,),
        "tanh(40(x - 0.4))",
    ),
    "steps_1d": MonotoneFunction(
        lambda x: np.floor(5.0 * x[:, 0]) / 5.0 + 0.1 * x[:, 0],
        (0.0,),
        (1.0,),
        (1,),
        "floor(5x)/5 + 0.1 x",
    ),
    "tanh_2d": MonotoneFunction(
        lambda x: np.tanh(8.0 * (x[:, 0] + 2.0 * x[:, 1] - 1.2)) + 0.3 * x[:, 0],
        (0.0, 0.0),
        (1.0, 1.0),
        (1, 1),
        "tanh(8(x1 + 2 x2 - 1.2)) + 0.3 x1",
    ),
    "steps_2d": MonotoneFunction(
        lambda x: (np.floor(3.0 * x[:, 0]) - np.floor(4.0 * x[:, 1] ** 2)) / 6.0 - 0.5 * x[:, 1],
        (0.0, 0.0),
        (1.0, 1.0),
        (1, -1),
        "(floor(3 x1) - floor(4 x2^2)) / 6 - 0.5 x2 (jumps; decreasing in x2)",
    ),
    "smooth_3d": MonotoneFunction(
        lambda x: (
            x[:, 0] * x[:, 1] * x[:, 2]
            + 0.5 * _sigmoid(10.0 * (x[:, 0] + x[:, 1] - 1.0))
            + 0.2 * x[:, 2]
        ),
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0),
        (1, 1, 1),
        "x1 x2 x3 + 0.5 sigmoid(10(x1 + x2 - 1)) + 0.2 x3",
    ),
    "stopping_distance": MonotoneFunction(
        stopping_distance,
        (30.0, 1.0, 2.5),
        (130.0, 3.0, 6.0),
        (1, 1, -1),
        "AASHTO stopping sight distance 0.278 V t + 0.039 V^2 / a (m): V in [30, 130] km/h, "
        "t in [1, 3] s, a in [2.5, 6] m/s^2",
    ),
}
