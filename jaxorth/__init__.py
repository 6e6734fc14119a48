"""jaxorth: structured and orthogonal neural networks in JAX.

The pure-math subpackages are importable without Hydra, W&B or files::

    import jaxorth
    jaxorth.orthconv.lorth(kernel)

The experiment framework lives in :mod:`jaxorth.train` and :mod:`jaxorth.studies`
and is imported only on demand.
"""

from importlib import metadata as _metadata

from . import approximation as approximation
from . import data as data
from . import dln as dln
from . import hessian as hessian
from . import identifiability as identifiability
from . import linalg as linalg
from . import lipschitz as lipschitz
from . import multilinear as multilinear
from . import orthconv as orthconv
from . import overestimate as overestimate
from . import quant as quant
from . import rnn as rnn
from . import sparse as sparse

try:
    __version__ = _metadata.version("jaxorth")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__all__ = [
    "approximation",
    "data",
    "dln",
    "hessian",
    "identifiability",
    "linalg",
    "lipschitz",
    "multilinear",
    "orthconv",
    "overestimate",
    "quant",
    "rnn",
    "sparse",
]
