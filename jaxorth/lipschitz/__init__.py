"""Lipschitz networks: 1-Lipschitz activations, Lipschitz bounds, certified robustness.

- :func:`maxmin`: GroupSort-2 on channel halves, 1-Lipschitz and gradient-norm
  preserving; :func:`groupsort`: GroupSort with any group size (contiguous or strided
  groups; Anil, Lucas & Grosse 2019);
- :func:`space_to_depth` / :func:`depth_to_space`: invertible (orthogonal) downsampling
  and its inverse; :func:`l2_norm_pool`: global l2-norm pooling, 1-Lipschitz;
- :class:`ResidualBlock`: the skip connection ``alpha x + (1 - alpha) f(x)``,
  ``(|alpha| + |1 - alpha| L_f)``-Lipschitz (1-Lipschitz for a 1-Lipschitz ``f`` and
  ``alpha`` in ``[0, 1]``), with its factor in :func:`lipschitz_report`;
- :class:`OrthLinear`: a Flax NNX dense layer with an orthogonal weight (orthonormal
  rows or columns when rectangular) built from a free parameter by Bjorck, Cayley or the
  exponential of a skew matrix;
- :func:`lipschitz_bound`: ``prod_l sigma_max(W_l)`` of a feed-forward network, from
  the layers' norms; :func:`lipschitz_report`: the same bound computed exactly from the
  layers (dense, circular convolutions at their input size, 1-Lipschitz maps), with the
  per-layer factors (:class:`LipschitzReport`);
- :func:`logit_margin`, :func:`certified_radius` (``margin / (sqrt(2) L)``, Tsuzuku et
  al. 2018), :func:`certified` / :func:`certified_accuracy` at given l2 radii;
- :func:`margin_cross_entropy` (tau-CCE with a margin offset, Béthune et al. 2022) and
  :func:`multiclass_hinge` (Weston & Watkins 1999): losses for certified training;
- :func:`l2_pgd`: an l2 projected-gradient attack on the logit margin (Madry et al.
  2018), the empirical counterpart of the certificates;
- :class:`OrthCNN`: a small CNN of orthogonal (or penalised) circular convolutions,
  MaxMin and an :class:`OrthLinear` head (orthonormal rows), with its exact per-layer
  spectra and :meth:`OrthCNN.lipschitz_report` (the study ``experiment=lipschitz_mnist``
  trains it on MNIST and checks its certificates against :func:`l2_pgd`).
"""

from ._activations import groupsort as groupsort
from ._activations import maxmin as maxmin
from ._attacks import l2_pgd as l2_pgd
from ._bounds import LipschitzReport as LipschitzReport
from ._bounds import lipschitz_bound as lipschitz_bound
from ._bounds import lipschitz_report as lipschitz_report
from ._certificates import certified as certified
from ._certificates import certified_accuracy as certified_accuracy
from ._certificates import certified_radius as certified_radius
from ._certificates import logit_margin as logit_margin
from ._layers import depth_to_space as depth_to_space
from ._layers import l2_norm_pool as l2_norm_pool
from ._layers import space_to_depth as space_to_depth
from ._linear import OrthLinear as OrthLinear
from ._losses import margin_cross_entropy as margin_cross_entropy
from ._losses import multiclass_hinge as multiclass_hinge
from ._models import OrthCNN as OrthCNN
from ._residual import ResidualBlock as ResidualBlock

__all__ = [
    "LipschitzReport",
    "OrthCNN",
    "OrthLinear",
    "ResidualBlock",
    "certified",
    "certified_accuracy",
    "certified_radius",
    "depth_to_space",
    "groupsort",
    "l2_norm_pool",
    "l2_pgd",
    "lipschitz_bound",
    "lipschitz_report",
    "logit_margin",
    "margin_cross_entropy",
    "maxmin",
    "multiclass_hinge",
    "space_to_depth",
]
