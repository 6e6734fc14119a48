"""Straight-through estimators (STE) and uniform k-bit quantizers.

A straight-through estimator uses a quantizer ``q`` in the forward pass and replaces its
(zero almost everywhere) derivative by the identity, optionally clipped to ``|x| <= c``,
in the backward pass (Bengio, Leonard and Courville 2013; Hubara et al., JMLR 2018,
eq. (4) for the clipped sign). Here they are plain functions with :func:`jax.custom_vjp`.

The k-bit quantizer is uniform with one scale per tensor, ``alpha = max |w|``, and
``q_k(w) = delta * clip(round(w / delta), c_min, c_max)`` with integer codes in
``[c_min, c_max]`` (:func:`code_range`). Two code sets (``levels``):

- ``"full"``: all ``2^k`` codes of a ``k``-bit two's-complement integer,
  ``[-2^{k-1}, 2^{k-1} - 1]``, with the step ``delta = alpha / 2^{k-1}``. This is the
  quantizer of the HadamRNN / QORNN authors' public code (Foucault, Mamalet and
  Malgouyres, ICLR 2025 and 2024; deel-ai-papers/hadamRNN, ``quantized_layers.py``,
  ``UniformQuantize``) for ``U``, ``V`` and the QORNN recurrent matrix: the scale is
  ``2^{k-1} / alpha``, the largest positive entry is clipped to ``(2^{k-1} - 1) delta``
  and the most negative one is the level ``-2^{k-1} delta = -alpha``.
- ``"symmetric"``: ``2^k - 1`` codes ``[-L, L]``, ``L = 2^{k-1} - 1``, with the step
  ``delta = alpha / L`` (nothing is clipped; ``k = 2`` is ternary ``{-alpha, 0, alpha}``).
  The default of the functions here, which the integer hidden-state codes also use.

The model objects that follow the papers (:class:`KBitSTE`, :class:`jaxorth.rnn.QORNNCell`
and the ``model=*`` configs) default to ``"full"``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jaxorth._checks import positive_int

__all__ = [
    "LEVELS",
    "KBitSTE",
    "check_bits",
    "check_levels",
    "code_range",
    "fake_quantize",
    "n_levels",
    "mse_scale",
    "quantize_codes",
    "max_scale",
    "quantizer_scale",
    "symmetric_scale",
    "ste_quantize",
    "ste_sign",
    "ste_ternary",
]


def check_bits(bits: int, name: str = "bits", maximum: int = 24) -> int:
    """Validate a bit width: an integer in ``[2, maximum]``; returns it as ``int``.

    One bit cannot be a symmetric uniform quantizer with a zero level; use
    :func:`ste_sign` for binary weights.

    Examples
    --------
    >>> from jaxorth.quant import check_bits
    >>> check_bits(4)
    4
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= maximum:
        raise ValueError(
            f"{name} must be an integer with 2 <= {name} <= {maximum} for a symmetric "
            f"uniform quantizer (2^{name} - 1 levels), got {bits!r}"
        )
    return int(bits)


def n_levels(bits: int) -> int:
    """Largest code ``L = 2^{bits-1} - 1`` of the symmetric ``bits``-bit quantizer.

    Examples
    --------
    >>> from jaxorth.quant import n_levels
    >>> n_levels(4)  # 2^(k-1) - 1 positive levels
    7
    """
    return 2 ** (check_bits(bits) - 1) - 1


#: The code sets of the k-bit quantizers: the 2^k codes [-2^(k-1), 2^(k-1) - 1] or the
#: symmetric 2^k - 1 codes [-(2^(k-1) - 1), 2^(k-1) - 1] (:func:`code_range`).
LEVELS = ("full", "symmetric")


def check_levels(levels: str, name: str = "levels") -> str:
    """Validate a code set name: ``"full"`` or ``"symmetric"``; returns it.

    Examples
    --------
    >>> from jaxorth.quant import check_levels
    >>> check_levels("full")
    'full'
    >>> try:
    ...     check_levels("half")
    ... except ValueError as error:
    ...     print(error)
    levels must be one of ...
    """
    if levels not in LEVELS:
        raise ValueError(f"{name} must be one of {', '.join(LEVELS)}; got {levels!r}")
    return str(levels)


def code_range(bits: int, levels: str = "symmetric") -> tuple[int, int]:
    """Integer codes ``(c_min, c_max)`` of the ``bits``-bit quantizer.

    ``levels="full"``: ``(-2^{bits-1}, 2^{bits-1} - 1)``, all ``2^bits`` codes of a
    two's-complement integer (the HadamRNN / QORNN authors' code, module docstring);
    ``"symmetric"``: ``(-L, L)``, ``L = 2^{bits-1} - 1``, ``2^bits - 1`` codes.

    Examples
    --------
    >>> from jaxorth.quant import code_range
    >>> code_range(4), code_range(4, "full")  # 2^4 - 1 symmetric codes, or all 2^4
    ((-7, 7), (-8, 7))
    """
    half = 2 ** (check_bits(bits) - 1)
    if check_levels(levels) == "full":
        return -half, half - 1
    return -(half - 1), half - 1


def _max_code(bits: int, levels: str) -> int:
    # the code that max|x| maps to before clipping: 2^{k-1} ("full") or L ("symmetric")
    return -code_range(bits, levels)[0]


def max_scale(x: Float[Array, ...], bits: int, levels: str = "symmetric") -> Float[Array, ""]:
    """Step ``delta = max|x| / m`` of the per-tensor quantizer, ``m = -c_min``.

    ``m = 2^{bits-1}`` for ``levels="full"`` (the authors' scale ``2^{k-1} / alpha``;
    ``-max|x|`` is a level, ``+max|x|`` is clipped to ``(2^{k-1} - 1) delta``) and
    ``m = 2^{bits-1} - 1`` for ``"symmetric"`` (:func:`symmetric_scale`, nothing is
    clipped). Returns 1 for an all-zero tensor (any step represents it exactly).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import max_scale
    >>> x = jnp.array([0.5, -1.4, 0.2])
    >>> round(float(max_scale(x, 4)), 6), round(float(max_scale(x, 4, "full")), 6)  # 1.4/7, 1.4/8
    (0.2, 0.175)
    """
    alpha = jnp.max(jnp.abs(x))
    delta = alpha / _max_code(bits, levels)
    return jnp.where(alpha > 0, delta, jnp.ones_like(delta))


def symmetric_scale(x: Float[Array, ...], bits: int) -> Float[Array, ""]:
    """Step ``delta = max|x| / (2^{bits-1} - 1)`` of the per-tensor symmetric quantizer.

    Returns 1 for an all-zero tensor (any step represents it exactly).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import symmetric_scale
    >>> round(float(symmetric_scale(jnp.array([-0.7, 0.35]), 4)), 6)  # max|x| / 7
    0.1
    """
    return max_scale(x, bits, "symmetric")


def mse_scale(
    x: Float[Array, ...], bits: int, grid: int = 64, levels: str = "symmetric"
) -> Float[Array, ""]:
    """Step ``delta`` of the per-tensor quantizer with the least squared error.

    Minimises ``||x - delta clip(round(x / delta), c_min, c_max)||^2`` over
    ``delta = f max_scale(x)`` for ``grid`` fractions ``f`` evenly spaced in ``[0.2, 1]``
    (``f = 1`` is :func:`max_scale`): a smaller step trades clipping of the
    few largest entries for finer rounding of all others (the Lloyd-Max trade-off of a
    uniform quantizer, Max 1960). For the ``~N(0, 1/n)`` entries of a random orthogonal
    ``128 x 128`` matrix at 4 bits this roughly halves the step. Not differentiated
    (it is a scale, held constant by the straight-through estimator).

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import max_scale, mse_scale
    >>> round(float(mse_scale(jnp.ones(4), 4)), 4)  # equal entries: 1/7 represents them exactly
    0.1429
    >>> x = jax.random.normal(jax.random.key(0), (256,))  # Gaussian: clip the tails
    >>> bool(mse_scale(x, 4) < max_scale(x, 4))
    True
    """
    grid = positive_int(grid, "grid")
    x = jax.lax.stop_gradient(jnp.asarray(x))
    lo, hi = code_range(bits, levels)
    base = max_scale(x, bits, levels)
    deltas = base * jnp.linspace(0.2, 1.0, grid, dtype=x.dtype)
    flat = x.reshape(1, -1)
    err = jnp.sum(
        (flat - deltas[:, None] * jnp.clip(jnp.round(flat / deltas[:, None]), lo, hi)) ** 2,
        axis=1,
    )
    return deltas[jnp.argmin(err)]


def quantize_codes(
    x: Float[Array, ...], bits: int, delta: Float[Array, ""] | float, levels: str = "symmetric"
) -> Int[Array, ...]:
    """Integer codes ``clip(round(x / delta), c_min, c_max)`` (``int32``, :func:`code_range`).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import quantize_codes
    >>> quantize_codes(jnp.array([-0.7, 0.06, 0.35]), 4, 0.1).tolist()
    [-7, 1, 4]
    """
    lo, hi = code_range(bits, levels)
    return jnp.clip(jnp.round(x / delta), lo, hi).astype(jnp.int32)


def fake_quantize(
    x: Float[Array, ...],
    bits: int,
    delta: Float[Array, ""] | float | None = None,
    levels: str = "symmetric",
) -> Float[Array, ...]:
    """``delta * quantize_codes(x, bits, delta, levels)`` in the dtype of ``x`` (no STE).

    ``delta`` defaults to :func:`max_scale` (``max|x| / 2^{k-1}`` for ``"full"``,
    ``max|x| / L`` for ``"symmetric"``).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import fake_quantize
    >>> [round(float(v), 4) for v in fake_quantize(jnp.array([-0.7, 0.06, 0.35]), 4, 0.1)]
    [-0.7, 0.1, 0.4]
    """
    x = jnp.asarray(x)
    if delta is None:
        delta = max_scale(x, bits, levels)
    lo, hi = code_range(bits, levels)
    return (jnp.clip(jnp.round(x / delta), lo, hi) * delta).astype(x.dtype)


# --- sign ---------------------------------------------------------------------------


def _sign(x: Array) -> Array:
    # sign(0) = +1 so the result is always binary.
    return jnp.where(x >= 0, 1, -1).astype(x.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _ste_sign(x: Array, clip: float | None) -> Array:
    return _sign(x)


def _ste_sign_fwd(x: Array, clip: float | None) -> tuple[Array, Array]:
    return _sign(x), x


def _ste_sign_bwd(clip: float | None, x: Array, g: Array) -> tuple[Array]:
    if clip is None:
        return (g,)
    return (jnp.where(jnp.abs(x) <= clip, g, jnp.zeros_like(g)),)


_ste_sign.defvjp(_ste_sign_fwd, _ste_sign_bwd)


def ste_sign(x: Float[Array, ...], clip: float | None = None) -> Float[Array, ...]:
    """Binary ``sign(x)`` in ``{-1, +1}`` (``sign(0) = +1``) with a straight-through gradient.

    Backward: the identity, or with ``clip=c`` the clipped identity ``1{|x| <= c}``
    (Hubara et al. 2018, eq. (4)). HadamRNN learns the signs of its diagonal this way
    (Foucault et al., ICLR 2025).

    Parameters
    ----------
    x : Float[Array, "..."]
    clip : float, optional
        Zero the gradient where ``|x| > clip``.

    Returns
    -------
    Float[Array, "..."]
        Same shape and dtype.

    Examples
    --------
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import ste_sign
    >>> x = jnp.array([-0.3, 0.0, 2.0])
    >>> ste_sign(x).tolist()
    [-1.0, 1.0, 1.0]
    >>> jax.grad(lambda x: ste_sign(x).sum())(x).tolist()  # straight through
    [1.0, 1.0, 1.0]
    """
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be positive or None, got {clip!r}")
    return _ste_sign(jnp.asarray(x), None if clip is None else float(clip))


# --- ternary --------------------------------------------------------------------------


def _ternary(x: Array, threshold: float) -> Array:
    return jnp.where(jnp.abs(x) > threshold, _sign(x), jnp.zeros_like(x))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _ste_ternary(x: Array, threshold: float, clip: float | None) -> Array:
    return _ternary(x, threshold)


def _ste_ternary_fwd(x: Array, threshold: float, clip: float | None) -> tuple[Array, Array]:
    return _ternary(x, threshold), x


def _ste_ternary_bwd(threshold: float, clip: float | None, x: Array, g: Array) -> tuple[Array]:
    if clip is None:
        return (g,)
    return (jnp.where(jnp.abs(x) <= clip, g, jnp.zeros_like(g)),)


_ste_ternary.defvjp(_ste_ternary_fwd, _ste_ternary_bwd)


def ste_ternary(
    x: Float[Array, ...], threshold: float = 0.5, clip: float | None = None
) -> Float[Array, ...]:
    """Ternary ``t(x) = sign(x) 1{|x| > threshold}`` in ``{-1, 0, +1}`` with an STE.

    Backward: the identity, or the clipped identity ``1{|x| <= clip}``
    (ternary weight networks, Li, Zhang and Liu 2016, with the STE of Hubara et al. 2018).

    Parameters
    ----------
    x : Float[Array, "..."]
    threshold : float
        Entries with ``|x| <= threshold`` map to 0; ``>= 0``.
    clip : float, optional
        Zero the gradient where ``|x| > clip``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import ste_ternary
    >>> ste_ternary(jnp.array([-0.9, 0.2, 0.7])).tolist()
    [-1.0, 0.0, 1.0]
    """
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0, got {threshold!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be positive or None, got {clip!r}")
    return _ste_ternary(jnp.asarray(x), float(threshold), None if clip is None else float(clip))


# --- k-bit uniform --------------------------------------------------------------------


#: The step choices of the k-bit quantizers: ``max|x| / L`` or the least-squared-error step.
SCALES = ("max", "mse")


def quantizer_scale(
    x: Float[Array, ...], bits: int, scale: str = "max", levels: str = "symmetric"
) -> Float[Array, ""]:
    """Step of the per-tensor quantizer by name.

    ``"max"``: :func:`max_scale`; ``"mse"``: :func:`mse_scale` (both for ``levels``).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import quantizer_scale
    >>> round(float(quantizer_scale(jnp.array([-0.7, 0.35]), 4, "max")), 6)
    0.1
    """
    if scale == "max":
        return max_scale(x, bits, levels)
    if scale == "mse":
        return mse_scale(x, bits, levels=levels)
    raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _ste_quantize(x: Array, bits: int, scale: str, levels: str) -> Array:
    return fake_quantize(x, bits, quantizer_scale(x, bits, scale, levels), levels)


def _ste_quantize_fwd(x: Array, bits: int, scale: str, levels: str) -> tuple[Array, None]:
    return _ste_quantize(x, bits, scale, levels), None


def _ste_quantize_bwd(bits: int, scale: str, levels: str, _: None, g: Array) -> tuple[Array]:
    return (g,)


_ste_quantize.defvjp(_ste_quantize_fwd, _ste_quantize_bwd)


def ste_quantize(
    x: Float[Array, ...], bits: int, scale: str = "max", levels: str = "symmetric"
) -> Float[Array, ...]:
    """Uniform ``bits``-bit quantization, one scale per tensor, with an STE.

    Forward ``q_k(x) = delta clip(round(x / delta), c_min, c_max)`` (:func:`code_range`);
    backward the identity (the scale is treated as a constant). Used for ``U``, ``V``
    and the QORNN recurrent matrix (Foucault, Mamalet and Malgouyres 2024, eq. (2);
    HadamRNN, ICLR 2025), whose authors' code uses ``levels="full"``.

    Parameters
    ----------
    x : Float[Array, "..."]
    bits : int
        ``k >= 2``.
    scale : {"max", "mse"}
        ``delta = max|x| / 2^{k-1}`` (``"full"``) or ``max|x| / L`` (``"symmetric"``):
        the papers' choice; or the step with the least squared error
        (:func:`mse_scale`, clips the largest entries).
    levels : {"symmetric", "full"}
        Code set: ``[-L, L]`` with ``L = 2^{k-1} - 1`` or ``[-2^{k-1}, 2^{k-1} - 1]``.

    Returns
    -------
    Float[Array, "..."]
        Values in ``{c_min, ..., c_max} * delta``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import ste_quantize
    >>> ste_quantize(jnp.array([-1.0, 0.1, 0.4, 1.0]), 2).tolist()  # levels -1, 0, 1 times max|x|
    [-1.0, 0.0, 0.0, 1.0]
    """
    # an unknown ``scale`` is rejected by quantizer_scale when the forward pass traces
    return _ste_quantize(jnp.asarray(x), check_bits(bits), scale, check_levels(levels))


@dataclasses.dataclass(frozen=True)
class KBitSTE:
    """Callable ``w -> ste_quantize(w, bits, levels=levels)`` that carries its bit width.

    Pass it as ``input_transform`` / ``output_transform`` of
    :class:`jaxorth.rnn.SequenceModel`, whose ``size_bits`` reads ``bits``.

    Parameters
    ----------
    bits : int
        ``k >= 2`` (default 4, as in HadamRNN).
    levels : {"full", "symmetric"}
        Code set (:func:`code_range`); ``"full"`` (default): the ``2^k`` codes
        ``[-2^{k-1}, 2^{k-1} - 1]`` with step ``max|w| / 2^{k-1}``, as the HadamRNN /
        QORNN authors' ``U`` and ``V`` (module docstring).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import KBitSTE
    >>> q = KBitSTE(2)  # codes -2, -1, 0, 1 times max|w| / 2
    >>> q.bits, q(jnp.array([-1.0, 0.2, 0.8])).tolist()
    (2, [-1.0, 0.0, 0.5])
    """

    bits: int = 4
    levels: str = "full"

    def __post_init__(self) -> None:
        check_bits(self.bits)
        check_levels(self.levels)

    def __call__(self, w: Float[Array, ...]) -> Float[Array, ...]:
        return ste_quantize(w, self.bits, levels=self.levels)
