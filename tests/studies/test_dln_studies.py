import json

import pytest

from jaxorth.cli import run_experiment


def test_dln_landscape_small(tmp_path):
    summary = run_experiment(
        [
            "experiment=dln_landscape",
            "experiment.depths=[2,3]",
            "experiment.families_per_depth=1",
            "experiment.cases_per_family=10",
        ],
        run_dir=tmp_path,
    )
    assert summary["cases"] == 20
    assert summary["agree"] == 20 and summary["ambiguous"] == 0
    assert (tmp_path / "spectra.png").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["agree"] == 20


@pytest.mark.slow
def test_dln_gradient_flow_small(tmp_path):
    summary = run_experiment(
        [
            "experiment=dln_gradient_flow",
            "experiment.depths=[3]",
            "experiment.inits=[0.2,0.1]",
            "experiment.n_save=100",
        ],
        run_dir=tmp_path,
    )
    assert summary["max_drift"] < 1e-6
    assert 0.7 < summary["H3_exponent"] < 1.3
    for name in ("loss_curves", "conservation_drift", "escape_time"):
        assert (tmp_path / f"{name}.png").exists()


def test_dln_study_domain_checks(tmp_path):
    with pytest.raises(ValueError, match="experiment.depths"):
        run_experiment(["experiment=dln_landscape", "experiment.depths=[1]"], run_dir=tmp_path)
    with pytest.raises(ValueError, match="experiment.inits must be > 0"):
        run_experiment(["experiment=dln_gradient_flow", "experiment.inits=[0.0]"], run_dir=tmp_path)
