import csv
import io
import json

import pytest
from hydra.errors import ConfigCompositionException

from jaxorth.cli import run_experiment


@pytest.mark.slow
def test_orthconv_scalability_small(tmp_path):
    summary = run_experiment(
        [
            "experiment=orthconv_scalability",
            "experiment.out_channels=4",
            "experiment.in_channels=4",
            "experiment.strides=[1,2]",
            "experiment.sizes=[2,3,6,12]",
            "experiment.eps=[0.01]",
        ],
        run_dir=tmp_path,
    )
    # Theorem: err_F / N^{d/2} = sqrt(L_orth) for N >= 2r+1 (float64), err_s flat
    assert summary["max_identity_rel_err"] < 1e-8
    assert summary["max_err_s_spread"] < 2.0
    assert summary["rows"] == 8
    assert (tmp_path / "scaling.png").exists()
    assert (tmp_path / "results.md").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["rows"] == 8


def test_orthconv_landscape_small(tmp_path):
    summary = run_experiment(
        [
            "experiment=orthconv_landscape",
            "experiment.configs=[[2,4,2,1],[6,2,1,2],[10,2,1,2]]",
            "experiment.inits=2",
            "experiment.steps=60",
        ],
        run_dir=tmp_path,
    )
    # [2,4,2,1] valid RO: reaches 0; [6,2,1,2] impossible RO: L >= M - C k^2 = 4;
    # [10,2,1,2] impossible CO: L >= C (S^2 - k^2) = 6, and both bounds are attained
    assert summary["valid_runs"] == 2 and summary["valid_reached"] == 2
    assert summary["impossible_runs"] == 4 and summary["impossible_above_bound"] == 4
    assert summary["min_impossible_gap"] > -1e-5
    rows = list(csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text())))
    assert [int(r["bound"]) for r in rows] == [0, 4, 6]
    assert [r["exists"] for r in rows] == ["True", "False", "False"]
    assert float(rows[0]["L_orth final (median)"]) < 1e-6
    for r, bound in zip(rows[1:], (4, 6)):
        assert abs(float(r["L_orth final (median)"]) - bound) < 1e-4
    assert (tmp_path / "landscape.png").exists()


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (
            [
                "experiment=orthconv_scalability",
                "experiment.out_channels=64",
                "experiment.strides=[1,4]",
                "experiment.kernel_size=1",
            ],
            r"experiment.strides=\[1, 4\]: no orthogonal .* needs M <= C\*k\^2 = 32",
        ),
        (["experiment=orthconv_scalability", "experiment.sizes=[]"], "experiment.sizes"),
        (["experiment=orthconv_landscape", "experiment.configs=[[4,4,3]]"], r"\[M, C, k, S\]"),
    ],
)
def test_orthconv_studies_domain_checks(tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(overrides, run_dir=tmp_path)


def test_orthconv_landscape_optimizer_is_checked_at_composition(tmp_path):
    # an enum choice: a misspelt value fails at composition, naming the key and the choices
    overrides = ["experiment=orthconv_landscape", "experiment.optimizer=sgd"]
    with pytest.raises(ConfigCompositionException, match="experiment.optimizer") as err:
        run_experiment(overrides, run_dir=tmp_path)
    assert "expected one of [lbfgs, adam]" in f"{err.value}\n{err.value.__cause__}"
