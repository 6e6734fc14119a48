import json

import pytest
from hydra.errors import ConfigCompositionException

from jaxorth import sparse
from jaxorth.cli import run_experiment
from jaxorth.studies.sea_recovery import Method


def test_sea_recovery_small_run(tmp_path):
    summary = run_experiment(
        [
            "experiment=sea_recovery",
            "experiment.method=sea",
            "experiment.n_trials=2",
            "experiment.gaussian_m=16",
            "experiment.gaussian_n=32",
            "experiment.gaussian_ks=[1,2]",
            "experiment.deconv_n=30",
            "experiment.deconv_m=30",
            "experiment.deconv_ks=[1]",
            "experiment.sea_iter=10",
        ],
        run_dir=tmp_path,
    )
    # one spike on a unit-norm dictionary: SEA finds it (its first support already fits y)
    assert summary["deconvolution_rate"]["sea"]["1"] == 1.0
    # one spike on a 16 x 32 Gaussian dictionary: |<a_i, a_j>| < 1 = ||a_j||^2, found too
    assert summary["gaussian_rate"]["sea"]["1"] == 1.0
    assert summary["gaussian_rate"]["sea"]["2"] in (0.0, 0.5, 1.0)  # a count over 2 trials
    # noisy (noise_std = 0.05, |x_i| >= 1): the estimate is close but not exact
    for setting in ("gaussian", "deconvolution"):
        assert 0.0 < summary[f"{setting}_rel_err"]["sea"]["1"] < 0.2
    for name in ("recovery_gaussian.md", "relerr_deconvolution.csv", "recovery_gaussian.png"):
        assert (tmp_path / name).exists()
    assert json.loads((tmp_path / "summary.json").read_text())["experiment"] == "sea_recovery"


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("experiment.k=300", r"experiment.k: k=300 must satisfy 1 <= k <= min\(m, n\) = 64"),
        ("experiment.deconv_m=50", "experiment.deconv_m=50 must be >= experiment.deconv_n=100"),
    ],
)
def test_sea_recovery_bad_config_fails_before_compute(tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(["experiment=sea_recovery", override], run_dir=tmp_path)


@pytest.mark.parametrize(
    ("override", "allowed"),
    [("experiment.method=lasso", "sea_omp"), ("experiment.setting=fourier", "deconvolution")],
)
def test_sea_recovery_bad_choice_fails_at_composition(tmp_path, override, allowed):
    """Enum choices: a misspelt value fails when the config is composed, listing the options."""
    with pytest.raises(ConfigCompositionException, match=override) as err:
        run_experiment(["experiment=sea_recovery", override], run_dir=tmp_path)
    cause = str(err.value.__cause__)
    assert "expected one of" in cause and allowed in cause and "all" in cause


def test_method_choices_are_the_solvers():
    assert {str(m) for m in Method} == {*sparse.SOLVERS, "all"}
