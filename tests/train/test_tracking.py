import json

import numpy as np
import pytest

from jaxorth.report import format_table
from jaxorth.studies import RunContext
from jaxorth.studies._sweep import collect_summaries
from jaxorth.train import HistoryTracker, JsonlTracker, NullTracker, make_tracker
from jaxorth.train.tracking import Tracker


def test_make_tracker_backends(tmp_path):
    assert isinstance(make_tracker("null", tmp_path), NullTracker)
    jt = make_tracker("jsonl", tmp_path)
    assert isinstance(jt, JsonlTracker) and isinstance(jt, Tracker)
    jt.finish()
    with pytest.raises(ValueError, match="tracking.backend must be one of"):
        make_tracker("tensorboard", tmp_path)


def test_wandb_backend_disabled_mode_still_writes_jsonl(tmp_path):
    pytest.importorskip("wandb")
    tr = make_tracker("wandb", tmp_path, config={"a": 1}, mode="disabled")
    tr.log({"loss": np.float32(0.5)}, step=1)
    tr.summary({"final": 0.5})
    tr.finish()
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows == [{"step": 1, "loss": 0.5}]
    with pytest.raises(ValueError, match="tracking.mode"):
        make_tracker("wandb", tmp_path, mode="cloud")


def test_history_tracker_records_and_forwards(tmp_path):
    inner = JsonlTracker(tmp_path)
    h = HistoryTracker(inner)
    for s in (1, 2, 3):
        h.log({"x": float(s)}, step=s)
    h.truncate_after(2)
    h.finish()
    assert h.series("x") == ([1, 2], [1.0, 2.0])
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


def test_run_context_table_and_figure(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ctx = RunContext(tmp_path / "run", echo=False)
    text = ctx.table(
        [{"k": 1, "err": 1.5e-7}, {"k": 2, "err": 0.25}, {"k": 3, "err": 239.61}],
        title="t",
        name="res",
    )
    assert "1.500e-07" in text and "| 0.25 " in text and "| 239.6 " in text
    assert (tmp_path / "run" / "res.csv").read_text().splitlines()[0] == "k,err"
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    assert ctx.save_figure(fig, "p").read_bytes()[:4] == b"\x89PNG"
    ctx.write_json("s", {"a": float("nan")})
    assert json.loads((tmp_path / "run" / "s.json").read_text()) == {"a": "nan"}
    assert format_table([]) == "(no rows)\n"


def test_collect_summaries(tmp_path):
    for i, lr in enumerate([0.1, 0.01]):
        d = tmp_path / f"{i}_optim.lr={lr}"
        d.mkdir()
        (d / "summary.json").write_text(json.dumps({"test_ce": lr, "nested": {"x": 1}}))
    rows = collect_summaries(tmp_path)
    assert [r["test_ce"] for r in rows] == [0.1, 0.01]
    assert "nested" not in rows[0] and rows[0]["job"] == "0_optim.lr=0.1"


def test_truncate_after_is_part_of_the_protocol(tmp_path):
    class WithoutTruncate:
        def log(self, metrics, step): ...
        def log_image(self, name, path, step=None): ...
        def summary(self, values): ...
        def finish(self): ...

    assert not isinstance(WithoutTruncate(), Tracker)
    h = HistoryTracker(NullTracker())
    assert isinstance(h, Tracker) and isinstance(NullTracker(), Tracker)
    h.log({"x": 1.0}, step=1)
    h.log({"x": 2.0}, step=2)
    h.truncate_after(1)  # forwards to NullTracker.truncate_after, a no-op
    assert h.series("x") == ([1], [1.0])


def test_prefix_tracker_truncates_only_its_own_records(tmp_path):
    from jaxorth.train import PrefixTracker

    inner = HistoryTracker(JsonlTracker(tmp_path))
    a, b = PrefixTracker(inner, "a"), PrefixTracker(inner, "b")
    for s in (1, 2, 3):
        a.log({"loss": float(s)}, step=s)
    for s in (1, 2, 3):
        b.log({"loss": 10.0 * s}, step=s)
    a.truncate_after(1)  # model a resumes from its step-1 checkpoint
    a.log({"loss": 2.5}, step=2)
    b.finish()  # leaves the shared tracker open
    inner.log({"final": 1.0}, step=4)
    inner.finish()
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows == [
        {"step": 1, "a/loss": 1.0},
        {"step": 1, "b/loss": 10.0},
        {"step": 2, "b/loss": 20.0},
        {"step": 3, "b/loss": 30.0},
        {"step": 2, "a/loss": 2.5},
        {"step": 4, "final": 1.0},
    ]
    assert inner.series("a/loss") == ([1, 2], [1.0, 2.5])
    with pytest.raises(ValueError, match="prefix must be a non-empty name"):
        PrefixTracker(inner, "x/y")


def test_history_after_a_resume_covers_the_whole_run(tmp_path):
    """A resumed run's figures are drawn from every logged step, not only the new ones."""
    first = JsonlTracker(tmp_path)
    for s in (10, 20, 30):
        first.log({"train/loss": 1.0 / s}, step=s)
    first.finish()  # killed after step 30; the newest checkpoint is step 20
    history = HistoryTracker(JsonlTracker(tmp_path))
    history.truncate_after(20)
    history.log({"train/loss": 0.04}, step=30)
    history.finish()
    assert history.series("train/loss") == ([10, 20, 30], [0.1, 0.05, 0.04])
    # the same through a prefix (one of several models in one file)
    from jaxorth.train import PrefixTracker

    shared = JsonlTracker(tmp_path / "p")
    shared.log({"m/train/loss": 1.0, "other/train/loss": 5.0}, step=1)
    shared.log({"m/train/loss": 0.5}, step=2)
    resumed = HistoryTracker(PrefixTracker(shared, "m"))
    resumed.truncate_after(1)
    shared.finish()
    assert resumed.series("train/loss") == ([1], [1.0])
