r"""Approximation lower bounds in :math:`L^p`: target families and error estimates.

Achour, Foucault, Gerchinovitz, Malgouyres, "A general approximation lower bound in
:math:`L^p` norm, with applications to feed-forward neural networks" (NeurIPS 2022,
arXiv 2206.04360). Domain ``[0, 1]^d`` with the uniform probability measure; points are
``Float[Array, "n d"]``, values ``Float[Array, "n"]``.

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
"""

from ._norms import ErrorEstimate as ErrorEstimate
from ._norms import lp_distance as lp_distance
from ._norms import lp_errors as lp_errors
from ._norms import lp_norm as lp_norm
from ._norms import sup_norm as sup_norm
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
    "SMOOTH_TARGETS",
    "ErrorEstimate",
    "HolderInstance",
    "MonotoneInstance",
    "Packing",
    "SmoothTarget",
    "check_points",
    "holder_instance",
    "holder_instance_distance",
    "holder_instance_norm",
    "holder_packing",
    "lp_distance",
    "lp_errors",
    "lp_norm",
    "monotone_instance",
    "smooth_target",
    "sup_norm",
]
