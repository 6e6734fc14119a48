"""Recurrent cells with orthogonal (and quantized orthogonal) recurrent matrices.

Cells: :class:`ORNNCell` (full precision, expm / Cayley), :class:`HadamRNNCell` and
:class:`BlockHadamRNNCell` (binary / sparse ternary, fast Walsh-Hadamard transform,
Foucault et al., ICLR 2025), :class:`QORNNCell` (k-bit, STE-Bjorck / STE-projUNN,
Foucault et al. 2024). :class:`SequenceModel` runs any cell with ``jax.lax.scan``:
``model(x)`` gives every output; the training paths ``model.stepwise_cross_entropy(x, y)``
(per-step loss, e.g. the copy task) and ``model.final_output(x)`` (sequence
classification) compute the readout inside the scan and never store the ``(B, T, n)``
states; cells may keep their states in a cheaper layout there (:class:`StateLayout`,
:func:`cell_layout`). :func:`integer_hidden_states` runs the integer-only recurrence
after post-training activation quantization. Module layout: ``_sequence.py`` (the model,
layouts and recurrence types), one module per cell family (``_ornn``, ``_hadamard``,
``_qornn``), ``_intrec.py`` (the integer-only recurrence).
"""

from ._hadamard import BlockHadamRNNCell as BlockHadamRNNCell
from ._hadamard import HadamRNNCell as HadamRNNCell
from ._intrec import calibrate_hidden_scale as calibrate_hidden_scale
from ._intrec import integer_hidden_states as integer_hidden_states
from ._intrec import quantized_outputs as quantized_outputs
from ._ornn import ORNNCell as ORNNCell
from ._ornn import henaff_skew_init as henaff_skew_init
from ._qornn import QORNNCell as QORNNCell
from ._qornn import polar_factor as polar_factor
from ._qornn import project_orthogonal as project_orthogonal
from ._sequence import RecurrentCell as RecurrentCell
from ._sequence import SequenceModel as SequenceModel
from ._sequence import StateLayout as StateLayout
from ._sequence import cell_layout as cell_layout
from ._sequence import vector_layout as vector_layout

__all__ = [
    "BlockHadamRNNCell",
    "HadamRNNCell",
    "ORNNCell",
    "QORNNCell",
    "RecurrentCell",
    "SequenceModel",
    "StateLayout",
    "calibrate_hidden_scale",
    "cell_layout",
    "henaff_skew_init",
    "integer_hidden_states",
    "polar_factor",
    "project_orthogonal",
    "quantized_outputs",
    "vector_layout",
]
