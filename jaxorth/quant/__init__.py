"""jaxorth.quant: straight-through estimators, k-bit quantizers, activation quantization.

Straight-through estimators are plain functions with :func:`jax.custom_vjp`:
:func:`ste_sign` (binary), :func:`ste_ternary`, :func:`ste_quantize` (uniform, one
scale per tensor, ``levels="symmetric"`` or the ``2^k`` codes ``"full"`` of the papers'
code, :func:`code_range`). :class:`KBitSTE` is the callable used to quantize the input
and output matrices of the recurrent models (4 bits, ``levels="full"`` by default, as in
HadamRNN).
"""

from ._activation import activation_scale as activation_scale
from ._ste import LEVELS as LEVELS
from ._ste import SCALES as SCALES
from ._ste import KBitSTE as KBitSTE
from ._ste import check_bits as check_bits
from ._ste import check_levels as check_levels
from ._ste import code_range as code_range
from ._ste import fake_quantize as fake_quantize
from ._ste import max_scale as max_scale
from ._ste import mse_scale as mse_scale
from ._ste import n_levels as n_levels
from ._ste import quantize_codes as quantize_codes
from ._ste import quantizer_scale as quantizer_scale
from ._ste import ste_quantize as ste_quantize
from ._ste import ste_sign as ste_sign
from ._ste import ste_ternary as ste_ternary
from ._ste import symmetric_scale as symmetric_scale

__all__ = [
    "LEVELS",
    "SCALES",
    "KBitSTE",
    "activation_scale",
    "check_bits",
    "check_levels",
    "code_range",
    "fake_quantize",
    "max_scale",
    "mse_scale",
    "n_levels",
    "quantize_codes",
    "quantizer_scale",
    "ste_quantize",
    "ste_sign",
    "ste_ternary",
    "symmetric_scale",
]
