r"""Overestimation learning with guarantees: surrogates that never underestimate ``f``.

Gauffriau, Malgouyres & Ducoffe, "Overestimation learning with guarantees" (AAAI-21
SafeAI workshop, arXiv 2101.11717). For a reference function ``f`` monotone on a box
(an expensive simulation, a performance table), build a small network ``g`` with
``g(x) >= f(x)`` everywhere on the box (underestimation is the unsafe side), as tight
as training allows:

- :func:`majoring_points`: adaptive dyadic cells ``[l_i, u_i]`` with ``f(u_i) -
  f(l_i) <= delta``, and the majoring points ``(l_i, f(u_i))`` (redundant ones pruned);
  ``directions`` handles coordinates where ``f`` decreases;
- :class:`MonotoneMLP`: non-decreasing by construction (non-negative weights through a
  softplus, monotone activations); :class:`MLP`: unconstrained;
- :func:`asymmetric_loss` / :func:`overestimation_loss`: underestimation weighted more;
- :func:`interval_bounds`, :func:`crown_bounds`: certified bounds of a dense network
  over boxes (IBP; CROWN linear relaxations), the route of a decomon user;
- :func:`certify`, :func:`certify_bounds`, :func:`certified_surrogate`: the float64 output shift
  ``c = max_i (f(u_i) - L_i)_+`` that makes ``g + c >= f`` hold on the whole box;
- :func:`overestimate`: the whole method in one call, returning an
  :class:`Overestimator` ``g`` (``g(x)``, ``g.points``, ``g.shift``);
- :data:`FUNCTIONS`: monotone reference functions (synthetic in d = 1, 2, 3, and a
  stopping-distance model).

Example::

    import jax, numpy as np
    from jaxorth.overestimate import overestimate

    f = lambda x: np.tanh(8 * (x[:, 0] + 2 * x[:, 1] - 1.2)) + 0.3 * x[:, 0]
    g = overestimate(f, [0, 0], [1, 1], delta=0.05, key=jax.random.PRNGKey(0))
    x = np.random.default_rng(0).uniform(size=(100_000, 2))
    assert (g(x) >= f(x)).all()
"""

from ._bounds import crown_bounds as crown_bounds
from ._bounds import interval_bounds as interval_bounds
from ._certify import Certificate as Certificate
from ._certify import Overestimator as Overestimator
from ._certify import Route as Route
from ._certify import asymmetric_loss as asymmetric_loss
from ._certify import certified_surrogate as certified_surrogate
from ._certify import certify as certify
from ._certify import certify_bounds as certify_bounds
from ._certify import fit_full_batch as fit_full_batch
from ._certify import overestimate as overestimate
from ._certify import overestimation_loss as overestimation_loss
from ._certify import to_unit_box as to_unit_box
from ._functions import FUNCTIONS as FUNCTIONS
from ._functions import MonotoneFunction as MonotoneFunction
from ._functions import stopping_distance as stopping_distance
from ._majoring import MajoringPoints as MajoringPoints
from ._majoring import majoring_points as majoring_points
from ._majoring import prune_implied as prune_implied
from ._networks import ACTIVATIONS as ACTIVATIONS
from ._networks import MLP as MLP
from ._networks import MonotoneMLP as MonotoneMLP
from ._networks import apply_layers as apply_layers

__all__ = [
    "ACTIVATIONS",
    "FUNCTIONS",
    "MLP",
    "Certificate",
    "MajoringPoints",
    "MonotoneFunction",
    "MonotoneMLP",
    "Overestimator",
    "Route",
    "apply_layers",
    "asymmetric_loss",
    "certify",
    "certify_bounds",
    "certified_surrogate",
    "crown_bounds",
    "fit_full_batch",
    "interval_bounds",
    "majoring_points",
    "overestimate",
    "overestimation_loss",
    "prune_implied",
    "stopping_distance",
    "to_unit_box",
]
