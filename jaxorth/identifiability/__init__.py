r"""Parameter identifiability of ReLU networks: rank tests, symmetries, canonical forms.

Bona-Pellissier, Bachoc, Malgouyres, "Parameter identifiability of a deep feedforward
ReLU neural network" (Machine Learning 2023, arXiv 2112.12982) and "Local
identifiability of deep ReLU neural networks: the theory" (NeurIPS 2022, arXiv
2206.07424). Parameters are lists ``[(W_l, b_l)]``, ``W_l`` of shape ``(d_l, d_{l-1})``.

- networks: :func:`relu_mlp`, :func:`pre_activations`, :func:`random_params`,
  :func:`check_params`, :func:`from_nnx` / :func:`to_nnx`, :func:`flatten`,
  :func:`perturb_params`;
- symmetries: :func:`apply_symmetry`, :func:`random_symmetry`, :func:`canonical_form`,
  :func:`match_neurons`, :func:`parameter_distance`, :func:`equivalent`,
  :func:`hyperplane_distance`;
- the rank test: :func:`jacobian_rank` returns a :class:`RankReport` (rank of the
  parameter Jacobian on a sample, the bound ``E - N_h``, dead neurons, kinks, and the
  papers' sufficient and necessary conditions);
- extraction from queries alone (the teacher's critical points; Carlini, Jagielski &
  Mironov, CRYPTO 2020; Rolnick & Kording, ICML 2020):
  :func:`extract_one_hidden_layer` (exact), :func:`extract_first_layer` (the first
  layer of a deep network), :func:`extract_two_hidden_layers` (experimental: read its
  ``fit_residual``); each returns an :class:`ExtractionResult`.
"""

from ._extraction import ExtractionResult as ExtractionResult
from ._extraction import extract_first_layer as extract_first_layer
from ._extraction import extract_one_hidden_layer as extract_one_hidden_layer
from ._extraction import extract_two_hidden_layers as extract_two_hidden_layers
from ._networks import Params as Params
from ._networks import check_inputs as check_inputs
from ._networks import check_params as check_params
from ._networks import flatten as flatten
from ._networks import from_nnx as from_nnx
from ._networks import n_hidden as n_hidden
from ._networks import n_parameters as n_parameters
from ._networks import perturb_params as perturb_params
from ._networks import pre_activations as pre_activations
from ._networks import random_params as random_params
from ._networks import relu_mlp as relu_mlp
from ._networks import to_nnx as to_nnx
from ._networks import widths as widths
from ._rank import DENSE_ENTRIES as DENSE_ENTRIES
from ._rank import MAX_KINK_PATTERNS as MAX_KINK_PATTERNS
from ._rank import RankReport as RankReport
from ._rank import jacobian_rank as jacobian_rank
from ._symmetry import apply_symmetry as apply_symmetry
from ._symmetry import canonical_form as canonical_form
from ._symmetry import equivalent as equivalent
from ._symmetry import hyperplane_distance as hyperplane_distance
from ._symmetry import match_neurons as match_neurons
from ._symmetry import parameter_distance as parameter_distance
from ._symmetry import random_symmetry as random_symmetry

__all__ = [
    "DENSE_ENTRIES",
    "ExtractionResult",
    "MAX_KINK_PATTERNS",
    "Params",
    "RankReport",
    "apply_symmetry",
    "canonical_form",
    "check_inputs",
    "check_params",
    "equivalent",
    "extract_first_layer",
    "extract_one_hidden_layer",
    "extract_two_hidden_layers",
    "flatten",
    "hyperplane_distance",
    "from_nnx",
    "jacobian_rank",
    "match_neurons",
    "n_hidden",
    "n_parameters",
    "parameter_distance",
    "perturb_params",
    "pre_activations",
    "random_params",
    "random_symmetry",
    "relu_mlp",
    "to_nnx",
    "widths",
]
