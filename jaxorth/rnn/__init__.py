"""Recurrent cells with orthogonal (and quantized orthogonal) recurrent matrices."""

from ._ornn import ORNNCell as ORNNCell
from ._ornn import RecurrentCell as RecurrentCell
from ._ornn import SequenceModel as SequenceModel
from ._ornn import henaff_skew_init as henaff_skew_init

__all__ = ["ORNNCell", "RecurrentCell", "SequenceModel", "henaff_skew_init"]
