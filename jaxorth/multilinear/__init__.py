r"""Multilinear compressive sensing for convolutional linear networks.

Malgouyres & Landsberg, "Multilinear compressive sensing and an application to
convolutional linear networks" (SIAM J. Math. Data Sci. 2019, arXiv 1703.08044). A
chain of sparse convolutions ``X = h_1 * ... * h_K`` is a linear image of the rank-one
tensor ``h_1 x ... x h_K`` (the tensorial lifting); the factors are determined by ``X``
up to scale iff the lifting's kernel meets no difference of two rank-one tensors.

- :func:`conv_chain`: the product filter of sparse 1-D or 2-D filters on given supports;
- :func:`lifting`: the lifting operator ``A`` (a matrix, or a matvec for large chains);
- :func:`conv_chain_identifiable`: the topology test (no two tuples of offsets with the
  same sum), with the colliding tuples, as a :class:`Topology`;
- :func:`recover`: the factors from the product (Levenberg-Marquardt, several starts),
  as a :class:`Recovery`; :func:`scale_distance`: the error modulo rescalings;
- :func:`stability_constant`: an estimate of ``inf ||A T|| / ||T||`` over differences of
  rank-one tensors (the paper's stability constant), as a :class:`StabilityEstimate`;
- :func:`check_supports`, :func:`product_shape`.
"""

from ._chain import DENSE_LIFTING_ENTRIES as DENSE_LIFTING_ENTRIES
from ._chain import Topology as Topology
from ._chain import check_supports as check_supports
from ._chain import conv_chain as conv_chain
from ._chain import conv_chain_identifiable as conv_chain_identifiable
from ._chain import lifting as lifting
from ._chain import product_shape as product_shape
from ._recover import Recovery as Recovery
from ._recover import recover as recover
from ._recover import scale_distance as scale_distance
from ._stability import StabilityEstimate as StabilityEstimate
from ._stability import stability_constant as stability_constant

__all__ = [
    "DENSE_LIFTING_ENTRIES",
    "Recovery",
    "StabilityEstimate",
    "Topology",
    "check_supports",
    "conv_chain",
    "conv_chain_identifiable",
    "lifting",
    "product_shape",
    "recover",
    "scale_distance",
    "stability_constant",
]
