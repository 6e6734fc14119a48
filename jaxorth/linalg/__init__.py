"""jaxorth.linalg: shared matrix tools (orthogonalisation, skew expm, Cayley, Hadamard, FWHT).

Inputs must be real floating-point arrays (checked always) and finite (checked before
compute when concrete; skipped under ``jit``, where a NaN propagates: the library's NaN
policy, see the README). Results are in the dtype of the input.
"""

from ._orth import bjorck as bjorck
from ._orth import cayley as cayley
from ._orth import expm_skew as expm_skew
from ._orth import skew as skew
from ._orth import skew_expm as skew_expm

__all__: list[str] = ["bjorck", "cayley", "expm_skew", "skew", "skew_expm"]

from ._hadamard import block_fwht as block_fwht
from ._hadamard import fwht as fwht
from ._hadamard import is_power_of_two as is_power_of_two
from ._hadamard import sylvester_hadamard as sylvester_hadamard

__all__ += ["block_fwht", "fwht", "is_power_of_two", "sylvester_hadamard"]
