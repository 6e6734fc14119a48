"""Fault matrix of the ``jaxorth`` command, each fault in a real subprocess.

One uninterrupted run is the reference. Every other run in the same config is hurt in
one way (SIGKILL, Ctrl-C, SIGTERM, a corrupt newest checkpoint in three ways, a second
writer, another config in the same directory, a rerun of the finished command) and must
end with the reference's final metrics, bit for bit, and a ``metrics.jsonl`` that has
every logged step exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ARGS = [
    "experiment=copy_task",
    "model.hidden=32",
    "data.T=30",
    "train.batch_size=32",
    "data.test_size=64",
    "train.steps=200",
    "train.checkpoint_every=20",
    "train.log_every=20",
    "train.eval_every=0",
    "train.progress=false",
]
FINAL = ("test_ce", "recall_acc")
LOGGED = list(range(20, 201, 20))


def _cli(run_dir: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, JAX_PLATFORMS="cpu", WANDB_MODE="disabled")
    return subprocess.Popen(
        [sys.executable, "-m", "jaxorth.cli", *ARGS, *extra, f"hydra.run.dir={run_dir}"],
        cwd=run_dir.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen, ok: bool = True) -> tuple[str, str]:
    out, err = proc.communicate(timeout=300)
    if ok:
        assert proc.returncode == 0, err[-3000:]
    return out, err


def _latest(run_dir: Path) -> int:
    ckpt = run_dir / "checkpoints"
    steps = [int(p.name) for p in ckpt.iterdir() if p.name.isdigit()] if ckpt.exists() else []
    return max(steps, default=0)


def _signal_after(proc: subprocess.Popen, run_dir: Path, step: int, sig: int) -> None:
    """Send ``sig`` once a checkpoint at ``step`` or later is on disk."""
    deadline = time.time() + 240
    while time.time() < deadline and _latest(run_dir) < step and proc.poll() is None:
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before the fault could be injected"
    proc.send_signal(sig)


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _logged_steps(run_dir: Path) -> list[int]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x)["step"] for x in lines if "train/loss" in x]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("faults") / "straight"
    _finish(_cli(run_dir, "experiment.plot=true"))
    assert _logged_steps(run_dir) == LOGGED
    return run_dir


def test_kill_ctrl_c_and_sigterm_then_resume_equal_the_uninterrupted_run(reference):
    run_dir = reference.parent / "chain"
    # 1. SIGKILL after the first checkpoint; a second writer is refused meanwhile
    first = _cli(run_dir)
    _signal_after(first, run_dir, 20, signal.SIGKILL)
    first.communicate(timeout=60)
    assert not (run_dir / "summary.json").exists()
    # 2. Ctrl-C: one line, a checkpoint, exit 130
    second = _cli(run_dir)
    _signal_after(second, run_dir, _latest(run_dir) + 40, signal.SIGINT)
    out, err = _finish(second, ok=False)
    assert second.returncode == 130, err[-3000:]
    assert "removing the stale lock" in out + err, "the SIGKILLed run's lock is stale"
    last = err.strip().splitlines()[-1]
    assert last.startswith("jaxorth: interrupted by SIGINT at step") and "resume" in last
    assert "Traceback" not in err, err[-2000:]
    stopped = _latest(run_dir)
    assert f"step {stopped};" in last
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    # 3. SIGTERM (what SLURM sends before preempting), exit 143
    third = _cli(run_dir)
    _signal_after(third, run_dir, stopped + 40, signal.SIGTERM)
    _, err = _finish(third, ok=False)
    assert third.returncode == 143 and "SIGTERM" in err and "Traceback" not in err, err[-3000:]
    # 4. resumed to the end
    _finish(_cli(run_dir))
    a, b = _summary(run_dir), _summary(reference)
    assert a["resumed_from"] is not None and a["steps_run"] < 200
    assert {k: a[k] for k in FINAL} == {k: b[k] for k in FINAL}
    assert _logged_steps(run_dir) == LOGGED, "metrics.jsonl lost or repeated steps"


def _truncate_data_file(step_dir: Path) -> str:
    biggest = max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])
    return biggest.name


def _empty_metadata(step_dir: Path) -> str:
    found = [p for p in step_dir.rglob("_METADATA") if p.is_file()]
    assert found, sorted(str(p.relative_to(step_dir)) for p in step_dir.rglob("*"))
    for p in found:
        p.write_bytes(b"")
    return "_METADATA"


def _remove_manifest(step_dir: Path) -> str:
    found = [p for p in step_dir.rglob("manifest.ocdbt") if p.is_file()]
    assert found, sorted(str(p.relative_to(step_dir)) for p in step_dir.rglob("*"))
    for p in found:
        p.unlink()
    return "manifest.ocdbt"


@pytest.mark.parametrize("corrupt", [_truncate_data_file, _empty_metadata, _remove_manifest])
def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous_one(reference, corrupt):
    """A run killed after its last checkpoint was written, the checkpoint then damaged."""
    run_dir = reference.parent / f"corrupt_{corrupt.__name__}"
    shutil.copytree(reference, run_dir)
    state = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**state, "status": "running"}))
    (run_dir / "summary.json").unlink()
    corrupt(run_dir / "checkpoints" / "200")
    _, err = _finish(_cli(run_dir))
    assert "200" in err and "checkpoint" in err.lower(), err[-2000:]
    a, b = _summary(run_dir), _summary(reference)
    assert a["resumed_from"] == 180
    assert {k: a[k] for k in FINAL} == {k: b[k] for k in FINAL}
    assert _logged_steps(run_dir) == LOGGED
    kept_aside = [p for p in run_dir.rglob("*") if p.is_dir() and "corrupt" in p.name]
    assert kept_aside, "the corrupt checkpoint must be kept aside, not deleted"


def test_another_config_a_finished_rerun_and_two_writers(reference):
    files = {p.name: p.read_bytes() for p in reference.iterdir() if p.is_file()}
    # another config in the same directory: refused before compute, nothing touched
    out, err = _finish(_cli(reference, "seed=1", "model=hadamrnn"), ok=False)
    assert _cli_failed(err, "holds a run of another config")
    assert "seed: 0 -> 1" in err and "train.resume=false" in err and "hydra.run.dir" in err
    # the finished command again: its summary, nothing recomputed or redrawn
    out, err = _finish(_cli(reference, "experiment.plot=true"))
    assert "nothing was recomputed" in out and '"test_ce"' in out
    after = {p.name: p.read_bytes() for p in reference.iterdir() if p.is_file()}
    for name in ("summary.json", "metrics.jsonl", "loss.png", "results.md", "config.yaml"):
        assert after[name] == files[name], f"{name} changed"
    # two writers started together in a fresh directory: one trains, the other is refused
    both_dir = reference.parent / "two_writers"
    procs = [_cli(both_dir), _cli(both_dir)]
    results = [(p, *_finish(p, ok=False)) for p in procs]
    trained = [r for r in results if r[0].returncode == 0 and "nothing was recomputed" not in r[1]]
    assert len(trained) == 1, [(p.returncode, e[-500:]) for p, _, e in results]
    for p, out, err in results:
        if p is not trained[0][0]:
            assert "nothing was recomputed" in out or _cli_failed(err, "is in use by process")
    assert _logged_steps(both_dir) == LOGGED
    assert _summary(both_dir)["test_ce"] == _summary(reference)["test_ce"]


def _cli_failed(err: str, text: str) -> bool:
    return text in err
