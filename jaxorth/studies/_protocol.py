"""The study protocol: what every ``experiment=NAME`` implements, and how it is run.

A study is four things (DESIGN.md, "The study protocol")::

    schema   a dataclass: the only place its defaults are written
    check    check(cfg) -> None: domain checks before any compute, errors name the key
    run      run(cfg, ctx) -> StudyResult: library calls and train.fit; tables, a
             summary dict and arrays worth plotting
    report   report(result, ctx) -> None: figures through jaxorth.report

and, for a study that trains one model, ``build_model(cfg)`` (the untrained model, so
that :func:`jaxorth.load_run` can rebuild a trained one from its checkpoint), all
bundled in a :class:`Study` and registered with :func:`register_study`. The framework
(:func:`run_study`) calls ``check`` then ``run`` (inside :func:`jaxorth.float64` when
``Study.float64`` is set), writes every table of the result (printed, ``<name>.md``,
``<name>.csv``), then calls ``report`` unless ``experiment.plot=false``, and returns the
summary (the CLI writes it to ``summary.json``). A study module therefore holds no
model, training loop or plotting code of its own beyond calls into the library,
:func:`jaxorth.train.fit` and :mod:`jaxorth.report`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from omegaconf import DictConfig

from jaxorth._precision import float64 as _float64
from jaxorth.studies._context import RunContext

__all__ = ["Study", "StudyResult", "Table", "config_key", "run_study"]


@dataclasses.dataclass(frozen=True)
class Table:
    """One results table: rows (dicts; keys in first-seen order) and a title.

    Examples
    --------
    >>> from jaxorth.report import format_table
    >>> from jaxorth.studies import Table
    >>> table = Table([{"k": 1, "rate": 0.5}, {"k": 2, "rate": 0.25}], title="Rates")
    >>> print(format_table(table.rows, title=table.title))  # what the framework writes
    ### Rates
    | k | rate |
    |---|------|
    | 1 | 0.5  |
    | 2 | 0.25 |
    """

    rows: Sequence[Mapping[str, Any]]
    title: str | None = None


@dataclasses.dataclass
class StudyResult:
    """What ``Study.run`` returns.

    Attributes
    ----------
    tables : dict[str, Table]
        Written by the framework as ``<name>.md`` / ``<name>.csv``, in insertion order.
    summary : dict[str, Any]
        Scalars worth comparing across runs: ``summary.json``, the tracker's summary and
        a sweep's ``sweep_summary.md``.
    arrays : dict[str, Any]
        Whatever ``report`` needs to draw its figures (curves, histories, spectra).

    Examples
    --------
    >>> from jaxorth.studies import StudyResult, Table
    >>> tables = {"rates": Table([{"k": 1, "rate": 0.5}])}
    >>> result = StudyResult(tables=tables, summary={"rate": 0.5})
    >>> list(result.tables), result.summary, result.arrays
    (['rates'], {'rate': 0.5}, {})
    """

    tables: dict[str, Table] = dataclasses.field(default_factory=dict)
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    arrays: dict[str, Any] = dataclasses.field(default_factory=dict)


def _no_check(cfg: DictConfig) -> None:
    return None


def _no_report(result: StudyResult, ctx: RunContext) -> None:
    return None


@dataclasses.dataclass(frozen=True)
class Study:
    """One study: ``experiment=name``.

    Attributes
    ----------
    name : str
        The Hydra option (``experiment=name``); equals the schema's ``name`` default.
    schema : type
        The dataclass of ``cfg.experiment``; its defaults are the study's defaults.
    run : Callable[[DictConfig, RunContext], StudyResult]
        The computation.
    check : Callable[[DictConfig], None]
        Domain checks of the whole config, before any compute; a failure raises
        ``ValueError`` naming the key (``data.T must be >= 1, got -5``).
    report : Callable[[StudyResult, RunContext], None]
        Figures from ``result.arrays`` through :mod:`jaxorth.report` and ``ctx``.
    float64 : bool
        Run ``check`` and ``run`` with ``jax_enable_x64`` on (spectral and identity
        studies whose claims are checked at float64 precision).
    build_model : Callable[[DictConfig], nnx.Module] or None
        For a study that trains one model: the model of ``cfg`` before training (the
        same one ``run`` trains, with the same initialization), which
        :func:`jaxorth.load_run` fills with the parameters of the last checkpoint.
        ``None`` for studies that train several models or none.

    Examples
    --------
    >>> import dataclasses
    >>> from omegaconf import OmegaConf
    >>> from jaxorth.studies import Study, StudyResult, config_key
    >>> @dataclasses.dataclass
    ... class Schema:  # the study's defaults: experiment.name and experiment.n
    ...     name: str = "tiny"
    ...     n: int = 3
    >>> def check(cfg):
    ...     with config_key("experiment.n", cfg.experiment.n):
    ...         if cfg.experiment.n < 1:
    ...             raise ValueError("must be >= 1")
    >>> def run(cfg, ctx):
    ...     return StudyResult(summary={"total": sum(range(cfg.experiment.n))})
    >>> study = Study("tiny", Schema, run, check=check)
    >>> study.name, study.float64, study.build_model is None
    ('tiny', False, True)
    >>> try:  # the schema's default name must be the study's
    ...     Study("other", Schema, run)
    ... except ValueError as error:
    ...     print(error)
    schema Schema must have a field `name: str = 'other'`, got 'tiny'
    """

    name: str
    schema: type
    run: Callable[[DictConfig, RunContext], StudyResult]
    check: Callable[[DictConfig], None] = _no_check
    report: Callable[[StudyResult, RunContext], None] = _no_report
    float64: bool = False
    build_model: Callable[[DictConfig], Any] | None = None

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.schema):
            raise TypeError(f"schema of study {self.name!r} must be a dataclass")
        default = {f.name: f.default for f in dataclasses.fields(self.schema)}.get("name")
        if default != self.name:
            raise ValueError(
                f"schema {self.schema.__name__} must have a field `name: str = "
                f"{self.name!r}`, got {default!r}"
            )


def check_study(study: Study, cfg: DictConfig) -> None:
    """Run ``study.check(cfg)`` (under float64 when the study asks for it).

    Examples
    --------
    >>> import dataclasses
    >>> from omegaconf import OmegaConf
    >>> from jaxorth.studies import Study, StudyResult, config_key
    >>> @dataclasses.dataclass
    ... class Schema:  # the study's defaults: experiment.name and experiment.n
    ...     name: str = "tiny"
    ...     n: int = 3
    >>> def check(cfg):
    ...     with config_key("experiment.n", cfg.experiment.n):
    ...         if cfg.experiment.n < 1:
    ...             raise ValueError("must be >= 1")
    >>> def run(cfg, ctx):
    ...     return StudyResult(summary={"total": sum(range(cfg.experiment.n))})
    >>> study = Study("tiny", Schema, run, check=check)
    >>> from jaxorth.studies import check_study
    >>> check_study(study, OmegaConf.create({"experiment": {"name": "tiny", "n": 2}}))  # passes
    >>> try:
    ...     check_study(study, OmegaConf.create({"experiment": {"name": "tiny", "n": 0}}))
    ... except ValueError as error:
    ...     print(error)
    experiment.n=0: must be >= 1
    """
    precision = _float64() if study.float64 else contextlib.nullcontext()
    with precision:
        study.check(cfg)


def run_study(
    study: Study, cfg: DictConfig, ctx: RunContext, *, check: bool = True
) -> dict[str, Any]:
    """Check, run and report ``study`` on ``cfg`` in ``ctx``; return the summary.

    ``check=False`` skips the config checks (the caller ran :func:`check_study` before
    opening the run directory).

    Examples
    --------
    >>> import dataclasses
    >>> from omegaconf import OmegaConf
    >>> from jaxorth.studies import Study, StudyResult, config_key
    >>> @dataclasses.dataclass
    ... class Schema:  # the study's defaults: experiment.name and experiment.n
    ...     name: str = "tiny"
    ...     n: int = 3
    >>> def check(cfg):
    ...     with config_key("experiment.n", cfg.experiment.n):
    ...         if cfg.experiment.n < 1:
    ...             raise ValueError("must be >= 1")
    >>> def run(cfg, ctx):
    ...     return StudyResult(summary={"total": sum(range(cfg.experiment.n))})
    >>> study = Study("tiny", Schema, run, check=check)
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.studies import RunContext, run_study
    >>> cfg = OmegaConf.create({"experiment": {"name": "tiny", "n": 4, "plot": False}})
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     summary = run_study(study, cfg, RunContext(Path(run_dir), echo=False))
    >>> summary  # 0 + 1 + 2 + 3
    {'total': 6}
    """
    precision = _float64() if study.float64 else contextlib.nullcontext()
    with precision:
        if check:
            study.check(cfg)
        result = study.run(cfg, ctx)
    if not isinstance(result, StudyResult):
        raise TypeError(
            f"study {study.name!r}: run must return a StudyResult, got {type(result).__name__}"
        )
    for name, table in result.tables.items():
        ctx.table(table.rows, title=table.title, name=name)
    if bool(cfg.experiment.get("plot", True)):
        study.report(result, ctx)
    return dict(result.summary)


@contextlib.contextmanager
def config_key(key: str, value: Any = dataclasses.MISSING) -> Iterator[None]:
    """Re-word a library ``ValueError`` with the config key that caused it.

    The math layer names its own parameters (``hidden_size must be a power of 2``); a
    study validating ``model.hidden`` wraps the call::

        with config_key("model.hidden", cfg.model.hidden):
            HadamRNNCell.check_args(...)

    and the user reads ``model.hidden=100: hidden_size must be a power of 2 ...``.

    Examples
    --------
    >>> from jaxorth.studies import config_key
    >>> try:
    ...     with config_key("model.hidden", 100):
    ...         raise ValueError("hidden_size must be a power of 2, got 100")
    ... except ValueError as error:
    ...     print(error)
    model.hidden=100: hidden_size must be a power of 2, got 100
    """
    try:
        yield
    except ValueError as err:
        shown = key if value is dataclasses.MISSING else f"{key}={_show(value)}"
        raise ValueError(f"{shown}: {err}") from None


def _show(value: Any) -> str:
    from omegaconf import ListConfig, OmegaConf

    if isinstance(value, ListConfig | DictConfig):
        return str(OmegaConf.to_container(value))
    return str(value)
