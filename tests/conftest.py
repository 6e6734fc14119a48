"""Test configuration shared by the whole suite.

- ``jax_numpy_rank_promotion="raise"``: implicit broadcasting of ranks is a bug here.
- Warnings are errors (see ``filterwarnings`` in pyproject.toml).
- Strict *dtype* promotion is not enabled: optax's Adam mixes a Python float and an
  int32 count (``decay ** count``), which strict promotion rejects.
- jaxtyping annotations of the whole package are checked at run time by beartype
  (``--jaxtyping-packages=jaxorth,beartype.beartype(...)`` in pyproject.toml, with
  PEP 484's numeric tower: an ``int`` passes for a ``float``), so a wrong
  shape or dtype annotation fails the suite. Tests of jaxorth's *own* bad-input messages
  (what a user without runtime checks sees) run under ``with user_checks():``, which
  switches the runtime checks off for that block.
- Tests that need float64 use the ``x64`` fixture, which enables it for one test and
  restores the previous value afterwards.
- BLAS/LAPACK run single-threaded: the suite already runs one pytest worker per core,
  and oversubscribed OpenBLAS threads made small SVDs (jax's CPU linalg calls scipy's
  LAPACK) up to ~80x slower on a loaded 2-core machine.
- ``JAX_DISABLE_MOST_OPTIMIZATIONS=1`` (unless already set): the test problems are tiny,
  so XLA's compile time, not the run time of the compiled code, dominates most tests;
  skipping most of XLA's optimisation passes cut ~17% of the time of the rnn/dln tests.
  Numbers stay correct (same semantics, possibly different rounding); tests that compare
  two runs bit for bit run both under this same setting (subprocesses inherit
  ``os.environ``).
- One persistent JAX compilation cache per run (a temporary folder, removed at the end;
  ``JAX_COMPILATION_CACHE_DIR``), shared by both xdist workers and every subprocess: a
  program compiled once (a study's training step, a solver) is loaded, not compiled,
  by every later test that builds it again. The ``compile_cache`` fixture names the
  folder.
- Tests marked ``slow`` (end-to-end runs, subprocesses) are collected first, so that the
  two workers share them and finish together.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import signal
import tempfile
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# XLA's CPU backend compiles with its legacy fusion emitters: the suite is dominated by
# compilation (small programs, run a few times), and the new emitters take about twice as
# long to compile them (measured on three test files: CPU time 78 s -> 43 s). The
# processes the tests start inherit the flag (tests that set XLA_FLAGS append to it).
if "--xla_cpu_use_fusion_emitters" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_cpu_use_fusion_emitters=false"
    ).strip()

# One persistent compilation cache for the whole run: the pytest process creates the
# folder and the xdist workers and the processes the tests start inherit it through the
# environment. Tests build new closures of the same programs (every study run, every
# subprocess), which the in-memory jit cache cannot reuse but this one can (it is keyed
# by the compiled program: the same executable, so the same numbers).
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxorth-test-jit-")
    os.environ["JAXORTH_TEST_JIT_CACHE_OWNER"] = str(os.getpid())
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")

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


@contextlib.contextmanager
def _without_runtime_type_checks():
    import jaxtyping

    previous = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", previous)


@pytest.fixture
def user_checks():
    """``with user_checks(): ...`` runs a block as a user does, without runtime type checks.

    For tests of jaxorth's own input checks: with jaxtyping's checks on, a wrong shape
    or dtype is already rejected by the annotation before jaxorth's check runs.
    """
    return _without_runtime_type_checks


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


def _write_imdb(root, train, test):
    """``root/aclImdb/{train,test}/{pos,neg}/<i>_<rating>.txt``, one UTF-8 review per file.

    ``train`` / ``test``: ``{"neg": [texts], "pos": [texts]}``; returns ``root``.
    """
    for split, reviews in (("train", train), ("test", test)):
        for label, texts in reviews.items():
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i, text in enumerate(texts):
                rating = 8 if label == "pos" else 2
                (folder / f"{i}_{rating}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def write_imdb():
    """``write_imdb(root, train, test)``: the IMDB archive's folders (``aclImdb``)."""
    return _write_imdb


def _write_tsv(path, header, rows):
    """A GLUE TSV file: the header, then one tab-separated row per line, no quoting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(header)] + ["\t".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def write_tsv():
    """``write_tsv(path, header, rows)``: a GLUE TSV file (SST-2, QQP)."""
    return _write_tsv


def _write_har(root, labels, value_fn):
    """``root/UCI HAR Dataset/{train,test}/...`` as in the UCI archive.

    ``labels``: ``{"train": [1..6, ...], "test": [...]}``; ``value_fn(split, i, k)``: the
    128 readings of window ``i`` of signal ``k`` (``jaxorth.data.HAR_SIGNALS`` order),
    written one window per line as ``%15.7e`` fields after a space, as the archive's.
    Returns the ``UCI HAR Dataset`` folder.
    """
    from jaxorth.data import HAR_SIGNALS

    base = root / "UCI HAR Dataset"
    for split, ys in labels.items():
        signals = base / split / "Inertial Signals"
        signals.mkdir(parents=True)
        for k, name in enumerate(HAR_SIGNALS):
            rows = [
                " " + " ".join(f"{v:15.7e}" for v in value_fn(split, i, k)) for i in range(len(ys))
            ]
            (signals / f"{name}_{split}.txt").write_text("\n".join(rows) + "\n")
        (base / split / f"y_{split}.txt").write_text("".join(f"{y}\n" for y in ys))
    return base


@pytest.fixture
def write_har():
    """``write_har(root, labels, value_fn)``: the UCI HAR Dataset's inertial-signal files."""
    return _write_har


# A background job of a non-interactive shell (``make test &``, some CI runners) starts
# with SIGINT ignored, and the processes the tests start inherit that: the interrupt
# tests need Ctrl-C to behave as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """Put the SIGINT/SIGTERM handlers back after every test (a test must not leak them)."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in before.items():
        if signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


@pytest.fixture(scope="session")
def tiny_copy_run():
    """Overrides of a tiny copy-task run (4 steps, checkpoints at 2 and 4, no plots).

    The shapes of the end-to-end runs of ``tests/test_cli.py``: every test that runs them
    loads the same compiled programs from the compilation cache.
    """
    return [
        "model.hidden=8",
        "data.T=5",
        "train.steps=4",
        "train.batch_size=8",
        "data.test_size=16",
        "train.checkpoint_every=2",
        "train.log_every=2",
        "experiment.plot=false",
    ]


@pytest.fixture(scope="session")
def compile_cache():
    """The run's persistent compilation cache folder (set in the environment above)."""
    return Path(os.environ["JAX_COMPILATION_CACHE_DIR"])


def pytest_collection_modifyitems(config, items):
    """Run the ``slow`` tests first (stable order otherwise).

    With ``-n 2 --dist worksteal`` each worker starts on its half of the list and then
    steals from the other: long tests at the front keep the two workers busy until the
    end, instead of one waiting for a long test that started last.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_unconfigure(config):
    """The process that created the compilation cache removes it at the end."""
    if os.environ.get("JAXORTH_TEST_JIT_CACHE_OWNER") == str(os.getpid()):
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
