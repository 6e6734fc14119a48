import pytest

from jaxorth.cli import run_experiment

SMALL = [
    "experiment=multilinear",
    "experiment.topologies=[[[0,1],[0,2]],[[0,1],[0,1]]]",
    "experiment.trials=2",
    "experiment.noise_levels=[0,1e-3]",
    "experiment.starts=3",
    "experiment.iterations=100",
    "experiment.stability_starts=1",
]


@pytest.mark.slow
def test_multilinear_small_run(tmp_path):
    summary = run_experiment(SMALL, run_dir=tmp_path)
    good, bad = "{0,1} {0,2}", "{0,1} {0,1}"
    assert summary[f"{good}/identifiable"] is True and summary[f"{bad}/identifiable"] is False
    # the lifting of a chain with distinct sums is an isometry: stability constant 1
    assert summary[f"{good}/stability"] == pytest.approx(1.0, abs=1e-6)
    assert summary[f"{bad}/stability"] < 1e-8
    # noiseless products give the factors back up to scale on the identifiable topology,
    # and the error stays within a small constant times the product error with noise
    assert summary[f"{good}/recovered"] == "2 / 2"
    assert summary[f"{good}/fitted_C"] < 10
    table = (tmp_path / "topologies.md").read_text()
    assert good in table and bad in table
    assert (tmp_path / "recovery.png").exists()


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("experiment.topologies=[]", "experiment.topologies must list at least one"),
        (
            "experiment.topologies=[[[0,1],[0,0]]]",
            r"experiment.topologies\[0\]\[1\] has a repeated",
        ),
        ("experiment.trials=0", "experiment.trials must be >= 1"),
        ("experiment.noise_levels=[-1]", r"experiment.noise_levels\[0\] must be >= 0"),
        ("experiment.tolerance=0", "experiment.tolerance must be > 0"),
    ],
)
def test_multilinear_bad_config_fails_before_compute(tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(["experiment=multilinear", override], run_dir=tmp_path)
