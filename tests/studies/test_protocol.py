"""The study protocol: run_study's order of work, float64 scoping, config_key."""

import dataclasses

import jax
import jax.numpy as jnp
import pytest
from omegaconf import OmegaConf

from jaxorth.studies import (
    STUDIES,
    RunContext,
    Study,
    StudyResult,
    Table,
    config_key,
    run_study,
)


@dataclasses.dataclass
class _Schema:
    name: str = "toy"
    n: int = 3
    plot: bool = True


def _cfg(**ex):
    return OmegaConf.create({"experiment": {**dataclasses.asdict(_Schema()), **ex}, "seed": 0})


def test_run_study_checks_runs_writes_tables_and_reports(tmp_path):
    calls = []

    def check(cfg):
        calls.append("check")
        if cfg.experiment.n < 1:
            raise ValueError(f"experiment.n must be >= 1, got {cfg.experiment.n}")

    def run(cfg, ctx):
        calls.append("run")
        rows = [{"i": i, "sq": i * i} for i in range(cfg.experiment.n)]
        return StudyResult({"results": Table(rows, "squares")}, {"total": 5}, {"x": [1]})

    def report(result, ctx):
        calls.append("report")
        assert (ctx.run_dir / "results.md").exists()  # tables are written before report

    study = Study("toy", _Schema, run=run, check=check, report=report)
    ctx = RunContext(tmp_path, echo=False)
    assert run_study(study, _cfg(), ctx) == {"total": 5}
    assert calls == ["check", "run", "report"]
    assert (tmp_path / "results.csv").read_text().splitlines() == ["i,sq", "0,0", "1,1", "2,4"]
    calls.clear()
    run_study(study, _cfg(plot=False), ctx)
    assert calls == ["check", "run"]
    calls.clear()
    with pytest.raises(ValueError, match="experiment.n must be >= 1, got 0"):
        run_study(study, _cfg(n=0), ctx)
    assert calls == ["check"]  # nothing computed


def test_float64_is_scoped_to_the_study(tmp_path):
    seen = {}

    def run(cfg, ctx):
        seen["dtype"] = jnp.ones(2).dtype
        return StudyResult()

    run_study(Study("toy", _Schema, run=run, float64=True), _cfg(), RunContext(tmp_path))
    assert seen["dtype"] == jnp.float64
    assert not jax.config.jax_enable_x64
    run_study(Study("toy", _Schema, run=run), _cfg(), RunContext(tmp_path))
    assert seen["dtype"] == jnp.float32


def test_run_must_return_a_study_result(tmp_path):
    study = Study("toy", _Schema, run=lambda cfg, ctx: {"a": 1})
    with pytest.raises(TypeError, match="must return a StudyResult"):
        run_study(study, _cfg(), RunContext(tmp_path))


def test_schema_name_must_match():
    with pytest.raises(ValueError, match="must have a field `name: str = 'other'`"):
        Study("other", _Schema, run=lambda cfg, ctx: StudyResult())
    with pytest.raises(TypeError, match="must be a dataclass"):
        Study("toy", dict, run=lambda cfg, ctx: StudyResult())


def test_config_key_rewords_library_errors():
    from jaxorth._checks import positive_int

    with pytest.raises(
        ValueError, match=r"^model.hidden=0: hidden_size must be a positive integer"
    ):
        with config_key("model.hidden", 0):
            positive_int(0, "hidden_size")
    with pytest.raises(ValueError, match=r"^experiment.sizes=\[1, -2\]: sizes"):
        with config_key("experiment.sizes", OmegaConf.create([1, -2])):
            raise ValueError("sizes must be positive")


def test_every_registered_study_is_a_study():
    assert STUDIES
    for name, study in STUDIES.items():
        assert isinstance(study, Study) and study.name == name
