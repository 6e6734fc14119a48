"""QORNN: k-bit quantized, approximately orthogonal recurrent matrices.

Foucault, Mamalet and Malgouyres, "Quantized Approximately Orthogonal Recurrent Neural
Networks" (2024). The recurrent matrix used in the forward pass is ``W_q = q_k(W_o)``,
the per-tensor ``k``-bit quantization (:func:`jaxorth.quant.ste_quantize`) of
an orthogonal matrix ``W_o`` built from a free parameter ``W``; the gradient goes
through ``q_k`` by a straight-through estimator. By default (``levels="full"``) ``q_k``
uses the ``2^k`` integer codes ``[-2^{k-1}, 2^{k-1} - 1]`` and the step
``max|W_o| / 2^{k-1}``, as the authors' public code (deel-ai-papers/hadamRNN,
``quantized_layers.py``: ``UniformQuantize`` inside ``QSpectralLinear``, the STE-Bjorck
recurrent layer of ``SpectralQSSM``); ``levels="symmetric"`` is the ``2^k - 1``-code
quantizer with step ``max|W_o| / (2^{k-1} - 1)``. Two ways to build ``W_o``:

- ``method="bjorck"`` (STE-Bjorck): ``W_o = Bjorck(W / ||W||)``, the iterations
  ``W <- 1.5 W - 0.5 W W^T W`` (:func:`jaxorth.linalg.bjorck`), differentiated through.
- ``method="projunn"`` (STE-projUNN): ``W`` is kept orthogonal by projecting it after
  every optimizer step (:func:`project_orthogonal`, the exact projection onto O(n) of
  projUNN, Kiani et al., NeurIPS 2022). The cell also applies the projection lazily in
  the forward pass with a straight-through gradient, ``W_o = W + sg(P(W) - W)``, so that
  with a plain optimizer the forward pass still uses an orthogonal ``W_o``.

Initialisation. The default ``init="orthogonal"`` draws ``W`` from the Haar measure
on O(n), as the authors' public code does for square recurrent matrices
(``torch.nn.init.orthogonal_``; deel-ai-papers/hadamRNN, ``QLinear``). The Henaff
initialisation of full-precision ORNNs (block-diagonal 2x2 rotations, entries up to 1)
is a poor starting point for a *per-tensor* quantizer: ``delta = max|W_o| / L ~ 1 / L``
(figures below for ``levels="symmetric"``, ``L = 2^{k-1} - 1``) rounds each rotation
``(cos t, sin t)`` to a lattice point whose modulus is off by up to
``~delta / sqrt 2``: at ``k = 4`` and ``n = 128`` the spectral radius of ``W_q`` is 1.088
and its smallest eigenvalue modulus 0.914, so over a copy-task sequence of 120 steps some
modes grow ``1.088^120 ~ 2e4`` and others shrink to ``2e-5`` and the model cannot learn
(test cross-entropy stays at the memoryless baseline). A Haar orthogonal matrix has
entries of size ``~1 / sqrt(n)`` with ``max|W_o| ~ 0.39`` at ``n = 128``, so the same
4 bits give eigenvalue moduli within ``[0.962, 1.028]`` (``[0.966, 1.024]`` with the
default ``levels="full"``, step ``max|W_o| / 8``; seed 0). Henaff remains available
(``init="henaff"``) for finer grids: at 8 bits its moduli are within ``[0.996, 1.004]``
and the copy task at ``T = 100`` is solved.

``W_q`` is only approximately orthogonal: ``||W_q^T W_q - I||_2 <= 2 e + e^2`` with
``e = ||W_q - W_o||_2 <= ||W_q - W_o||_F <= n r``, ``r`` the largest entry error
(``delta / 2`` from rounding, ``delta`` for the clipped largest positive entry with
``levels="full"``): the deviation shrinks like ``2^{-k}`` (:meth:`QORNNCell.orthogonality_error`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jaxtyping import Array, Float

from jaxorth._checks import int_at_least, positive_int
from jaxorth.linalg import bjorck
from jaxorth.quant import (
    SCALES,
    check_bits,
    check_levels,
    code_range,
    quantize_codes,
    quantizer_scale,
    ste_quantize,
)

from ._ornn import henaff_skew_init
from ._sequence import IntRecurrence, Recurrence, check_state_width

__all__ = ["QORNNCell", "polar_factor", "project_orthogonal"]


def polar_factor(w: Float[Array, "*batch n n"]) -> Float[Array, "*batch n n"]:
    """Nearest orthogonal matrix in Frobenius norm: ``U V^T`` from the SVD ``W = U S V^T``.

    The projection onto O(n) (Higham, "Functions of Matrices", SIAM 2008, Thm. 8.4).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.rnn import polar_factor
    >>> polar_factor(jnp.diag(jnp.array([2.0, -3.0]))).round(4).tolist()
    [[1.0, 0.0], [0.0, -1.0]]
    """
    u, _, vt = jnp.linalg.svd(w, full_matrices=False)
    return u @ vt


def project_orthogonal() -> optax.GradientTransformation:
    """Optax transformation: make the update land on the orthogonal group.

    Returns updates ``P(W + u) - W`` with ``P`` = :func:`polar_factor`, so that after
    ``optax.apply_updates`` every parameter it sees is orthogonal (projected gradient
    step of STE-projUNN, Foucault et al. 2024, with the exact projection of projUNN).
    Chain it after the optimizer and mask it to the recurrent matrices::

        tx = optax.chain(optax.adam(1e-3), optax.masked(project_orthogonal(), mask))

    Raises ValueError on a parameter that is not a square matrix.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from jaxorth.rnn import project_orthogonal
    >>> tx = optax.chain(optax.sgd(0.1), project_orthogonal())
    >>> w = jnp.eye(2)
    >>> updates, _ = tx.update(jnp.array([[1.0, 2.0], [0.0, 1.0]]), tx.init(w), w)
    >>> w = optax.apply_updates(w, updates)  # the SGD step, projected back onto O(2)
    >>> bool(jnp.allclose(w.T @ w, jnp.eye(2), atol=1e-6))
    True
    """

    def init_fn(params: Any) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update_fn(updates: Any, state: optax.EmptyState, params: Any = None) -> tuple[Any, Any]:
        if params is None:
            raise ValueError("project_orthogonal needs the parameters (params=...)")

        def proj(u: Array, p: Array) -> Array:
            if p.ndim != 2 or p.shape[0] != p.shape[1]:
                raise ValueError(
                    f"project_orthogonal applies to square matrices, got shape {p.shape}"
                )
            return polar_factor(p + u) - p

        return jax.tree.map(proj, updates, params), state

    return optax.GradientTransformation(init_fn, update_fn)


class QORNNCell(nnx.Module):
    """Quantized approximately orthogonal recurrent matrix ``W_q = q_k(W_o)``.

    Foucault, Mamalet and Malgouyres 2024 (module docstring).

    Parameters
    ----------
    hidden_size : int
        ``n``.
    bits : int
        Weight bit width ``k >= 2``.
    method : {"bjorck", "projunn"}
        How the orthogonal ``W_o`` is obtained (STE-Bjorck or STE-projUNN).
    n_iter : int
        Bjorck iterations (``method="bjorck"``).
    init : {"orthogonal", "henaff", "identity"}
        Initial ``W``: a random (Haar) orthogonal matrix (default, see the module
        docstring), block rotations with random angles (Henaff et al. 2016; its rotations
        quantize poorly at 4 bits), or the identity.
    scale : {"max", "mse"}
        Step of the weight quantizer: ``max|W_o| / 2^{k-1}`` (``levels="full"``) or
        ``max|W_o| / (2^{k-1} - 1)`` (``"symmetric"``), as in the paper; or the
        least-squared-error step (:func:`jaxorth.quant.mse_scale`).
    levels : {"full", "symmetric"}
        Integer codes of ``W_q``: ``[-2^{k-1}, 2^{k-1} - 1]`` (default, the authors'
        code) or ``[-(2^{k-1} - 1), 2^{k-1} - 1]`` (:func:`jaxorth.quant.code_range`).
    rngs : nnx.Rngs

    Examples
    --------
    >>> from flax import nnx
    >>> from jaxorth.rnn import QORNNCell
    >>> cell = QORNNCell(16, bits=8, rngs=nnx.Rngs(0))
    >>> bool(cell.orthogonality_error() <= cell.error_bound())  # ||W_q^T W_q - I||_2 <= 2e + e^2
    True
    """

    def __init__(
        self,
        hidden_size: int,
        bits: int = 4,
        *,
        method: str = "bjorck",
        n_iter: int = 15,
        init: str = "orthogonal",
        scale: str = "max",
        levels: str = "full",
        rngs: nnx.Rngs,
    ):
        hidden_size = positive_int(hidden_size, "hidden_size")
        check_bits(bits, "bits")
        if method not in ("bjorck", "projunn"):
            raise ValueError(f"method must be 'bjorck' or 'projunn', got {method!r}")
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
        check_levels(levels)
        n_iter = int_at_least(n_iter, "n_iter", 1)
        key = rngs.params()
        n = hidden_size
        if init == "henaff":
            w0 = jax.scipy.linalg.expm(jnp.asarray(henaff_skew_init(key, n)))
        elif init == "orthogonal":
            w0 = polar_factor(jax.random.normal(key, (n, n)))
        elif init == "identity":
            w0 = jnp.eye(n)
        else:
            raise ValueError(f"init must be henaff, orthogonal or identity; got {init!r}")
        self.hidden_size = n
        self.bits = int(bits)
        self.method = method
        self.n_iter = int(n_iter)
        self.scale = scale
        self.levels = levels
        self.w = nnx.Param(w0)

    def orthogonal_matrix(self) -> Float[Array, "n n"]:
        """``W_o``: the full-precision orthogonal matrix before quantization."""
        w = self.w[...]
        if self.method == "bjorck":
            return bjorck(w, self.n_iter)
        return w + jax.lax.stop_gradient(polar_factor(w) - w)

    def matrix(self) -> Float[Array, "n n"]:
        """``W_q = q_k(W_o)``, the quantized recurrent matrix used in the forward pass."""
        return ste_quantize(self.orthogonal_matrix(), self.bits, self.scale, self.levels)

    def recurrence(self) -> Recurrence:
        """``h -> h W_q^T`` for a batch ``(B, n)``; another state width raises ValueError."""
        w_t, n = self.matrix().T, self.hidden_size

        def step(h: Array) -> Array:
            check_state_width(h, n)
            return h @ w_t

        return step

    def integer_recurrence(self) -> tuple[IntRecurrence, Float[Array, ""] | float]:
        """``h W_q^T = delta * (h C^T)`` with the ``int32`` code matrix ``C`` of ``W_q``."""
        w_o = jax.lax.stop_gradient(self.orthogonal_matrix())
        delta = quantizer_scale(w_o, self.bits, self.scale, self.levels)
        codes_t, n = quantize_codes(w_o, self.bits, delta, self.levels).T, self.hidden_size

        def step(c: Array) -> Array:
            check_state_width(c, n)
            return c @ codes_t

        return step, delta

    def orthogonality_error(self) -> Float[Array, ""]:
        """``||W_q^T W_q - I||_2``: how far the quantized matrix is from orthogonal."""
        wq = self.matrix()
        return jnp.linalg.norm(wq.T @ wq - jnp.eye(self.hidden_size, dtype=wq.dtype), ord=2)

    def max_code(self) -> int:
        """Largest ``|code|`` of ``W_q``: ``2^{k-1}`` (``levels="full"``) or ``2^{k-1} - 1``."""
        return -code_range(self.bits, self.levels)[0]

    def size_bits(self) -> int:
        """``k n^2`` bits (plus one 32-bit scale)."""
        return self.bits * self.hidden_size**2 + 32

    def error_bound(self) -> Float[Array, ""]:
        """Bound ``2 e + e^2`` on ``||W_q^T W_q - I||_2``, ``e = ||B||_F``.

        Entry ``(i, j)`` moves by at most ``b_ij = max(delta / 2, w_ij - c_max delta,
        c_min delta - w_ij)`` (rounding, or clipping beyond the extreme codes
        ``[c_min, c_max]``), so ``||W_q - W_o||_2 <= ||W_q - W_o||_F <= ||B||_F = e``; with
        ``W_o`` orthogonal, ``W_q^T W_q - I = W_o^T E + E^T W_o + E^T E``. With
        ``scale="max"`` and ``levels="symmetric"`` every ``b_ij = delta / 2`` and
        ``e = n delta / 2``; ``levels="full"`` adds the clipping of the entries above
        ``(c_max + 1/2) delta`` (at most ``delta`` each). The bound halves with each extra
        bit.
        """
        w_o = self.orthogonal_matrix()
        delta = quantizer_scale(w_o, self.bits, self.scale, self.levels)
        lo, hi = code_range(self.bits, self.levels)
        b = jnp.maximum(jnp.maximum(delta / 2, w_o - hi * delta), lo * delta - w_o)
        e = jnp.sqrt(jnp.sum(b * b))
        return 2 * e + e * e
