r"""Approximation lower bounds in L^p for feed-forward networks: rates and bounds.

Achour, Foucault, Gerchinovitz, Malgouyres, "A general approximation lower bound in
L^p norm, with applications to feed-forward neural networks" (NeurIPS 2022, arXiv
2206.04360), with the pseudo-dimension bound of Bartlett, Harvey, Liaw, Mehrabian
(JMLR 2019, arXiv 1703.02930) and the entropy of monotone functions of Gao & Wellner
(J. Multivariate Anal. 2007). Domain ``[0,1]^d`` with the uniform measure.

- counting: :func:`mlp_size` (a :class:`MLPSize` ``(W, L, U)``), :func:`widths_for`;
- capacity of the networks: :func:`pseudo_dimension_bound`, :func:`fat_shattering_bound`;
- entropy orders: :func:`holder_log_packing`, :func:`monotone_log_packing`;
- exponents and rates: :func:`holder_exponent`, :func:`holder_rate`,
  :func:`monotone_exponent`, :func:`monotone_rate`;
- the general bound for a user's classes, :func:`general_lower_bound`, and its
  instances :func:`holder_lower_bound`, :func:`monotone_lower_bound`;
- the best network, numerically: :func:`fit_relu_mlp` (Adam from several restarts, a
  :class:`FitResult`), :func:`as_function` (a callable :class:`ReluNetwork`), and
  measured rates with their confidence intervals, :func:`loglog_slope` (a
  :class:`SlopeFit`).
"""

from ._fit import FitResult as FitResult
from ._fit import ReluNetwork as ReluNetwork
from ._fit import SlopeFit as SlopeFit
from ._fit import as_function as as_function
from ._fit import fit_relu_mlp as fit_relu_mlp
from ._fit import loglog_slope as loglog_slope
from ._rates import CRITICAL_LOG_POWER as CRITICAL_LOG_POWER
from ._rates import MLPSize as MLPSize
from ._rates import fat_shattering_bound as fat_shattering_bound
from ._rates import general_lower_bound as general_lower_bound
from ._rates import holder_exponent as holder_exponent
from ._rates import holder_log_packing as holder_log_packing
from ._rates import holder_lower_bound as holder_lower_bound
from ._rates import holder_rate as holder_rate
from ._rates import mlp_size as mlp_size
from ._rates import monotone_exponent as monotone_exponent
from ._rates import monotone_log_packing as monotone_log_packing
from ._rates import monotone_lower_bound as monotone_lower_bound
from ._rates import monotone_rate as monotone_rate
from ._rates import pseudo_dimension_bound as pseudo_dimension_bound
from ._rates import widths_for as widths_for

__all__ = [
    "CRITICAL_LOG_POWER",
    "FitResult",
    "MLPSize",
    "ReluNetwork",
    "SlopeFit",
    "as_function",
    "fat_shattering_bound",
    "fit_relu_mlp",
    "general_lower_bound",
    "holder_exponent",
    "holder_log_packing",
    "holder_lower_bound",
    "holder_rate",
    "loglog_slope",
    "mlp_size",
    "monotone_exponent",
    "monotone_log_packing",
    "monotone_lower_bound",
    "monotone_rate",
    "pseudo_dimension_bound",
    "widths_for",
]
