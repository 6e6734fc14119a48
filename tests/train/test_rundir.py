"""Run directories: fingerprint, lock, finished runs, archiving (jaxorth.train.rundir)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from jaxorth.train.rundir import (
    RunConfigMismatch,
    RunDirLocked,
    config_diff,
    fingerprint,
    open_run,
)

CFG = {
    "seed": 0,
    "data": {"T": 10},
    "model": {"name": "ornn", "hidden": 8},
    "train": {"steps": 100, "progress": False, "checkpoint_every": 10},
    "tracking": {"backend": "jsonl"},
}


def _cfg(**changes):
    cfg = json.loads(json.dumps(CFG))
    for key, value in changes.items():
        node = cfg
        *head, last = key.split("__")
        for k in head:
            node = node[k]
        node[last] = value
    return cfg


def _finish(run, steps=100):
    (run.path / "summary.json").write_text(json.dumps({"test_ce": 0.5, "steps": steps}))
    run.mark("finished")
    run.close()


def test_fingerprint_ignores_only_the_volatile_keys():
    base = fingerprint(CFG)
    assert fingerprint(_cfg(train__steps=400, train__progress=True)) == base
    assert fingerprint(_cfg(tracking__backend="wandb", train__checkpoint_every=0)) == base
    assert fingerprint(_cfg(seed=1)) != base
    assert fingerprint(_cfg(model__name="hadamrnn")) != base
    assert config_diff(CFG, _cfg(seed=1, data__T=20)) == ["data.T: 10 -> 20", "seed: 0 -> 1"]


def test_another_config_is_refused_before_anything_changes(tmp_path):
    run = open_run(tmp_path, CFG, steps=100)
    (tmp_path / "metrics.jsonl").write_text('{"step": 10, "train/loss": 1.0}\n')
    run.close()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(RunConfigMismatch) as err:
        open_run(tmp_path, _cfg(seed=1, model__name="hadamrnn"), steps=100)
    text = str(err.value)
    assert "model.name: 'ornn' -> 'hadamrnn'" in text and "seed: 0 -> 1" in text
    assert "hydra.run.dir" in text and "train.resume=false" in text
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before, "a refused run must not touch the directory"
    assert not (tmp_path / ".lock").exists(), "the refused run must release its lock"


def test_same_config_resumes_and_a_finished_run_is_returned_as_it_is(tmp_path):
    run = open_run(tmp_path, CFG, steps=100)
    assert run.action == "fresh"
    run.close()  # killed before it finished
    run = open_run(tmp_path, _cfg(train__progress=True), steps=100)
    assert run.action == "resume"
    _finish(run)
    again = open_run(tmp_path, CFG, steps=100)
    assert again.action == "finished" and again.summary == {"test_ce": 0.5, "steps": 100}
    assert "nothing was recomputed" in again.message
    again.close()
    fewer = open_run(tmp_path, _cfg(train__steps=50), steps=50)
    assert fewer.action == "finished" and "100 steps > train.steps=50" in fewer.message
    fewer.close()
    more = open_run(tmp_path, _cfg(train__steps=200), steps=200)
    assert more.action == "continue" and "from 100 to 200 steps" in more.message
    more.close()


def test_resume_false_archives_the_old_run(tmp_path):
    run = open_run(tmp_path, CFG, steps=100)
    (tmp_path / "metrics.jsonl").write_text('{"step": 10}\n')
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "results.md").write_text("table")
    run.record_output(tmp_path / "results.md")
    (tmp_path / "notes.txt").write_text("the user's own file")
    _finish(run)
    fresh = open_run(tmp_path, _cfg(seed=3), resume=False, steps=100)
    assert fresh.action == "fresh" and fresh.archived is not None
    moved = {p.name for p in fresh.archived.iterdir()}
    assert {"metrics.jsonl", "checkpoints", "results.md", "summary.json", "run.json"} <= moved
    assert (tmp_path / "notes.txt").exists(), "files the run did not write stay"
    assert not (tmp_path / "metrics.jsonl").exists()
    state = json.loads((tmp_path / "run.json").read_text())
    assert state["status"] == "running" and state["config"]["seed"] == 3
    fresh.close()


def test_a_live_owner_locks_the_directory_and_a_stale_lock_is_taken_over(tmp_path, caplog):
    run = open_run(tmp_path, CFG, steps=100)
    with pytest.raises(RunDirLocked, match=rf"in use by process {os.getpid()} on this host"):
        open_run(tmp_path, CFG, steps=100)
    run.close()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(dead.stdout)
    (tmp_path / ".lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
    run = open_run(tmp_path, CFG, steps=100)
    assert f"removing the stale lock of process {pid}" in caplog.text
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    run.close()
    assert not (tmp_path / ".lock").exists()


def test_a_directory_written_before_run_json_is_matched_by_its_config_yaml(tmp_path):
    import yaml

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CFG))
    (tmp_path / "metrics.jsonl").write_text("")
    run = open_run(tmp_path, _cfg(train__steps=300), steps=300)
    assert run.action == "resume"
    run.close()
    (tmp_path / "run.json").unlink()
    with pytest.raises(RunConfigMismatch, match="seed: 0 -> 2"):
        open_run(tmp_path, _cfg(seed=2), steps=100)


def test_an_unfinished_run_without_training_steps_is_archived_not_resumed(tmp_path):
    """A study with nothing to resume from (no train section) starts over, cleanly."""
    study = {"seed": 0, "experiment": {"name": "dln_landscape"}}
    run = open_run(tmp_path, study)
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "x": 1.0}\n')
    run.close()  # crashed before it finished
    again = open_run(tmp_path, study)
    assert again.action == "fresh" and again.archived is not None
    assert (again.archived / "metrics.jsonl").exists()
    assert not (tmp_path / "metrics.jsonl").exists() and "starting over" in again.message
    again.close()
