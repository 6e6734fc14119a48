import json

import pytest

from jaxorth.cli import run_experiment


def test_sea_recovery_small_run(tmp_path):
    summary = run_experiment(
        [
            "experiment=sea_recovery",
            "experiment.method=sea",
            "experiment.n_trials=2",
            "experiment.gaussian_m=16",
            "experiment.gaussian_n=32",
            "experiment.gaussian_ks=[2]",
            "experiment.deconv_n=30",
            "experiment.deconv_m=30",
            "experiment.deconv_ks=[1]",
            "experiment.sea_iter=10",
        ],
        run_dir=tmp_path,
    )
    # one spike on a unit-norm dictionary: SEA finds it (its first support already fits y)
    assert summary["deconvolution_rate"]["sea"]["1"] == 1.0
    assert 0.0 <= summary["gaussian_rate"]["sea"]["2"] <= 1.0
    for name in ("recovery_gaussian.md", "relerr_deconvolution.csv", "recovery_gaussian.png"):
        assert (tmp_path / name).exists()
    assert json.loads((tmp_path / "summary.json").read_text())["experiment"] == "sea_recovery"


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("experiment.method=lasso", "experiment.method must be one of"),
        ("experiment.setting=fourier", "experiment.setting must be one of"),
        ("experiment.k=300", r"experiment.k: k=300 must satisfy 1 <= k <= min\(m, n\) = 64"),
        ("experiment.deconv_m=50", "experiment.deconv_m=50 must be >= experiment.deconv_n=100"),
    ],
)
def test_sea_recovery_bad_config_fails_before_compute(tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(["experiment=sea_recovery", override], run_dir=tmp_path)
