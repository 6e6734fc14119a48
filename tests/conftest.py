"""Test configuration shared by the whole suite.

- ``jax_numpy_rank_promotion="raise"``: implicit broadcasting of ranks is a bug here.
- Warnings are errors (see ``filterwarnings`` in pyproject.toml).
- Strict *dtype* promotion is not enabled: optax's Adam mixes a Python float and an
  int32 count (``decay ** count``), which strict promotion rejects.
- Tests that need float64 use the ``x64`` fixture, which enables it for one test and
  restores the previous value afterwards.
- BLAS/LAPACK run single-threaded: the suite already runs one pytest worker per core,
  and oversubscribed OpenBLAS threads made small SVDs (jax's CPU linalg calls scipy's
  LAPACK) up to ~80x slower on a loaded 2-core machine.
"""

from __future__ import annotations

import gzip
import os

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax
import numpy  # noqa: F401  (load the BLAS libraries before limiting their threads)
import pytest
import scipy.linalg  # noqa: F401
from threadpoolctl import threadpool_limits

from jaxorth._precision import float64

threadpool_limits(1)

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def x64():
    """Enable float64 for the duration of one test."""
    with float64():
        yield


@pytest.fixture(params=[False, True], ids=["eager", "jit"])
def maybe_jit(request):
    """Parametrize a test over (no jit, jit): ``f = maybe_jit(f)``."""
    if request.param:
        return jax.jit
    return lambda f, **kw: f


def _write_idx(path, array, compress: bool = False) -> None:
    """Write a uint8 array as an IDX file (the MNIST format), gzipped when asked."""
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + numpy.ascontiguousarray(array, dtype=numpy.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)


@pytest.fixture
def write_idx():
    """``write_idx(path, uint8_array, compress=False)``: an IDX file for the MNIST reader."""
    return _write_idx
