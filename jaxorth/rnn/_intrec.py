"""Post-training activation quantization: an integer-only recurrence.

QORNN (Foucault, Mamalet and Malgouyres 2024) and HadamRNN (ICLR 2025) quantize the
hidden state after training. With ``k``-bit activations ``h_t = delta_h c_t``, codes
``c_t`` in ``[-L, L]`` (``L = 2^{k-1} - 1``), and a cell whose recurrence has an integer
form ``h W^T = s f(h)`` (``f`` exact on ``int32``: the FWHT with signs for the Hadamard
cells, the code matrix of ``W_q`` for QORNN), the loop is

    c_t = clip(round(s * f(c_{t-1})) + d_t, -L, L),   d_t = round((U x_t + b) / delta_h),

integer additions, subtractions (and for QORNN integer products) plus one fixed-point
rescale by ``s`` per step; the readout ``V relu(delta_h c_t) + c`` is unchanged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from jaxorth._checks import positive_number
from jaxorth.quant import activation_scale, check_bits, n_levels

from ._sequence import SequenceModel

__all__ = ["calibrate_hidden_scale", "integer_hidden_states", "quantized_outputs"]


def calibrate_hidden_scale(
    model: SequenceModel,
    x: Float[Array, "B T i"] | Int[Array, "B T"],
    act_bits: int,
    percentile: float = 100.0,
) -> Float[Array, ""]:
    """Activation step ``delta_h`` from the full-precision hidden states on ``x``.

    See :func:`jaxorth.quant.activation_scale`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.rnn import HadamRNNCell, SequenceModel, calibrate_hidden_scale
    >>> model = SequenceModel(HadamRNNCell(4, rngs=nnx.Rngs(0)), 1, 1, rngs=nnx.Rngs(1))
    >>> x = jnp.ones((1, 3, 1))
    >>> delta_h = calibrate_hidden_scale(model, x, act_bits=8)  # max |h_t| / 127
    >>> bool(jnp.isclose(127 * delta_h, jnp.abs(model.hidden_states(x)).max()))
    True
    """
    check_bits(act_bits, "act_bits")
    return activation_scale(model.hidden_states(x), act_bits, percentile)


def integer_hidden_states(
    model: SequenceModel,
    x: Float[Array, "B T i"] | Int[Array, "B T"],
    act_bits: int,
    delta_h: Float[Array, ""] | float,
) -> Int[Array, "B T n"]:
    """Hidden-state codes ``c_1..c_T`` (``int32``) of the integer-only recurrence.

    Parameters
    ----------
    model : SequenceModel
        Its cell must define ``integer_recurrence()`` (Hadamard and QORNN cells).
    x : Float[Array, "B T i"] | Int[Array, "B T"]
        Inputs, as for :meth:`SequenceModel.hidden_states`.
    act_bits : int
        Activation bit width, ``2 <= act_bits <= 24``.
    delta_h : float
        Activation step (:func:`calibrate_hidden_scale`), a positive number (checked
        when concrete).

    Returns
    -------
    Int[Array, "B T n"]
        Codes; the hidden states are ``delta_h * codes``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.rnn import HadamRNNCell, SequenceModel, calibrate_hidden_scale
    >>> from jaxorth.rnn import integer_hidden_states
    >>> model = SequenceModel(HadamRNNCell(4, rngs=nnx.Rngs(0)), 1, 1, rngs=nnx.Rngs(1))
    >>> x = jnp.ones((1, 3, 1))
    >>> delta_h = calibrate_hidden_scale(model, x, act_bits=8)
    >>> codes = integer_hidden_states(model, x, 8, delta_h)
    >>> codes.shape, codes.dtype, bool(jnp.abs(codes).max() <= 127)  # 8-bit codes in [-127, 127]
    ((1, 3, 4), dtype('int32'), True)
    >>> bool(jnp.abs(delta_h * codes - model.hidden_states(x)).max() < 3 * delta_h)  # rounding only
    True
    """
    check_bits(act_bits, "act_bits")
    cell = model.cell
    integer_recurrence = getattr(cell, "integer_recurrence", None)
    if integer_recurrence is None:
        raise ValueError(
            f"{type(cell).__name__} has no integer form (integer_recurrence); use a "
            "Hadamard or QORNN cell"
        )
    lim = n_levels(act_bits)
    n = cell.hidden_size
    w_lim = getattr(cell, "block_size", None)
    if w_lim is None:  # QORNN: |codes of W_q| <= 2^{k-1} (levels="full") or 2^{k-1} - 1
        w_lim = n * cell.max_code()
    if w_lim * lim >= 2**31:
        raise ValueError(
            f"int32 accumulator overflow: act_bits={act_bits} with this cell can reach "
            f"{w_lim} * {lim} >= 2^31; use fewer activation bits"
        )
    if not isinstance(delta_h, jax.core.Tracer):  # a traced step cannot be read
        positive_number(float(np.asarray(delta_h)), "delta_h")
    step_int, scale = integer_recurrence()
    drive = model.drive(x)
    d = jnp.round(drive / delta_h).astype(jnp.int32)
    scale = jnp.asarray(scale, jnp.float32)

    def body(c: Array, d_t: Array) -> tuple[Array, Array]:
        acc = step_int(c)
        c = jnp.clip(jnp.round(acc.astype(jnp.float32) * scale).astype(jnp.int32) + d_t, -lim, lim)
        return c, c

    c0 = jnp.zeros((x.shape[0], n), jnp.int32)
    _, cs = jax.lax.scan(body, c0, jnp.swapaxes(d, 0, 1))
    return jnp.swapaxes(cs, 0, 1)


def quantized_outputs(
    model: SequenceModel,
    x: Float[Array, "B T i"] | Int[Array, "B T"],
    act_bits: int,
    delta_h: Float[Array, ""] | float,
) -> Float[Array, "B T o"]:
    """Outputs ``V relu(delta_h c_t) + c`` of the integer-only recurrence.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxorth.rnn import HadamRNNCell, SequenceModel, calibrate_hidden_scale
    >>> from jaxorth.rnn import quantized_outputs
    >>> model = SequenceModel(HadamRNNCell(4, rngs=nnx.Rngs(0)), 1, 1, rngs=nnx.Rngs(1))
    >>> x = jnp.ones((1, 3, 1))
    >>> delta_h = calibrate_hidden_scale(model, x, act_bits=8)
    >>> y = quantized_outputs(model, x, 8, delta_h)
    >>> y.shape, bool(jnp.allclose(y, model(x), atol=0.1))  # close to the float outputs
    ((1, 3, 1), True)
    """
    codes = integer_hidden_states(model, x, act_bits, delta_h)
    h = jnp.asarray(delta_h, jnp.float32) * codes.astype(jnp.float32)
    return jax.nn.relu(h) @ model.output_matrix() + model.c[...][None, None, :]
