"""jaxorth: structured and orthogonal neural networks in JAX.

The pure-math subpackages are importable without Hydra, W&B or files::

    import jaxorth
    jaxorth.orthconv.lorth(kernel)

The experiment framework lives in :mod:`jaxorth.train` and :mod:`jaxorth.studies`
and is imported only on demand (:func:`load_run` imports it when called).
"""

import os as _os
from importlib import metadata as _metadata
from typing import Any as _Any

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


def load_run(run_dir: str | _os.PathLike[str], *, model: bool = True) -> _Any:
    r"""Load a finished run directory: its config, summary, metrics and trained model.

    A thin wrapper of :func:`jaxorth.train.load_run` (the experiment framework is
    imported on the first call, not by ``import jaxorth``)::

        run = jaxorth.load_run("outputs/copy_task/2025-01-01_12-00-00")
        run.config.model.hidden, run.summary["test_ce"]
        steps, ce = run.series("eval/ce")  # numpy arrays; run.frame(): pandas
        run.model  # the trained NNX model, from the newest checkpoint

    Parameters
    ----------
    run_dir : path
        A run directory of the ``jaxorth`` command (or of
        :func:`jaxorth.cli.run_experiment`).
    model : bool
        Rebuild the trained model (default); ``False`` reads only the files.

    Returns
    -------
    jaxorth.train.LoadedRun
        ``config`` (``config.yaml``), ``summary`` (``summary.json``), ``metrics`` and
        ``steps`` (per key, from ``metrics.jsonl``), ``model`` and its checkpoint ``step``.

    Examples
    --------
    >>> import json
    >>> from jaxorth import load_run
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as run_dir:  # the files a run writes, by hand
    ...     _ = Path(run_dir, "config.yaml").write_text("experiment:\n  name: copy_task\nseed: 0\n")
    ...     _ = Path(run_dir, "summary.json").write_text(json.dumps({"test_ce": 0.5}))
    ...     lines = [{"step": 10, "eval/ce": 0.9}, {"step": 20, "eval/ce": 0.5}]
    ...     text = "".join(json.dumps(line) + "\n" for line in lines)
    ...     _ = Path(run_dir, "metrics.jsonl").write_text(text)
    ...     run = load_run(run_dir, model=False)
    >>> run.config.experiment.name, run.summary["test_ce"], run.series("eval/ce")[1].tolist()
    ('copy_task', 0.5, [0.9, 0.5])
    """
    from jaxorth.train.load import load_run as _load_run

    return _load_run(run_dir, model=model)


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
    "load_run",
    "multilinear",
    "orthconv",
    "overestimate",
    "quant",
    "rnn",
    "sparse",
]
