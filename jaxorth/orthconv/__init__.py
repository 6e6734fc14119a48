"""Orthogonal convolutions with circular padding (Achour, Malgouyres, Mamalet, JMLR 2022).

Conventions
-----------
- **Channels first.** Inputs are ``x: (B, C, n_1, ..., n_d)`` (``d = 1, 2, 3, ...``),
  kernels ``(M out, C in, k_1, ..., k_d)``, outputs ``(B, M, N_1, ..., N_d)`` with
  ``n_j = S N_j`` for the stride ``S`` (the same on every axis). The layers
  :class:`OrthConv` and :class:`SoftOrthConv` take ``channels_last=True`` for Flax's
  layout, ``x: (B, n_1, ..., n_d, C)`` to ``(B, N_1, ..., N_d, M)``, with the same numbers
  (run with matching XLA dimension numbers, no transposes); their kernels stay
  ``(M, C, k_1, ..., k_d)`` either way.
- **Circular padding, cross-correlation, tap offset** ``p = (k - 1) // 2``::

      y[b, m, i] = sum_{c, a} K[m, c, a] x[b, c, (S i + a - p) mod (S N)]

  (per spatial axis). For odd ``k`` the tap ``a = p`` is the centre; for even ``k`` it is
  the left of the two middle taps (PyTorch ``padding="same"``'s choice). ``p`` only
  permutes input pixels: singular values, orthogonality and ``lorth`` do not depend on it.
- **Layer matrix** ``A`` (:func:`conv_matrix`): shape ``(M N^d, C S^d N^d)``, rows
  ``(m, i)`` and columns ``(c, j)`` in row-major order. Row-orthogonal (RO) when
  ``M <= C S^d`` (goal ``A A^T = I``), column-orthogonal (CO) when ``M >= C S^d``
  (goal ``A^T A = I``).
- **Input checks** (the library's NaN policy, README "Input checks and NaN policy"):
  kernels must be real (a complex dtype is rejected, also under ``jit``, rather than cut
  to its real part) and kernels, inputs and parameters finite, checked before compute
  when the values are concrete; under ``jit`` / ``vmap`` / ``grad`` the finiteness
  check is skipped and a NaN propagates.
- **Precision**: kernels are built in the dtype of their parameters
  (``OrthConv(param_dtype=jnp.float64)`` with ``jax_enable_x64`` is orthogonal to
  float64 rounding).
"""

from ._conv import conv as conv
from ._conv import conv_matrix as conv_matrix
from ._conv import conv_transpose as conv_transpose
from ._exists import SquareOrthogonalConvWarning as SquareOrthogonalConvWarning
from ._exists import check_orthogonal_conv as check_orthogonal_conv
from ._exists import lorth_lower_bound as lorth_lower_bound
from ._exists import orthogonal_conv_exists as orthogonal_conv_exists
from ._layers import OrthConv as OrthConv
from ._layers import SoftOrthConv as SoftOrthConv
from ._lorth import lorth as lorth
from ._minimise import minimise_lorth as minimise_lorth
from ._param import OrthConvPlan as OrthConvPlan
from ._param import bcop_kernel as bcop_kernel
from ._param import compose_kernels as compose_kernels
from ._param import init_orth_conv_params as init_orth_conv_params
from ._param import orth_conv_kernel as orth_conv_kernel
from ._param import orth_conv_plan as orth_conv_plan
from ._param import orthonormal_from_param as orthonormal_from_param
from ._param import rko_kernel as rko_kernel
from ._polyphase import polyphase_kernel as polyphase_kernel
from ._spectrum import OrthogonalityErrors as OrthogonalityErrors
from ._spectrum import orthogonality_errors as orthogonality_errors
from ._spectrum import singular_values as singular_values
from ._spectrum import symbol as symbol

__all__ = [
    "OrthConv",
    "OrthConvPlan",
    "OrthogonalityErrors",
    "SoftOrthConv",
    "SquareOrthogonalConvWarning",
    "bcop_kernel",
    "check_orthogonal_conv",
    "compose_kernels",
    "conv",
    "conv_matrix",
    "conv_transpose",
    "init_orth_conv_params",
    "lorth",
    "lorth_lower_bound",
    "minimise_lorth",
    "orth_conv_kernel",
    "orth_conv_plan",
    "orthogonal_conv_exists",
    "orthogonality_errors",
    "orthonormal_from_param",
    "polyphase_kernel",
    "rko_kernel",
    "singular_values",
    "symbol",
]
