"""``jaxorth.load_run``: a finished tiny copy-task run read back, its model rebuilt."""

import json
import shutil

import jax
import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

import jaxorth
from jaxorth.cli import run_experiment
from jaxorth.data import copy_task_batch, copy_task_metrics


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_copy_run):
    run_dir = tmp_path_factory.mktemp("load") / "run"
    run_experiment([*tiny_copy_run, "seed=3"], run_dir)
    return run_dir


def _test_ce(model, cfg):
    """The copy task's test cross-entropy, on the test batch the study draws."""
    _, test_key = jax.random.split(jax.random.fold_in(jax.random.key(int(cfg.seed)), 1))
    d = cfg.data
    x, y = copy_task_batch(test_key, int(d.test_size), int(d.T), int(d.n_symbols), int(d.n_recall))
    return float(copy_task_metrics(model, x, y, int(d.n_recall))["ce"])


@pytest.mark.slow
def test_load_run_rebuilds_the_trained_model(finished_run):
    run = jaxorth.load_run(finished_run)
    assert run.status == "finished" and run.step == 4
    # the config is config.yaml, the summary summary.json
    stored = yaml.safe_load((finished_run / "config.yaml").read_text())
    assert OmegaConf.to_container(run.config) == stored
    assert run.summary == json.loads((finished_run / "summary.json").read_text())
    # the model of the last checkpoint gives the test loss the run reported
    ce = _test_ce(run.model, run.config)
    assert ce == pytest.approx(run.summary["test_ce"], rel=1e-6)
    from jaxorth.studies import STUDIES

    untrained = STUDIES["copy_task"].build_model(run.config)
    assert abs(_test_ce(untrained, run.config) - run.summary["test_ce"]) > 1e-5
    # the metrics are metrics.jsonl's, per key, with their steps
    lines = [json.loads(line) for line in (finished_run / "metrics.jsonl").read_text().splitlines()]
    for key in ("train/loss", "eval/ce"):
        logged = [(r["step"], r[key]) for r in lines if key in r]
        steps, values = run.series(key)
        assert steps.tolist() == [s for s, _ in logged]
        np.testing.assert_array_equal(values, [v for _, v in logged])
    assert run.metrics["train/loss"].dtype == np.float64 and run.steps["eval/ce"].tolist() == [4]
    pd = pytest.importorskip("pandas")
    frame = run.frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(lines)
    assert frame["train/loss"].dropna().tolist() == run.metrics["train/loss"].tolist()
    with pytest.raises(KeyError, match="no metric 'eval/acc'.*eval/ce"):
        run.series("eval/acc")


def test_load_run_errors_and_runs_without_a_model(finished_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a jaxorth run directory: it does not"):
        jaxorth.load_run(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="has no config.yaml"):
        jaxorth.load_run(tmp_path)
    # a run whose checkpoints are gone: the files still load with model=False
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy, ignore=shutil.ignore_patterns("checkpoints"))
    with pytest.raises(FileNotFoundError, match=r"has no checkpoint.*model=False"):
        jaxorth.load_run(copy)
    files_only = jaxorth.load_run(copy, model=False)
    assert files_only.model is None and files_only.summary["steps"] == 4
    # a study of several models has no build_model: no model, and a note saying why
    several = tmp_path / "several"
    several.mkdir()
    (several / "config.yaml").write_text("experiment:\n  name: dln_landscape\nseed: 0\n")
    loaded = jaxorth.load_run(several)
    assert loaded.model is None and "no single model" in loaded.note
    assert loaded.summary is None and loaded.metrics == {} and loaded.status is None


def test_single_model_studies_have_build_model():
    from jaxorth.studies import STUDIES

    have = {name for name, study in STUDIES.items() if study.build_model is not None}
    assert {"copy_task", "adding_task", "smnist", "pmnist", "text_classification", "har"} <= have
