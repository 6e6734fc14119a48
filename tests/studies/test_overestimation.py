import json

import pytest
from hydra.errors import ConfigCompositionException

from jaxorth.cli import run_experiment

SMALL = [
    "experiment=overestimation",
    "experiment.functions=[steps_1d,tanh_2d]",
    "experiment.deltas=[0.1]",
    "experiment.widths=[8]",
    "experiment.max_depth=5",
    "experiment.grid=[1001,51,11]",
    "experiment.random_points=2000",
    "train.steps=20",
    "train.batch_size=64",
    "train.checkpoint_every=20",
    "train.log_every=10",
]


@pytest.mark.slow
def test_overestimation_small_run(tmp_path):
    summary = run_experiment(SMALL, run_dir=tmp_path)
    # the guarantee on every row: g - f >= 0 on the dense grid and the random points
    assert summary["all_certified"] is True and summary["min_gap"] >= 0
    assert summary["rows"] == 2 * 3
    rows = [
        json.loads(line)
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
        if "shift" in line
    ]
    assert rows, "per-run rows are logged"
    table = (tmp_path / "results.md").read_text()
    for name in ("steps_1d", "tanh_2d", "monotone", "ibp", "crown"):
        assert name in table
    # the uniform dyadic grid of the same guarantee, against the adaptive cells
    for route in ("monotone", "ibp", "crown"):
        cells = summary[f"tanh_2d_d0.1_{route}/cells"]
        assert cells < 4**5
    # ibp and crown certify the same trained network: CROWN's cell bounds are never
    # looser than IBP's, so neither is its shift
    for name in ("steps_1d", "tanh_2d"):
        assert summary[f"{name}_d0.1_crown/shift"] <= summary[f"{name}_d0.1_ibp/shift"]
    for name in ("results.md", "tightness.md", "steps_1d.png", "tanh_2d.png", "summary.json"):
        assert (tmp_path / name).exists(), name
    # training went through train.fit: one checkpoint directory per trained network
    assert (tmp_path / "runs" / "tanh_2d_d0.1_mlp" / "checkpoints").is_dir()


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("experiment.functions=[nope]", r"experiment.functions\[0\]='nope' is not a reference"),
        ("experiment.deltas=[0]", r"experiment.deltas\[0\] must lie in \(0, 1\]"),
        ("experiment.grid=[10,10]", "experiment.grid must list 3 sizes"),
        ("experiment.max_depth=40", r"experiment.max_depth must lie in \[0, 20\]"),
        ("experiment.widths=[8,0]", r"experiment.widths\[1\] must be >= 1"),
        ("experiment.under_weight=0", "experiment.under_weight must be > 0"),
        ("experiment.monotone_lr=0", "experiment.monotone_lr must be > 0"),
        ("experiment.random_points=-1", "experiment.random_points must be >= 0"),
        ("experiment.routes=[]", "must each list at least one entry"),
    ],
)
def test_overestimation_bad_config_fails_before_compute(tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(["experiment=overestimation", override], run_dir=tmp_path)


def test_overestimation_bad_route_fails_at_composition(tmp_path):
    with pytest.raises(ConfigCompositionException) as err:
        run_experiment(["experiment=overestimation", "experiment.routes=[lp]"], run_dir=tmp_path)
    assert "crown" in str(err.value.__cause__)
