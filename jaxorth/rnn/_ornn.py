"""Full-precision orthogonal RNN cell: ``W = expm(skew A)`` (expRNN) or Cayley.

The cell of the model ``h_t = W h_{t-1} + U x_t + b`` (:class:`~jaxorth.rnn.SequenceModel`)
with ``W`` orthogonal, built from a free matrix ``A`` by the exponential of its
skew-symmetric part (expRNN, Lezcano-Casado & Martinez-Rubio, ICML 2019;
:func:`jaxorth.linalg.skew_expm`) or by the Cayley transform
``W = (I + A)^{-1} (I - A)`` (scoRNN-style, Helfrich et al. 2018;
:func:`jaxorth.linalg.cayley`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jaxtyping import Array, Float

from jaxorth._checks import positive_int
from jaxorth.linalg import cayley, skew, skew_expm

from ._sequence import Recurrence, check_state_width

__all__ = ["ORNNCell", "henaff_skew_init"]


def henaff_skew_init(key: jax.Array, n: int) -> np.ndarray:
    """Skew matrix whose exponential is a block-diagonal rotation with random angles.

    The 2x2 blocks ``[[0, t], [-t, 0]]`` have ``t`` uniform in ``[-pi, pi]`` (Henaff,
    Szlam & LeCun 2016, used by expRNN for the copy task). ``expm`` of the result is
    orthogonal with eigenvalues spread on the unit circle. Returned as the free
    parameter ``A0`` with ``skew(A0) = A0``, in the default float dtype (float64 with
    ``jax_enable_x64``).

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> from jaxorth.rnn import henaff_skew_init
    >>> a = henaff_skew_init(jax.random.key(0), 4)
    >>> bool(np.allclose(a, -a.T)), bool((a[0, 2:] == 0).all())  # skew, 2 x 2 blocks
    (True, True)
    """
    angles = np.asarray(jax.random.uniform(key, (n // 2,), minval=-math.pi, maxval=math.pi))
    a = np.zeros((n, n), dtype=angles.dtype)
    for i, t in enumerate(angles):
        a[2 * i, 2 * i + 1] = t
        a[2 * i + 1, 2 * i] = -t
    return a


class ORNNCell(nnx.Module):
    """Orthogonal recurrent matrix ``W = expm(skew(A))`` or ``cayley(skew(A))``.

    Parameters
    ----------
    hidden_size : int
        ``n``, the size of the hidden state.
    param : {"expm", "cayley"}
        Map from skew matrices to orthogonal matrices.
    init : {"henaff", "zeros", "random"}
        Initial ``A``: block rotations with random angles, zero (``W = I``), or a small
        Gaussian.
    rngs : nnx.Rngs
        Randomness for the initialisation.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.rnn import ORNNCell
    >>> W = ORNNCell(8, rngs=nnx.Rngs(0)).matrix()  # expm of a skew matrix
    >>> bool(jnp.allclose(W @ W.T, jnp.eye(8), atol=1e-5))
    True
    """

    def __init__(
        self,
        hidden_size: int,
        *,
        param: str = "expm",
        init: str = "henaff",
        rngs: nnx.Rngs,
    ):
        hidden_size = positive_int(hidden_size, "hidden_size")
        if param not in ("expm", "cayley"):
            raise ValueError(f"param must be 'expm' or 'cayley', got {param!r}")
        key = rngs.params()
        if init == "henaff":
            a0 = jnp.asarray(henaff_skew_init(key, hidden_size))
            if param == "cayley":
                # cayley(A) = (I - A)(I + A)^-1 rotates by -2 atan(t): pick t = tan(-theta/2)
                # clipped away from the pole so the init is the same rotation family.
                a0 = jnp.tan(jnp.clip(-a0 / 2, -1.4, 1.4))
                a0 = skew(a0)
        elif init == "zeros":
            a0 = jnp.zeros((hidden_size, hidden_size))
        elif init == "random":
            a0 = skew(jax.random.normal(key, (hidden_size, hidden_size)) / hidden_size)
        else:
            raise ValueError(f"init must be henaff, zeros or random; got {init!r}")
        self.hidden_size = hidden_size
        self.param = param
        self.a = nnx.Param(a0)

    def matrix(self) -> Float[Array, "n n"]:
        """The orthogonal recurrent matrix ``W``."""
        a = self.a[...]
        return skew_expm(a) if self.param == "expm" else cayley(a)

    def recurrence(self) -> Recurrence:
        """``h -> h W^T`` for a batch ``(..., n)``; another state width raises ValueError."""
        w_t, n = self.matrix().T, self.hidden_size

        def step(h: Array) -> Array:
            check_state_width(h, n)
            return h @ w_t

        return step
