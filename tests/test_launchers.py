"""The cluster path without a cluster: a sweep through the submitit plugin's local
executor (the plugin behind ``hydra/launcher=slurm``), and the message when the plugin
is missing."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("launcher", ["slurm", "submitit_local"])
def test_missing_plugin_names_the_extra(launcher, monkeypatch, capsys):
    import jaxorth.cli as cli

    monkeypatch.setattr(cli, "_has_module", lambda name: False)
    monkeypatch.setattr(sys, "argv", ["jaxorth", "-m", f"hydra/launcher={launcher}", "seed=0,1"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert f"hydra/launcher={launcher} needs the Hydra submitit launcher plugin" in err
    assert "pip install 'jaxorth[slurm]'" in err


def test_plugin_present_is_not_reported():
    from jaxorth.cli import missing_launcher_plugin

    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    assert missing_launcher_plugin(["-m", "hydra/launcher=slurm"]) is None
    assert missing_launcher_plugin(["-m", "hydra/launcher=basic"]) is None


@pytest.mark.slow
def test_two_job_sweep_through_the_submitit_local_executor(tmp_path, tiny_copy_run):
    """``jaxorth -m hydra/launcher=submitit_local ...`` as a user types it (a process of
    its own: the plugin's parent side is not meant to run inside pytest's capture)."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    argv = [
        "-m",
        "hydra/launcher=submitit_local",
        "experiment=copy_task",
        *tiny_copy_run,
        "seed=0,1",
    ]
    argv += [f"hydra.sweep.dir={sweep}", "hydra.launcher.timeout_min=10"]
    proc = subprocess.run(
        [sys.executable, "-m", "jaxorth.cli", *argv],
        cwd=tmp_path,
        env=dict(os.environ, WANDB_MODE="disabled"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # each job ran in its own process (submitit's), wrote its own run and summary
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name[0].isdigit())
    assert [p.name.split("_")[0] for p in jobs] == ["0", "1"]
    for seed, job in enumerate(jobs):
        summary = json.loads((job / "summary.json").read_text())
        assert summary["seed"] == seed and summary["test_ce"] > 0
        assert json.loads((job / "run.json").read_text())["status"] == "finished"
    assert any((sweep / ".submitit").iterdir())  # the executor's own job folders
    rows = json.loads((sweep / "sweep_summary.json").read_text())
    assert [r["status"] for r in rows] == ["finished", "finished"]
    assert [r["seed"] for r in rows] == [0, 1]
    assert "mean ± std over seed" in proc.stdout  # the table printed at the end
    # two seeds of one configuration: one aggregated row over n = 2
    agg = json.loads((sweep / "sweep_aggregate.json").read_text())
    assert len(agg) == 1 and agg[0]["n"] == 2
    ces = [json.loads((j / "summary.json").read_text())["test_ce"] for j in jobs]
    assert agg[0]["test_ce"] == pytest.approx(sum(ces) / 2)
