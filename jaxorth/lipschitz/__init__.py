"""Lipschitz networks: 1-Lipschitz activations, Lipschitz bounds, certified robustness.

- :func:`maxmin`: GroupSort-2, 1-Lipschitz and gradient-norm preserving;
- :func:`lipschitz_bound`: ``prod_l sigma_max(W_l)`` of a feed-forward network;
- :func:`logit_margin`, :func:`certified_radius` (``margin / (sqrt(2) L)``, Tsuzuku et
  al. 2018), :func:`certified` / :func:`certified_accuracy` at given l2 radii;
- :class:`OrthCNN`: a small CNN of orthogonal (or penalised) circular convolutions with
  an orthonormal-rows dense head.
"""

from ._activations import maxmin as maxmin
from ._bounds import lipschitz_bound as lipschitz_bound
from ._certificates import certified as certified
from ._certificates import certified_accuracy as certified_accuracy
from ._certificates import certified_radius as certified_radius
from ._certificates import logit_margin as logit_margin
from ._models import OrthCNN as OrthCNN

__all__ = [
    "OrthCNN",
    "certified",
    "certified_accuracy",
    "certified_radius",
    "lipschitz_bound",
    "logit_margin",
    "maxmin",
]
