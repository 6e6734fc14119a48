"""``experiment=har`` end to end on a tiny UCI HAR fixture whose class is the signals' mean."""

import numpy as np
import pytest

from jaxorth.cli import run_experiment


def test_har_learns_the_class_from_the_signal_mean(tmp_path, write_har):
    # activities 1, 4, 6 (-> classes 0, 3, 5) with means -1, 0, 1 on every signal; small
    # noise: an orthogonal recurrence keeps the energy of the noise of all 128 steps
    rng = np.random.default_rng(0)
    labels = {"train": list(rng.choice([1, 4, 6], 60)), "test": list(rng.choice([1, 4, 6], 30))}
    noise = {s: rng.normal(0.0, 0.05, (len(y), 9, 128)) for s, y in labels.items()}
    mean = {1: -1.0, 4: 0.0, 6: 1.0}

    def values(split, i, k):
        return mean[labels[split][i]] + noise[split][i, k]

    base = write_har(tmp_path / "data", labels, values)
    common = [
        "experiment=har",
        "model=hadamrnn",
        "model.hidden=16",
        f"data.dir={base}",
        "experiment.plot=false",
        "optim.lr=2e-2",
        "train.batch_size=10",
        "train.log_every=10",
        "train.eval_every=0",
        "train.checkpoint_every=0",
    ]
    summary = run_experiment([*common, "experiment.epochs=5"], run_dir=tmp_path / "run")
    assert summary["steps_per_epoch"] == 6 and summary["steps"] == 30
    assert summary["test_acc"] > 0.9
    table = (tmp_path / "run" / "results.md").read_text()
    assert "60 train / 30 test windows" in table and "(128 steps x 9 signals)" in table
    with pytest.raises(ValueError, match=r"^data\.dir is required"):
        run_experiment(["experiment=har"], run_dir=tmp_path / "a")
    with pytest.raises(ValueError, match=r"^train\.batch_size=100 exceeds the 60 training"):
        run_experiment([*common, "train.batch_size=100"], run_dir=tmp_path / "b")
