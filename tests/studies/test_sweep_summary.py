"""The sweep summary on a sweep folder written by hand (no training): job order, the
columns shown, and the mean ± std table over seeds against numpy."""

import json

import numpy as np
import pytest

from jaxorth.studies._sweep import aggregate_over_seeds, collect_summaries, write_sweep_summary

ACC = {  # (lr, seed) -> test accuracy
    ("0.1", 0): 0.91,
    ("0.1", 1): 0.93,
    ("0.1", 2): 0.96,
    ("0.01", 0): 0.80,
    ("0.01", 1): 0.86,
    ("0.01", 2): None,  # failed
}


def _write_sweep(root):
    for num, ((lr, seed), acc) in enumerate(sorted(ACC.items(), key=lambda kv: kv[0][1])):
        overrides = [f"optim.lr={lr}", f"seed={seed}"]
        job = root / f"{num}_{','.join(overrides)}"
        job.mkdir()
        record = {"status": "finished", "overrides": overrides}
        if acc is None:
            record = {
                "status": "failed",
                "error": "FloatingPointError: nan",
                "overrides": overrides,
            }
        else:
            summary = {"experiment": "copy_task", "seed": seed, "test_acc": acc, "steps": 100}
            (job / "summary.json").write_text(json.dumps(summary))
        (job / ".job.json").write_text(json.dumps(record))
    # more than ten jobs: job 10 must come after job 9, not after job 1
    for num in range(6, 12):
        extra = root / f"{num}_optim.lr=1.0,seed={num}"
        extra.mkdir()
        overrides = ["optim.lr=1.0", f"seed={num}"]
        (extra / ".job.json").write_text(json.dumps({"status": "finished", "overrides": overrides}))
        summary = {"experiment": "copy_task", "seed": num, "test_acc": 0.5, "steps": 100}
        (extra / "summary.json").write_text(json.dumps(summary))


def test_jobs_in_numeric_order_and_mean_std_over_seeds(tmp_path):
    _write_sweep(tmp_path)
    rows = collect_summaries(tmp_path)
    assert [int(r["job"].split("_")[0]) for r in rows] == list(range(12))
    agg = {g["overrides"]: g for g in aggregate_over_seeds(rows)}
    assert set(agg) == {"optim.lr=0.1", "optim.lr=0.01", "optim.lr=1.0"}
    for lr in ("0.1", "0.01"):
        accs = [a for (r, _), a in ACC.items() if r == lr and a is not None]
        group = agg[f"optim.lr={lr}"]
        assert group["n"] == len(accs)  # the failed seed is not averaged
        assert group["test_acc"] == pytest.approx(np.mean(accs))
        assert group["test_acc_std"] == pytest.approx(np.std(accs, ddof=1))
    assert "seed" not in agg["optim.lr=0.1"]  # the swept key is not a result
    assert agg["optim.lr=1.0"]["test_acc_std"] == 0.0

    write_sweep_summary(tmp_path)
    text = (tmp_path / "sweep_summary.md").read_text()
    job_table, _, agg_table = text.partition("mean ± std over seed")
    header = job_table.splitlines()[1]
    # experiment and steps are the same in every job: listed once, not as columns
    assert "experiment" not in header and "steps" not in header and "test_acc" in header
    assert "Same in every job: experiment = copy_task, steps = 100" in job_table
    assert "1 of 12 jobs not finished" in job_table
    assert (
        f"{np.mean([0.91, 0.93, 0.96]):.4g} ± {np.std([0.91, 0.93, 0.96], ddof=1):.4g}" in agg_table
    )
    saved = json.loads((tmp_path / "sweep_aggregate.json").read_text())
    assert [g["overrides"] for g in saved] == [g["overrides"] for g in aggregate_over_seeds(rows)]


def test_no_seed_override_no_aggregate(tmp_path):
    for num, lr in enumerate(("0.1", "0.2")):
        job = tmp_path / f"{num}_optim.lr={lr}"
        job.mkdir()
        (job / ".job.json").write_text(
            json.dumps({"status": "finished", "overrides": [f"optim.lr={lr}"]})
        )
        (job / "summary.json").write_text(json.dumps({"test_acc": 0.5 + num / 10}))
    write_sweep_summary(tmp_path)
    assert aggregate_over_seeds(collect_summaries(tmp_path)) == []
    assert not (tmp_path / "sweep_aggregate.json").exists()
    assert "mean ± std" not in (tmp_path / "sweep_summary.md").read_text()
