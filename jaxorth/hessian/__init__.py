"""Matrix-free Hessian analysis for any scalar loss of a pytree (NNX models via split/merge).

- :func:`hvp`, :func:`hvp_fn`: Hessian-vector products, forward over reverse.
- :func:`dense`, :func:`dense_batched`: the dense Hessian (at one point or a stack of
  points), for small models only.
- :func:`eigenvalues`, :func:`eigsh`: extreme eigenpairs to a residual tolerance by
  thick-restart Lanczos with full reorthogonalisation (Wu & Simon 2000), with the
  residuals, a convergence flag and the number of products in :class:`EigResult`.
- :func:`density`: spectral density by stochastic Lanczos quadrature (Ghorbani et al. 2019).
- :func:`trace`: Hutchinson trace estimate.
- :func:`negative_curvature_direction`: an escape direction at a strict saddle.
- :func:`from_nnx`: ``(loss(params), params)`` from a Flax NNX model.

``params`` (and ``v`` / ``v0``) must be finite: a NaN or inf is rejected before compute
when the values are concrete, and propagates under ``jit`` / ``vmap`` (the library's NaN
policy, see the README).
"""

from ._core import Density as Density
from ._core import EigResult as EigResult
from ._core import NegativeCurvature as NegativeCurvature
from ._core import dense as dense
from ._core import dense_batched as dense_batched
from ._core import density as density
from ._core import eigenvalues as eigenvalues
from ._core import eigsh as eigsh
from ._core import from_nnx as from_nnx
from ._core import hvp as hvp
from ._core import hvp_fn as hvp_fn
from ._core import negative_curvature_direction as negative_curvature_direction
from ._core import trace as trace

__all__ = [
    "Density",
    "EigResult",
    "NegativeCurvature",
    "dense",
    "dense_batched",
    "density",
    "eigenvalues",
    "eigsh",
    "from_nnx",
    "hvp",
    "hvp_fn",
    "negative_curvature_direction",
    "trace",
]
