"""Fault matrix of the ``jaxorth`` command, every signal sent to a real subprocess.

One uninterrupted run is the reference. Every other run in the same config is hurt in
one way (SIGKILL, Ctrl-C, SIGTERM, a corrupt newest checkpoint in three ways, a second
writer, another config in the same directory, a rerun of the finished command) and must
end with the reference's final metrics, bit for bit, and a ``metrics.jsonl`` that has
every logged step exactly once.

The runs that need no process of their own (the reference, another config refused, the
finished command rerun, the second writer, the last resume of the interrupted runs, the
resume past corrupt checkpoints) call the same entry point, :func:`jaxorth.cli.main`,
in this process (its exit status, stdout and stderr are the command's; the compiled
programs are the subprocesses', shared through the suite's persistent compilation
cache, so the numbers are the same). Every run that a signal stops is a real process;
the second writer is refused the lock that one of them holds.
Only the reference run draws its figure (``experiment.plot`` is not fingerprinted), so
that the rerun can check that nothing is redrawn.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# the model and batch shapes of tests/test_cli.py's TINY runs: the programs compiled by
# either file are loaded from the suite's compilation cache by the other
ARGS = [
    "experiment=copy_task",
    "model.hidden=8",
    "data.T=5",
    "train.batch_size=8",
    "data.test_size=16",
    "train.steps=120",
    "train.checkpoint_every=20",
    "train.keep_checkpoints=4",
    "train.log_every=20",
    "train.eval_every=0",
    "train.progress=false",
]
FINAL = ("test_ce", "recall_acc")
LOGGED = list(range(20, 121, 20))


def _cli(run_dir: Path, *extra: str, plot: bool = False) -> subprocess.Popen:
    env = dict(
        os.environ,
        WANDB_MODE="disabled",
        # the runs share their compiled programs with each other and with the in-process
        # runs (the suite's persistent cache, inherited: the same executables, loaded, so
        # the numbers do not change), which halves each process's time
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1",
    )
    # JAX_PLATFORMS unset, as a user has it: JAX then logs (INFO) that it found no TPU,
    # a line the command keeps out of its output (checked on the SIGINT run)
    env.pop("JAX_PLATFORMS", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jaxorth.cli",
            *ARGS,
            *extra,
            f"experiment.plot={str(plot).lower()}",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=run_dir.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _main_here(monkeypatch, capsys, run_dir: Path, *extra: str) -> tuple[object, str, str]:
    """``jaxorth ARGS extra`` run by :func:`jaxorth.cli.main` in this process: (exit code,
    stdout, stderr). Hydra leaves this process's logging as it is."""
    from jaxorth.cli import main

    argv = [*ARGS, *extra, f"hydra.run.dir={run_dir}"]
    argv += ["hydra/job_logging=none", "hydra/hydra_logging=none"]
    monkeypatch.setattr(sys, "argv", ["jaxorth", *argv])
    monkeypatch.chdir(run_dir.parent)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


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


def _wait_for_lock(run_dir: Path, proc: subprocess.Popen) -> None:
    """Return once ``proc`` holds ``run_dir``'s lock."""
    lock = run_dir / ".lock"
    deadline = time.time() + 240
    while time.time() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads(lock.read_text())["pid"] == proc.pid:
                return
        assert proc.poll() is None, "the run ended before taking the lock"
        time.sleep(0.005)
    raise AssertionError("the run never took the lock")


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _logged_steps(run_dir: Path) -> list[int]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x)["step"] for x in lines if "train/loss" in x]


def _truncate_data_file(step_dir: Path) -> None:
    biggest = max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])


def _empty_metadata(step_dir: Path) -> None:
    found = [p for p in step_dir.rglob("_METADATA") if p.is_file()]
    assert found, sorted(str(p.relative_to(step_dir)) for p in step_dir.rglob("*"))
    for p in found:
        p.write_bytes(b"")


def _remove_manifest(step_dir: Path) -> None:
    found = [p for p in step_dir.rglob("manifest.ocdbt") if p.is_file()]
    assert found, sorted(str(p.relative_to(step_dir)) for p in step_dir.rglob("*"))
    for p in found:
        p.unlink()


def _equal_final(a: Path, b: Path) -> None:
    sa, sb = _summary(a), _summary(b)
    assert {k: sa[k] for k in FINAL} == {k: sb[k] for k in FINAL}, (a.name, sa, sb)
    assert _logged_steps(a) == LOGGED, f"{a.name}: metrics.jsonl lost or repeated steps"


def test_fault_matrix(tmp_path, monkeypatch, capsys, caplog):
    """One uninterrupted run, then every fault; the final metrics always equal its own.

    (One test, so that the reference run is computed once on whichever worker runs it.)
    """
    reference = tmp_path / "straight"
    code, _, err = _main_here(monkeypatch, capsys, reference, "experiment.plot=true")
    assert code in (0, None), err[-3000:]
    assert _logged_steps(reference) == LOGGED
    files = {p.name: p.read_bytes() for p in reference.iterdir() if p.is_file()}

    # another config in the same directory: refused before compute, nothing touched
    code, out, err = _main_here(monkeypatch, capsys, reference, "seed=1", "model=hadamrnn")
    assert code == 2 and proc_failed(err, "holds a run of another config"), err[-2000:]
    assert "seed: 0 -> 1" in err and "train.resume=false" in err and "hydra.run.dir" in err
    assert "Traceback" not in err
    # the finished command again: its summary, nothing recomputed or redrawn
    code, out, err = _main_here(monkeypatch, capsys, reference, "experiment.plot=true")
    assert code in (0, None), err[-3000:]
    assert "nothing was recomputed" in out and '"test_ce"' in out
    after = {p.name: p.read_bytes() for p in reference.iterdir() if p.is_file()}
    for name in ("summary.json", "metrics.jsonl", "loss.png", "results.md", "config.yaml"):
        assert after[name] == files[name], f"{name} changed"
    assert after.keys() == files.keys()

    chain = tmp_path / "chain"
    # SIGKILL after the first checkpoint
    first = _cli(chain)
    _signal_after(first, chain, 20, signal.SIGKILL)
    first.communicate(timeout=60)
    assert not (chain / "summary.json").exists()
    # Ctrl-C: finish the step, checkpoint, one line, exit 130
    second = _cli(chain)
    _signal_after(second, chain, _latest(chain) + 20, signal.SIGINT)
    out, err = _finish(second, ok=False)
    assert second.returncode == 130, err[-3000:]
    assert "removing the stale lock" in out + err, "the SIGKILLed run's lock is stale"
    last = err.strip().splitlines()[-1]
    assert last.startswith("jaxorth: interrupted by SIGINT at step") and "resume" in last
    assert "Traceback" not in err, err[-2000:]
    # third-party INFO lines stay out of the output and of the run's log; jaxorth's stay
    for text in (out + err, (chain / "cli.log").read_text()):
        assert "Unable to initialize backend" not in text, text[-2000:]
        loggers = set(re.findall(r"\]\[([\w.]+)\]\[(?:INFO|DEBUG)\]", text))
        assert all(name.startswith("jaxorth") for name in loggers), loggers
    assert f"step {_latest(chain)};" in last
    assert json.loads((chain / "run.json").read_text())["status"] == "interrupted"
    # a second writer: while a run holds the lock (paused, so that it cannot end
    # first), the same command is refused with exit status 2; then SIGTERM (what SLURM
    # sends before preempting a job) stops the run that holds the lock: exit 143
    target = _latest(chain) + 20
    owner = _cli(chain)
    _wait_for_lock(chain, owner)
    owner.send_signal(signal.SIGSTOP)
    code, _, err = _main_here(monkeypatch, capsys, chain)
    owner.send_signal(signal.SIGCONT)
    assert code == 2 and proc_failed(err, f"is in use by process {owner.pid}"), err[-2000:]
    _signal_after(owner, chain, target, signal.SIGTERM)
    _, err = _finish(owner, ok=False)
    assert owner.returncode == 143 and "SIGTERM" in err and "Traceback" not in err, err[-3000:]
    # resumed to the end (in this process)
    code, _, err = _main_here(monkeypatch, capsys, chain)
    assert code in (0, None), err[-3000:]
    summary = _summary(chain)
    assert summary["resumed_from"] is not None and summary["steps_run"] < 120
    _equal_final(chain, reference)

    # the three corruptions of the newest checkpoints at once (a run killed after its
    # step-120 checkpoint): 120 truncated, 100 without _METADATA, 80 without manifest;
    # each is skipped with a warning and kept aside, the run resumes from 60
    corrupt = tmp_path / "corrupt"
    shutil.copytree(reference, corrupt)
    state = json.loads((corrupt / "run.json").read_text())
    (corrupt / "run.json").write_text(json.dumps({**state, "status": "running"}))
    (corrupt / "summary.json").unlink()
    assert sorted(int(p.name) for p in (corrupt / "checkpoints").iterdir() if p.name.isdigit()) == [
        60,
        80,
        100,
        120,
    ]
    _truncate_data_file(corrupt / "checkpoints" / "120")
    _empty_metadata(corrupt / "checkpoints" / "100")
    _remove_manifest(corrupt / "checkpoints" / "80")
    caplog.clear()
    with caplog.at_level("WARNING", logger="jaxorth"):
        code, out, err = _main_here(monkeypatch, capsys, corrupt)
    assert code in (0, None), err[-3000:]
    said = out + err + caplog.text  # the warnings go to the log (stderr in a process)
    for step in (120, 100, 80):
        assert f"checkpoint step {step} in" in said, said[-3000:]
        assert (corrupt / "checkpoints_corrupt" / str(step)).is_dir()
    assert _summary(corrupt)["resumed_from"] == 60
    _equal_final(corrupt, reference)


def proc_failed(err: str, text: str) -> bool:
    return text in err
