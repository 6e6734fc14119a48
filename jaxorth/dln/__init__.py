"""Deep linear networks: loss, landscape theory, classification and gradient flow.

``L(W) = ||W_H ... W_1 X - Y||_F^2`` (Achour, Malgouyres & Gerchinovitz, JMLR 2024).
Weights are lists ``[W_1, ..., W_H]`` with ``W_h`` of shape ``(d_h, d_{h-1})``; data are
``X: (d_0, m)``, ``Y: (d_H, m)`` with samples as columns. Eigen-index sets ``S`` are
0-based.
"""

from ._flow import FlowResult as FlowResult
from ._flow import balancedness as balancedness
from ._flow import escape_time as escape_time
from ._flow import gradient_descent as gradient_descent
from ._flow import gradient_flow as gradient_flow
from ._flow import predicted_escape_time as predicted_escape_time
from ._flow import small_init as small_init
from ._model import check_shapes as check_shapes
from ._model import criticality_residual as criticality_residual
from ._model import gradient as gradient
from ._model import loss as loss
from ._model import product as product
from ._theory import CLASSES as CLASSES
from ._theory import DataSpectrum as DataSpectrum
from ._theory import classify as classify
from ._theory import classify_code as classify_code
from ._theory import critical_point as critical_point
from ._theory import critical_value as critical_value
from ._theory import global_minimum_value as global_minimum_value
from ._theory import make_data as make_data
from ._theory import plateau_values as plateau_values
from ._theory import random_critical_points as random_critical_points
from ._theory import spectrum as spectrum

__all__ = [
    "CLASSES",
    "DataSpectrum",
    "FlowResult",
    "balancedness",
    "escape_time",
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
