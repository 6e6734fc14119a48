import json

import pytest

from jaxorth.cli import run_experiment
from jaxorth.studies import approximation_rates as ar

SMALL = [
    "experiment=approximation_rates",
    "experiment.families=[holder,monotone_jumps]",
    "experiment.dims=[1]",
    "experiment.depths=[2]",
    "experiment.widths=[4,16]",
    "experiment.restarts=1",
    "experiment.steps=200",
    "experiment.train_points=256",
    "experiment.eval_points=2048",
]


@pytest.mark.slow
def test_approximation_rates_small_run(tmp_path):
    summary = run_experiment(SMALL, run_dir=tmp_path)
    assert summary["fits"] == 4 and summary["reused_fits"] == 0
    # the predictions of the theory for d = 1 at fixed depth, alpha = 1
    assert summary["holder/d1/L2/L2/predicted"] == pytest.approx(1.0)
    assert summary["monotone_jumps/d1/L2/L4/predicted"] == pytest.approx(1.0)
    assert summary["monotone_jumps/d1/L2/sup/predicted"] == 0.0
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "fits").glob("*.json"))]
    assert len(records) == 4
    for r in records:
        e = {k: v[0] for k, v in r["errors"].items()}
        # on a probability space the L^p norms grow with p, and the sup norm bounds them
        assert e["L1"] <= e["L2"] * (1 + 1e-4) and e["L2"] <= e["L4"] * (1 + 1e-4)
        assert e["L4"] <= e["sup"] * (1 + 1e-3)
        if r["family"] == "monotone_jumps":
            # a continuous network misses a jump J by at least J / 2 in sup norm
            assert e["sup"] >= r["max_jump"] / 2 * (1 - 1e-3)
    # the matched Hölder instance gets finer as the network grows
    cells = sorted((r["W"], r["cells_per_side"]) for r in records if r["family"] == "holder")
    assert cells[0][1] < cells[-1][1]
    table = (tmp_path / "slopes.md").read_text()
    assert "monotone_jumps" in table and "predicted" in table
    assert (tmp_path / "rates.png").exists()

    # a run that crashed after three fits resumes from their records (a corrupt record is
    # recomputed) and ends with the numbers of the uninterrupted run
    crashed = tmp_path / "crashed"
    real, calls = ar._fit_one, []

    def crash_on_fourth(*args, **kwargs):
        calls.append(args)
        if len(calls) == 4:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ar, "_fit_one", crash_on_fourth)
        with pytest.raises(RuntimeError, match="simulated crash"):
            run_experiment(SMALL, run_dir=crashed)
    assert len(list((crashed / "fits").glob("*.json"))) == 3
    (crashed / "fits" / "holder-d1-L2-w4.json").write_text("{not json")
    resumed = run_experiment(SMALL, run_dir=crashed)
    assert resumed["reused_fits"] == 2
    for key, value in summary.items():
        if "/" in key:  # the study's numbers (not timings or run info)
            assert float(resumed[key]) == pytest.approx(float(value), rel=1e-6, nan_ok=True), key


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("experiment.families=[]", "experiment.families must list at least one"),
        ("experiment.depths=[1]", r"experiment.depths\[0\] must be >= 2"),
        ("experiment.norms=[0.5]", r"experiment.norms\[0\] must be a finite p >= 1"),
        ("experiment.alpha=1.5", r"experiment.alpha must be in \(0, 1\]"),
        ("experiment.params_per_cell=0", "experiment.params_per_cell must be > 0"),
        ("experiment.dims=[9]", r"experiment.dims\[0\] must be <= 8"),
        ("experiment.widths=[4,0]", r"experiment.widths\[1\] must be >= 1"),
        ("experiment.restarts=0", "experiment.restarts must be >= 1"),
        ("experiment.eval_points=0", "experiment.eval_points must be >= 1"),
        ("experiment.temperature=0", "experiment.temperature must be > 0"),
        ("experiment.learning_rate=-1", "experiment.learning_rate must be > 0"),
    ],
)
def test_approximation_rates_bad_config_fails_before_compute(tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(["experiment=approximation_rates", override], run_dir=tmp_path)


def test_misspelt_family_fails_at_composition(tmp_path):
    with pytest.raises(Exception, match="monotone_jumps"):
        run_experiment(
            ["experiment=approximation_rates", "experiment.families=[monotone_jump]"],
            run_dir=tmp_path,
        )


def test_paper_preset_composes_and_command_line_wins():
    from jaxorth.cli import compose

    cfg = compose(["experiment=approximation_rates", "preset=paper"])
    assert list(cfg.experiment.widths) == [4, 8, 16, 32, 64, 128, 256]
    assert list(cfg.experiment.dims) == [1, 2, 3]
    cfg = compose(
        [
            "experiment=approximation_rates",
            "preset=paper",
            "experiment.dims=[2]",
        ]
    )
    assert list(cfg.experiment.dims) == [2] and cfg.experiment.steps == 10000
