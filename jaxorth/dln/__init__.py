"""Deep linear networks: loss, landscape theory, classification and gradient flow.

One module per job: ``_model`` (loss, gradient, dense Hessian), ``_data`` (data
generation, ``Sigma`` and critical values), ``_critical`` (construction of critical
points), ``_classify`` (classification from the theory, and the Hessian test it is
checked against), ``_sampling`` (random critical points of a shape family), ``_flow``
(gradient flow and descent, escape times).

``L(W) = ||W_H ... W_1 X - Y||_F^2`` (Achour, Malgouyres & Gerchinovitz, JMLR 2024).
Weights are lists ``[W_1, ..., W_H]`` with ``W_h`` of shape ``(d_h, d_{h-1})``; data are
``X: (d_0, m)``, ``Y: (d_H, m)`` with samples as columns. Eigen-index sets ``S`` are
0-based.

Input checks: shapes always; NaN / inf in weights or data are rejected before compute
when the values are concrete (skipped under ``jit``, where they propagate: the library's
NaN policy). :func:`classify` also checks its own assumption (AMG24, Assumption H:
``S_xx`` invertible, ``S_yx`` full rank, distinct eigenvalues of ``Sigma``) and names the
part that fails.
"""

from ._classify import CLASSES as CLASSES
from ._classify import HessianTest as HessianTest
from ._classify import agrees_with_hessian as agrees_with_hessian
from ._classify import classify as classify
from ._classify import classify_code as classify_code
from ._classify import hessian_test as hessian_test
from ._critical import critical_point as critical_point
from ._data import DataSpectrum as DataSpectrum
from ._data import critical_value as critical_value
from ._data import global_minimum_value as global_minimum_value
from ._data import make_data as make_data
from ._data import plateau_values as plateau_values
from ._data import spectrum as spectrum
from ._flow import FlowResult as FlowResult
from ._flow import balancedness as balancedness
from ._flow import escape_scaling as escape_scaling
from ._flow import escape_time as escape_time
from ._flow import gradient_descent as gradient_descent
from ._flow import gradient_flow as gradient_flow
from ._flow import plateau_miss as plateau_miss
from ._flow import predicted_escape_time as predicted_escape_time
from ._flow import small_init as small_init
from ._model import check_shapes as check_shapes
from ._model import criticality_residual as criticality_residual
from ._model import gradient as gradient
from ._model import loss as loss
from ._model import loss_hessian as loss_hessian
from ._model import product as product
from ._sampling import random_critical_points as random_critical_points

__all__ = [
    "CLASSES",
    "DataSpectrum",
    "FlowResult",
    "HessianTest",
    "agrees_with_hessian",
    "balancedness",
    "escape_scaling",
    "escape_time",
    "hessian_test",
    "loss_hessian",
    "plateau_miss",
    "gradient_descent",
    "gradient_flow",
    "predicted_escape_time",
    "small_init",
    "check_shapes",
    "classify",
    "classify_code",
    "critical_point",
    "critical_value",
    "criticality_residual",
    "global_minimum_value",
    "gradient",
    "loss",
    "make_data",
    "plateau_values",
    "product",
    "random_critical_points",
    "spectrum",
]
