"""Load a finished (or interrupted) run directory back into Python: :func:`load_run`.

A run directory (see :mod:`jaxorth.train.rundir` and the ``jaxorth`` command) holds the
resolved ``config.yaml``, ``summary.json``, ``metrics.jsonl`` and the Orbax checkpoints
of training (``checkpoints/<step>/``). :func:`load_run` reads them back and rebuilds the
trained model: the study's ``build_model(cfg)`` gives the untrained model (same
structure and initialization as the run's), and the parameters of the newest checkpoint
replace its own (:meth:`jaxorth.train.Checkpointer.restore_entry`; the optimizer state
is not needed). A notebook can then analyse the trained model: its Hessian spectrum
(:func:`jaxorth.hessian.from_nnx`), its layers' singular values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxorth.train.tracking import read_records

__all__ = ["LoadedRun", "load_run", "metric_arrays", "restore_model"]


@dataclasses.dataclass
class LoadedRun:
    r"""What :func:`load_run` returns.

    Attributes
    ----------
    path : Path
        The run directory.
    config : omegaconf.DictConfig
        The resolved config (``config.yaml``), as the run saw it.
    summary : dict or None
        ``summary.json`` (``None`` for a run that did not finish).
    metrics : dict[str, numpy.ndarray]
        Every logged metric (``metrics.jsonl``) as the array of its values, in logging
        order (only the records that hold the key).
    steps : dict[str, numpy.ndarray]
        The step of each value in :attr:`metrics` (same keys, same lengths).
    records : list of dict
        The records of ``metrics.jsonl`` as they are (``step`` and the logged keys).
    model : flax.nnx.Module or None
        The trained model rebuilt from the newest checkpoint; ``None`` when it was not
        asked for (``model=False``) or the study has no single model (see :attr:`note`).
    step : int or None
        The step of the checkpoint :attr:`model` comes from.
    status : str or None
        ``run.json``'s status: ``finished``, ``interrupted``, ``failed``, ``running``.
    note : str
        Why :attr:`model` is ``None``, when it is.

    Examples
    --------
    >>> import json
    >>> from jaxorth.train import load_run
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as run_dir:  # the files a run writes, by hand
    ...     _ = Path(run_dir, "config.yaml").write_text("experiment:\n  name: copy_task\nseed: 0\n")
    ...     _ = Path(run_dir, "summary.json").write_text(json.dumps({"test_ce": 0.5}))
    ...     lines = [{"step": 10, "eval/ce": 0.9}, {"step": 20, "eval/ce": 0.5}]
    ...     text = "".join(json.dumps(line) + "\n" for line in lines)
    ...     _ = Path(run_dir, "metrics.jsonl").write_text(text)
    ...     run = load_run(run_dir, model=False)
    >>> run.steps["eval/ce"].tolist(), run.metrics["eval/ce"].tolist(), run.model is None
    ([10, 20], [0.9, 0.5], True)
    >>> run.note
    'model=False: the model was not rebuilt'
    """

    path: Path
    config: Any
    summary: dict[str, Any] | None
    metrics: dict[str, np.ndarray]
    steps: dict[str, np.ndarray]
    records: list[dict[str, Any]]
    model: Any = None
    step: int | None = None
    status: str | None = None
    note: str = ""

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of the metric ``key`` (e.g. ``"eval/ce"``)."""
        if key not in self.metrics:
            raise KeyError(f"no metric {key!r} in {self.path}; logged: {sorted(self.metrics)}")
        return self.steps[key], self.metrics[key]

    def frame(self) -> Any:
        """The records as a pandas ``DataFrame`` (one row per record; needs pandas)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "LoadedRun.frame needs pandas (pip install pandas); the metrics are in "
                ".metrics and .steps as numpy arrays"
            ) from err
        return pd.DataFrame.from_records(self.records)


def metric_arrays(
    records: Sequence[dict[str, Any]],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(values, steps)``: for each key of ``records`` (but ``step``), its arrays.

    A key's arrays hold the records that have the key, in order; numbers give a numeric
    array, anything else an ``object`` array.
    """
    values: dict[str, list[Any]] = {}
    steps: dict[str, list[int]] = {}
    for record in records:
        step = int(record.get("step", -1))
        for key, value in record.items():
            if key == "step":
                continue
            values.setdefault(key, []).append(value)
            steps.setdefault(key, []).append(step)
    arrays = {}
    for key, items in values.items():
        numeric = all(isinstance(v, int | float) for v in items)  # bools are ints
        arrays[key] = np.asarray(items) if numeric else np.asarray(items, dtype=object)
    return arrays, {k: np.asarray(v, dtype=np.int64) for k, v in steps.items()}


def restore_model(model: Any, run_dir: str | os.PathLike[str]) -> int:
    """Put the parameters of ``run_dir``'s newest checkpoint into ``model``; return its step.

    ``model`` is an NNX module of the run's structure (its ``nnx.Param`` leaves are
    replaced in place; the other state is kept, as training keeps it).

    Raises
    ------
    FileNotFoundError
        If ``run_dir/checkpoints`` holds no checkpoint.
    CheckpointMismatchError
        If the checkpoint holds other parameters than ``model`` has.
    """
    from flax import nnx

    from jaxorth.train.checkpoint import Checkpointer

    folder = Path(run_dir) / "checkpoints"
    has_steps = folder.is_dir() and any(p.name.isdigit() for p in folder.iterdir())
    if not has_steps:
        raise FileNotFoundError(
            f"{Path(run_dir)} has no checkpoint ({folder} holds no step folder): the "
            "trained model cannot be rebuilt (a run saves its last step when "
            "train.checkpoint_every > 0); load_run(..., model=False) reads the rest"
        )
    with Checkpointer(folder) as checkpointer:
        step = checkpointer.latest_step()
        if step is None:
            raise FileNotFoundError(f"{folder} holds no complete checkpoint")
        params = checkpointer.restore_entry(step, "params", nnx.state(model, nnx.Param))
    nnx.update(model, params)
    return int(step)


def _read_json(path: Path) -> Any:
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def load_run(
    run_dir: str | os.PathLike[str],
    *,
    model: bool = True,
    build_model: Callable[[Any], Any] | None = None,
) -> LoadedRun:
    r"""Read a run directory: config, summary, metrics and the trained model.

    Parameters
    ----------
    run_dir : path
        A run directory written by ``jaxorth`` (or :func:`jaxorth.cli.run_experiment`).
    model : bool
        Rebuild the trained model (default). ``False`` reads only the files.
    build_model : callable, optional
        ``build_model(cfg) -> nnx.Module``: the untrained model of the run's config. By
        default the study's own (``Study.build_model`` of ``experiment.name``); studies
        that train several models (or none) have none, and :attr:`LoadedRun.model` is
        then ``None`` with a :attr:`LoadedRun.note`.

    Returns
    -------
    LoadedRun
        ``config``, ``summary``, ``metrics`` / ``steps`` (numpy arrays per key; ``frame()``
        gives a pandas DataFrame), ``model`` and the checkpoint ``step``.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` is not a run directory (no ``config.yaml``), or the model is asked
        for and the run has no checkpoint.

    Examples
    --------
    >>> import json
    >>> from jaxorth.train import load_run
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as run_dir:  # the files a run writes, by hand
    ...     _ = Path(run_dir, "config.yaml").write_text("experiment:\n  name: copy_task\nseed: 0\n")
    ...     _ = Path(run_dir, "summary.json").write_text(json.dumps({"test_ce": 0.5}))
    ...     lines = [{"step": 10, "eval/ce": 0.9}, {"step": 20, "eval/ce": 0.5}]
    ...     text = "".join(json.dumps(line) + "\n" for line in lines)
    ...     _ = Path(run_dir, "metrics.jsonl").write_text(text)
    ...     run = load_run(run_dir, model=False)
    >>> run.config.seed, run.summary, run.records[-1]
    (0, {'test_ce': 0.5}, {'step': 20, 'eval/ce': 0.5})
    """
    from omegaconf import OmegaConf

    path = Path(run_dir)
    config_file = path / "config.yaml"
    if not config_file.is_file():
        what = "does not exist" if not path.exists() else "has no config.yaml"
        raise FileNotFoundError(
            f"{path} is not a jaxorth run directory: it {what} (a run writes its resolved "
            "config.yaml, summary.json, metrics.jsonl and checkpoints/ there)"
        )
    cfg = OmegaConf.load(config_file)
    state = _read_json(path / "run.json")
    records = read_records(path / "metrics.jsonl")
    metrics, steps = metric_arrays(records)
    loaded = LoadedRun(
        path=path,
        config=cfg,
        summary=_read_json(path / "summary.json"),
        metrics=metrics,
        steps=steps,
        records=records,
        status=state.get("status") if isinstance(state, dict) else None,
    )
    if not model:
        loaded.note = "model=False: the model was not rebuilt"
        return loaded
    precision: Any = contextlib.nullcontext()
    if build_model is None:
        import jaxorth.studies as studies

        name = str(cfg.experiment.name)
        study = studies.STUDIES.get(name)
        if study is None:
            raise ValueError(f"{path}: experiment.name={name!r} is not a known study")
        build_model = study.build_model
        if build_model is None:
            loaded.note = (
                f"study {name!r} trains no single model (no Study.build_model): model is None; "
                "pass build_model=... to rebuild one of its models"
            )
            return loaded
        if study.float64:
            from jaxorth._precision import float64

            precision = float64()
    with precision:
        net = build_model(cfg)
        loaded.step = restore_model(net, path)
    loaded.model = net
    return loaded
