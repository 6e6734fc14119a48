import json

import pytest

from jaxorth.cli import run_experiment

SMALL = [
    "experiment=identifiability",
    "experiment.architectures=[[2,5,1],[3,6,4,2]]",
    "experiment.sample_sizes=[5,200]",
    "experiment.networks=2",
    "experiment.recovery_samples=[10,200]",
    "experiment.init_scales=[0.05]",
    "experiment.random_init=false",
    "experiment.students=1",
    "experiment.test_points=200",
    "experiment.extraction_widths=[[4,8,1]]",
    "train.steps=300",
    "train.checkpoint_every=300",
    "train.log_every=100",
    "train.progress=false",
]


@pytest.mark.slow
def test_identifiability_small_run(tmp_path):
    summary = run_experiment(SMALL, run_dir=tmp_path)
    # the rank of the first network: n outputs bound it (5 points, 5 * d_L rows), and it
    # reaches E - N_h (16 for 2-5-1, 52 for 3-6-4-2; REFERENCES) on 200 points
    assert summary["2-5-1/rank"] == [5, 16]
    assert summary["3-6-4-2/rank"] == [10, 52]
    assert summary["bound_reached_at_largest_sample"] == {"2-5-1": True, "3-6-4-2": True}
    # with 5 points the dimension count alone rules identifiability out
    assert summary["2-5-1/sufficient_fraction"][0] == 0.0
    rank_table = (tmp_path / "rank.md").read_text()
    assert "| 2-5-1" in rank_table and "E - N_h" in rank_table
    # the students: one per sample, trained through train.fit (a checkpoint each)
    lines = (tmp_path / "students.md").read_text().splitlines()
    assert [line.split("|")[1].strip() for line in lines[3:]] == ["10", "200"]
    assert (tmp_path / "runs" / "n200_init0.05_s0" / "checkpoints").is_dir()
    # a one-hidden-layer teacher is extracted from queries, exactly modulo symmetry
    assert summary["extraction/4-8-1/one_hidden_layer/param_distance"] < 1e-8
    assert summary["extraction/4-8-1/one_hidden_layer/queries"] > 0
    for name in ("rank.md", "conditions.md", "recovery.md", "extraction.md", "summary.json"):
        assert (tmp_path / name).exists(), name
    for name in ("rank.png", "conditions.png", "recovery.png"):
        assert (tmp_path / name).exists(), name
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert any(k.startswith("n10_init0.05_s0/train/") for row in logged for k in row)


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("experiment.architectures=[[2,5]]", r"experiment.architectures\[0\] must list at least 3"),
        ("experiment.architectures=[[2,0,1]]", r"experiment.architectures\[0\]\[1\] must be >= 1"),
        ("experiment.architectures=[]", "experiment.architectures must list at least one"),
        ("experiment.sample_sizes=[0]", r"experiment.sample_sizes\[0\] must be >= 1"),
        ("experiment.recovery_samples=[]", "experiment.recovery_samples must list at least one"),
        ("experiment.networks=0", "experiment.networks must be >= 1"),
        ("experiment.input_std=0", "experiment.input_std must be > 0"),
        ("experiment.bias_std=-1", "experiment.bias_std must be >= 0"),
        ("experiment.init_scales=[-0.1]", r"experiment.init_scales\[0\] must be >= 0"),
        ("experiment.extraction_widths=[[4,8,2]]", r"must end with 1 \(a scalar output\)"),
    ],
)
def test_identifiability_bad_config_fails_before_compute(tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(["experiment=identifiability", override], run_dir=tmp_path)


def test_identifiability_without_students_is_refused(tmp_path):
    with pytest.raises(ValueError, match="the recovery part has no student to train"):
        run_experiment(
            [
                "experiment=identifiability",
                "experiment.init_scales=[]",
                "experiment.random_init=false",
            ],
            run_dir=tmp_path,
        )
