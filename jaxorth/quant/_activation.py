"""Post-training quantization of activations (QORNN, Foucault, Mamalet and Malgouyres 2024).

After training, the hidden state is stored on ``k`` bits: ``h = delta_h * c`` with integer
codes ``c`` in ``[-L, L]``, ``L = 2^{k-1} - 1``. The step ``delta_h`` is calibrated once
on data, from the largest (or a high percentile of the) absolute hidden activation, so that
the recurrence runs on integers (:func:`jaxorth.rnn.integer_hidden_states`).
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from ._ste import n_levels

__all__ = ["activation_scale"]


def activation_scale(
    h: Float[Array, ...], bits: int, percentile: float = 100.0
) -> Float[Array, ""]:
    """Calibrated step ``delta_h = P(|h|) / (2^{bits-1} - 1)`` for ``bits``-bit activations.

    Parameters
    ----------
    h : Float[Array, "..."]
        Activations observed on calibration data (e.g. all hidden states of a batch).
    bits : int
        Activation bit width, ``2 <= bits <= 24``.
    percentile : float
        ``P`` is this percentile of ``|h|`` (``100``: the maximum, no clipping on the
        calibration data; lower values clip outliers for a finer step).

    Returns
    -------
    Float[Array, ""]
        Positive scalar (1 when ``h`` is all zero).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.quant import activation_scale
    >>> round(float(activation_scale(jnp.array([0.5, -1.4, 0.2]), 4)), 6)  # max|h| / 7
    0.2
    """
    lim = n_levels(bits)
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    a = jnp.abs(jnp.asarray(h)).ravel()
    top = jnp.max(a) if percentile == 100 else jnp.percentile(a, percentile)
    return jnp.where(top > 0, top / lim, jnp.ones_like(top))
