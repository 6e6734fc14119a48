"""jaxorth.quant: straight-through estimators, k-bit quantizers, activation quantization.

Straight-through estimators are plain functions with :func:`jax.custom_vjp`:
:func:`ste_sign` (binary), :func:`ste_ternary`, :func:`ste_quantize` (symmetric uniform,
one scale per tensor). :class:`KBitSTE` is the callable used to quantize the input and
output matrices of the recurrent models (4 bits by default, as in HadamRNN).
"""

from ._activation import activation_scale as activation_scale
from ._ste import SCALES as SCALES
from ._ste import KBitSTE as KBitSTE
from ._ste import check_bits as check_bits
from ._ste import fake_quantize as fake_quantize
from ._ste import mse_scale as mse_scale
from ._ste import n_levels as n_levels
from ._ste import quantize_codes as quantize_codes
from ._ste import quantizer_scale as quantizer_scale
from ._ste import ste_quantize as ste_quantize
from ._ste import ste_sign as ste_sign
from ._ste import ste_ternary as ste_ternary
from ._ste import symmetric_scale as symmetric_scale

__all__ = [
    "SCALES",
    "KBitSTE",
    "activation_scale",
    "check_bits",
    "fake_quantize",
    "mse_scale",
    "n_levels",
    "quantize_codes",
    "quantizer_scale",
    "ste_quantize",
    "ste_sign",
    "ste_ternary",
    "symmetric_scale",
]
