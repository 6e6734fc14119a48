r"""L^p approximation by ReLU networks: hard instances, error estimates, rates and bounds.

Achour, Foucault, Gerchinovitz, Malgouyres, "A general approximation lower bound in
:math:`L^p` norm, with applications to feed-forward neural networks" (NeurIPS 2022,
arXiv 2206.04360), with the pseudo-dimension bound of Bartlett, Harvey, Liaw, Mehrabian
(JMLR 2019, arXiv 1703.02930) and the entropy of monotone functions of Gao & Wellner
(J. Multivariate Anal. 2007). Domain ``[0, 1]^d`` with the uniform probability measure;
points are ``Float[Array, "n d"]``, values ``Float[Array, "n"]``.

Targets (pytrees, callable, ``vmap``-able over their keys):

- :func:`holder_instance` (:class:`HolderInstance`): signed bumps on a grid of cells, an
  ``alpha``-Hölder function of seminorm exactly ``constant``; :func:`holder_instance_norm`
  (closed-form :math:`L^p` norm), :func:`holder_instance_distance`,
  :func:`holder_packing` (a Varshamov–Gilbert packing, as a :class:`Packing`);
- :func:`monotone_instance` (:class:`MonotoneInstance`): mixtures of orthant
  indicators, nondecreasing in every coordinate, with jumps or smoothed;
- :func:`smooth_target` (:class:`SmoothTarget`): the names in :data:`SMOOTH_TARGETS`;
- :func:`check_points`: the check of an ``(n, d)`` batch of points.

Error estimates (:class:`ErrorEstimate`):

- :func:`lp_norm`, :func:`lp_distance`: grid (midpoint rule) or Monte Carlo (with a
  standard error) for ``p < inf``; :func:`sup_norm`: dense points and a local search;
- :func:`lp_errors`: ``||f - g||_p`` for several ``p`` at once.

Theory (numpy, vectorised over ``W`` and ``L``):

- counting: :func:`mlp_size` (a :class:`MLPSize` ``(W, L, U)``), :func:`widths_for`;
- capacity of the networks: :func:`pseudo_dimension_bound`, :func:`fat_shattering_bound`;
- entropy orders: :func:`holder_log_packing`, :func:`monotone_log_packing`;
- exponents and rates: :func:`holder_exponent`, :func:`holder_rate`,
  :func:`monotone_exponent`, :func:`monotone_rate`;
- the general bound for a user's classes, :func:`general_lower_bound`, and its
  instances :func:`holder_lower_bound`, :func:`monotone_lower_bound`.

The best network, numerically: :func:`fit_relu_mlp` (Adam from several restarts, a
:class:`FitResult`), :func:`as_function` (a callable :class:`ReluNetwork`), and measured
rates with their confidence intervals, :func:`loglog_slope` (a :class:`SlopeFit`).
"""

from ._fit import FitResult as FitResult
from ._fit import ReluNetwork as ReluNetwork
from ._fit import SlopeFit as SlopeFit
from ._fit import as_function as as_function
from ._fit import fit_relu_mlp as fit_relu_mlp
from ._fit import loglog_slope as loglog_slope
from ._norms import ErrorEstimate as ErrorEstimate
from ._norms import lp_distance as lp_distance
from ._norms import lp_errors as lp_errors
from ._norms import lp_norm as lp_norm
from ._norms import sup_norm as sup_norm
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
from ._targets import SMOOTH_TARGETS as SMOOTH_TARGETS
from ._targets import HolderInstance as HolderInstance
from ._targets import MonotoneInstance as MonotoneInstance
from ._targets import Packing as Packing
from ._targets import SmoothTarget as SmoothTarget
from ._targets import check_points as check_points
from ._targets import holder_instance as holder_instance
from ._targets import holder_instance_distance as holder_instance_distance
from ._targets import holder_instance_norm as holder_instance_norm
from ._targets import holder_packing as holder_packing
from ._targets import monotone_instance as monotone_instance
from ._targets import smooth_target as smooth_target

__all__ = [
    "CRITICAL_LOG_POWER",
    "SMOOTH_TARGETS",
    "ErrorEstimate",
    "FitResult",
    "HolderInstance",
    "MLPSize",
    "MonotoneInstance",
    "Packing",
    "ReluNetwork",
    "SlopeFit",
    "SmoothTarget",
    "as_function",
    "check_points",
    "fat_shattering_bound",
    "fit_relu_mlp",
    "general_lower_bound",
    "holder_exponent",
    "holder_instance",
    "holder_instance_distance",
    "holder_instance_norm",
    "holder_log_packing",
    "holder_lower_bound",
    "holder_packing",
    "holder_rate",
    "loglog_slope",
    "lp_distance",
    "lp_errors",
    "lp_norm",
    "mlp_size",
    "monotone_exponent",
    "monotone_instance",
    "monotone_log_packing",
    "monotone_lower_bound",
    "monotone_rate",
    "pseudo_dimension_bound",
    "smooth_target",
    "sup_norm",
    "widths_for",
]
