"""HadamRNN and Block-HadamRNN cells: binary / sparse ternary orthogonal recurrences.

Foucault, Mamalet and Malgouyres, "HadamRNN: Binary and Sparse Ternary Orthogonal RNNs",
ICLR 2025. The recurrent matrix is a signed, normalised Sylvester Hadamard matrix

- HadamRNN: ``W = diag(sign u) H_n / sqrt(n)``, entries ``+-1/sqrt(n)`` (binary);
- Block-HadamRNN: ``W = diag(sign u) (I_{n/m} kron H_m) / sqrt(m)``, entries
  ``{0, +-1/sqrt(m)}`` with density ``m / n`` (sparse ternary);

both exactly orthogonal for every ``u``. Only the real vector ``u`` is trained, through a
straight-through estimator of ``sign`` (:func:`jaxorth.quant.ste_sign`). The recurrence
``h -> h W^T = sign(u) * FWHT(h) / sqrt(n)`` uses the fast Walsh-Hadamard transform
(:func:`jaxorth.linalg.fwht`): ``O(n log n)`` per step, no ``n x n`` matrix. Inside the
sequence model's scan, blocks of 32 to 4096 use :func:`factored_layout` instead: the
same transform as two Kronecker-factor matmuls on states stored as ``(a, B, b)``,
``n (a + b)`` operations per step with ``a, b ~ sqrt(m)`` and no per-step transpose.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float

from jaxorth._checks import int_at_least, positive_int, power_of_two
from jaxorth.linalg import block_fwht, fwht, sylvester_hadamard
from jaxorth.quant import ste_sign

from ._sequence import (
    IntRecurrence,
    Recurrence,
    StateLayout,
    check_state_width,
    vector_layout,
)

__all__ = ["BlockHadamRNNCell", "HadamRNNCell"]


# Initialisations of the sign vector ``u`` (``init=`` of the Hadamard cells).
INITS = ("random", "uniform", "ones")


def _init_u(key: jax.Array, n: int, init: str) -> jax.Array:
    if init == "random":
        return jax.random.normal(key, (n,))
    if init == "uniform":  # Xavier-uniform of a (1, n) tensor, as the authors' code
        bound = math.sqrt(6.0 / (n + 1))
        return jax.random.uniform(key, (n,), minval=-bound, maxval=bound)
    if init == "ones":
        return jnp.ones((n,))
    raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {init!r}")


# Largest transform applied as two dense Kronecker factors in the scan layout (factors of
# at most 64 x 64); blocks of at most 16 are one small matmul in the (B, n) layout.
_FACTORED_MIN, _FACTORED_MAX = 32, 4096


def factored_layout(signs: Float[Array, " n"], m: int) -> StateLayout:
    """Scan layout ``(a, g, B, b)`` for ``h -> diag(signs) (I_g kron H_m) h``.

    (``(a, B, b)`` for a single block, ``g = 1``.)

    ``H_m = H_a kron H_b`` (``m = a b``, ``a <= b`` powers of 2, Fino and Algazi 1976),
    ``g = n / m`` blocks. With the batch axis between the two factor axes, ``H_b`` is a
    matmul on the trailing axis of an ``(a g B, b)`` matrix and ``H_a`` a matmul on the
    leading axis of an ``(a, g B b)`` matrix: ``a + b`` operations per entry and no
    transpose inside the time loop (on a CPU the per-step transposes of the radix form
    cost more than its arithmetic). ``signs`` already carries the ``1/sqrt(m)``.
    """
    n = signs.shape[0]
    g = n // m
    a = 2 ** (int(math.log2(m)) // 2)
    b = m // a
    ha = sylvester_hadamard(a, dtype=signs.dtype)
    hb = sylvester_hadamard(b, dtype=signs.dtype)
    if g == 1:
        # one block: ``(a, B, b)`` (a size-1 axis in the middle costs a copy per step)
        s1 = signs.reshape(a, 1, b)

        def to_state(h: Array) -> Array:
            check_state_width(h, n)
            return jnp.swapaxes(h.reshape(h.shape[0], a, b), 0, 1)

        def to_vectors(st: Array) -> Array:
            return jnp.swapaxes(st, 0, 1).reshape(st.shape[1], n)

        def step(st: Array) -> Array:
            batch = st.shape[1]
            y = (st.reshape(a * batch, b) @ hb).reshape(a, batch * b)
            return (ha @ y).reshape(a, batch, b) * s1

        def readout(st: Array, v: Array) -> Array:
            return jnp.einsum("aBj,ajo->Bo", st, v.reshape(a, b, v.shape[-1]))

        return StateLayout(to_state, to_vectors, step, readout, batch_axis=1)

    s = jnp.transpose(signs.reshape(g, a, 1, b), (1, 0, 2, 3))

    def to_state(h: Array) -> Array:
        check_state_width(h, n)
        return jnp.transpose(h.reshape(h.shape[0], g, a, b), (2, 1, 0, 3))

    def to_vectors(st: Array) -> Array:
        return jnp.transpose(st, (2, 1, 0, 3)).reshape(st.shape[2], n)

    def step(st: Array) -> Array:
        batch = st.shape[2]
        y = (st.reshape(a * g * batch, b) @ hb).reshape(a, g * batch * b)
        return (ha @ y).reshape(a, g, batch, b) * s

    def readout(st: Array, v: Array) -> Array:
        return jnp.einsum("agBj,gajo->Bo", st, v.reshape(g, a, b, v.shape[-1]))

    return StateLayout(to_state, to_vectors, step, readout, batch_axis=2)


def _lift(s: Array, h: Array) -> Array:
    # explicit broadcasting of the (n,) signs against a (..., n) batch
    return s.reshape((1,) * (h.ndim - 1) + s.shape)


class _SignedHadamardCell(nnx.Module):
    """Shared parts: the trained vector ``u`` and its STE signs."""

    hidden_size: int
    block_size: int

    def __init__(
        self,
        hidden_size: int,
        block_size: int,
        clip: float | None,
        init: str,
        radix: int,
        rngs: nnx.Rngs,
    ):
        if clip is not None and not clip > 0:
            raise ValueError(f"clip must be positive or None, got {clip!r}")
        radix = int_at_least(power_of_two(radix, "radix", "the FWHT factors"), "radix", 2)
        self.hidden_size = hidden_size
        self.block_size = block_size
        self.clip = None if clip is None else float(clip)
        self.radix = int(radix)
        self.u = nnx.Param(_init_u(rngs.params(), hidden_size, init))

    def signs(self) -> Float[Array, " n"]:
        """``sign(u)`` in ``{-1, +1}`` (straight-through gradient)."""
        return ste_sign(self.u[...], self.clip)

    def _transform(self, h: Array) -> Array:
        m = self.block_size
        if m == self.hidden_size:
            return fwht(h, radix=self.radix)
        return block_fwht(h, m, radix=self.radix)

    def recurrence(self) -> Recurrence:
        """``h -> h W^T = sign(u) * FWHT_m(h) / sqrt(m)`` for a batch ``(B, n)``."""
        s, n = self.signs() * (1.0 / math.sqrt(self.block_size)), self.hidden_size

        def step(h: Array) -> Array:
            check_state_width(h, n)
            return self._transform(h) * _lift(s, h)

        return step

    def state_layout(self) -> StateLayout:
        """Scan layout: :func:`factored_layout` for blocks of 32 to 4096, else ``(B, n)``."""
        m = self.block_size
        if _FACTORED_MIN <= m <= _FACTORED_MAX:
            return factored_layout(self.signs() * (1.0 / math.sqrt(m)), m)
        return vector_layout(self.recurrence())

    def integer_recurrence(self) -> tuple[IntRecurrence, Float[Array, ""] | float]:
        """Integer form ``h W^T = scale * f(h)`` with ``f`` exact on ``int32`` codes.

        ``f(c) = sign(u) * FWHT_m(c)`` uses only additions and subtractions; ``scale =
        1 / sqrt(m)``.
        """
        s, n = jnp.where(self.u[...] >= 0, 1, -1).astype(jnp.int32), self.hidden_size

        def step(c: Array) -> Array:
            check_state_width(c, n)
            return self._transform(c) * _lift(s, c)

        return step, 1.0 / math.sqrt(self.block_size)

    def matrix(self) -> Float[Array, "n n"]:
        """The recurrent matrix ``W`` as a dense array (for checks and export only).

        In the dtype of ``u`` (float64 when the cell was built with ``jax_enable_x64``):
        every factor, including ``1 / sqrt(m)``, is formed in that dtype.
        """
        n, m = self.hidden_size, self.block_size
        signs = self.signs()
        hm = sylvester_hadamard(m, dtype=signs.dtype) * jnp.asarray(1 / math.sqrt(m), signs.dtype)
        dense = hm if m == n else jnp.kron(jnp.eye(n // m, dtype=signs.dtype), hm)
        return signs[:, None] * dense

    def size_bits(self) -> int:
        """Bits of the recurrent matrix: one per nonzero ``+-1`` entry, ``n m``.

        (The convention of a binary / ternary matrix stored for a generic accelerator;
        the structure itself needs only the ``n`` signs of ``u``.)
        """
        return self.hidden_size * self.block_size


class HadamRNNCell(_SignedHadamardCell):
    """HadamRNN recurrent matrix ``W = diag(sign u) H_n / sqrt(n)`` (binary, orthogonal).

    Foucault, Mamalet and Malgouyres, ICLR 2025, Section 4 (Sylvester Hadamard matrix
    with learned row signs). Applied by the fast Walsh-Hadamard transform.

    Parameters
    ----------
    hidden_size : int
        ``n``, a power of 2.
    clip : float, optional
        Clip the straight-through gradient of ``sign`` to ``|u| <= clip``.
    init : {"random", "uniform", "ones"}
        Initial ``u``: standard normal (random signs); uniform on ``[-a, a]`` with
        ``a = sqrt(6 / (n + 1))`` (random signs, as the authors' code: Xavier-uniform of
        a ``(1, n)`` tensor, ``a = 0.108`` at ``n = 512``), so that Adam flips signs from
        the first steps instead of after ``~|u| / lr`` steps; or all ones
        (``W = H_n / sqrt n``). With ``random`` and ``lr = 1e-3`` no sign flips before
        step ~2,000 on sequential MNIST (hidden 512), then the first flips change ``W``
        of a model fitted to fixed signs (see ``experiment=smnist``'s README notes).
    radix : int
        Largest Kronecker factor of :meth:`recurrence` (:func:`jaxorth.linalg.fwht` on
        ``(B, n)`` batches; 64 allows its fastest measured split for every ``n``). The
        sequence model's scan uses :meth:`state_layout` instead, whose two factors are
        fixed by ``n``.
    rngs : nnx.Rngs

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.rnn import HadamRNNCell
    >>> W = HadamRNNCell(8, rngs=nnx.Rngs(0)).matrix()  # diag(sign u) H_8 / sqrt(8)
    >>> bool(jnp.allclose(jnp.abs(W), 8**-0.5)), bool(jnp.allclose(W @ W.T, jnp.eye(8), atol=1e-6))
    (True, True)
    """

    def __init__(
        self,
        hidden_size: int,
        *,
        clip: float | None = None,
        init: str = "random",
        radix: int = 64,
        rngs: nnx.Rngs,
    ):
        positive_int(hidden_size, "hidden_size")
        power_of_two(hidden_size, "hidden_size", "HadamRNN (Sylvester H_n)")
        super().__init__(hidden_size, hidden_size, clip, init, radix, rngs)


class BlockHadamRNNCell(_SignedHadamardCell):
    """Block-HadamRNN matrix ``W = diag(sign u) (I_{n/m} kron H_m) / sqrt(m)``.

    Sparse ternary (entries ``0, +-1/sqrt(m)``, density ``m / n``) and orthogonal
    (Foucault, Mamalet and Malgouyres, ICLR 2025). Applied block by block with the fast
    transform.

    Parameters
    ----------
    hidden_size : int
        ``n``, a multiple of ``block_size``.
    block_size : int
        ``m``, a power of 2 dividing ``n``.
    clip, init, radix, rngs
        As in :class:`HadamRNNCell`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.rnn import BlockHadamRNNCell
    >>> W = BlockHadamRNNCell(8, 2, rngs=nnx.Rngs(0)).matrix()  # four 2 x 2 Hadamard blocks
    >>> float((W != 0).mean()), bool(jnp.allclose(W @ W.T, jnp.eye(8), atol=1e-6))
    (0.25, True)
    """

    def __init__(
        self,
        hidden_size: int,
        block_size: int,
        *,
        clip: float | None = None,
        init: str = "random",
        radix: int = 64,
        rngs: nnx.Rngs,
    ):
        positive_int(hidden_size, "hidden_size")
        power_of_two(block_size, "block_size", "Block-HadamRNN (Sylvester H_m)")
        if hidden_size % block_size:
            raise ValueError(
                f"block_size = m must divide hidden_size = n for Block-HadamRNN: "
                f"m={block_size}, n={hidden_size}, n mod m = {hidden_size % block_size}"
            )
        super().__init__(hidden_size, block_size, clip, init, radix, rngs)
