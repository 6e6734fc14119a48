import json
import math
import shutil

import pytest
from hydra.errors import ConfigCompositionException

from jaxorth.cli import run_experiment

SMALL = [
    "experiment=orthconv_tradeoff",
    "experiment.lams=[0]",
    "experiment.channels=[2,4]",
    # k=2: conv1 still has BCOP projectors (column-orthogonal), conv2-3 are pure RKO; the
    # exact model's training step compiles ~4x faster than at k=3 (BCOP o RKO, whose
    # composition is checked in tests/orthconv/test_layers.py)
    "experiment.kernel_size=2",
    "experiment.radii=[0,0.05]",
    "train.steps=8",
    "train.batch_size=64",
]


@pytest.mark.slow
def test_orthconv_tradeoff_small_run(tmp_path):
    summary = run_experiment(SMALL, run_dir=tmp_path)
    # exact layers: every singular value is 1 (float32), so the Lipschitz bound is 1
    for j in (1, 2, 3):
        assert summary[f"exact/conv{j}_smin"] == pytest.approx(1.0, abs=1e-5)
        assert summary[f"exact/conv{j}_smax"] == pytest.approx(1.0, abs=1e-5)
    assert summary["exact/lipschitz_bound"] == pytest.approx(1.0, abs=1e-4)
    assert summary["exact/lorth_sum"] < 1e-8
    for tag in ("soft_lam0", "exact"):
        # at radius 0 a correct prediction (margin > 0) is certified: the accuracy itself
        assert summary[f"{tag}/cert_acc_r0"] == summary[f"{tag}/test_acc"]
    # a free kernel is not orthogonal: its exact spectrum and L_orth say so, consistently
    # (L_orth = 0 iff orthogonal, Achour et al. 2022)
    assert summary["soft_lam0/lorth_sum"] > 1e-3
    assert summary["soft_lam0/isometry_dev"] > 1e-2
    lip = math.prod(summary[f"soft_lam0/conv{j}_smax"] for j in (1, 2, 3))
    assert summary["soft_lam0/lipschitz_bound"] == pytest.approx(lip, rel=1e-5)
    for name in ("results.md", "results.csv", "tradeoff.png", "metrics.jsonl"):
        assert (tmp_path / name).exists()
    assert json.loads((tmp_path / "summary.json").read_text())["experiment"] == "orthconv_tradeoff"
    # train.fit: one checkpoint directory per model; a second run in the same directory
    # resumes each model at its last step and reproduces its numbers
    for tag in ("soft_lam0", "exact"):
        assert summary[f"{tag}/resumed_from"] is None
        assert any((tmp_path / "runs" / tag / "checkpoints").iterdir())
    # another config (the exact model alone) in this directory is refused before compute
    from jaxorth.train.rundir import RunConfigMismatch

    with pytest.raises(RunConfigMismatch, match="experiment.variant: 'all' -> 'exact'"):
        run_experiment([*SMALL, "experiment.variant=exact"], run_dir=tmp_path)
    # each model resumes from its own directory: the exact model's, copied into a new run
    # (no plot this time: its file was checked above)
    shutil.copytree(tmp_path / "runs" / "exact", tmp_path / "exact_only" / "runs" / "exact")
    config = (tmp_path / "config.yaml").read_text()
    assert config.count("variant: all") == 1
    (tmp_path / "exact_only" / "config.yaml").write_text(
        config.replace("variant: all", "variant: exact")
    )
    again = run_experiment(
        [*SMALL, "experiment.variant=exact", "experiment.plot=false"],
        run_dir=tmp_path / "exact_only",
    )
    for tag in ("exact",):
        assert again[f"{tag}/resumed_from"] == 8
        assert again[f"{tag}/test_acc"] == summary[f"{tag}/test_acc"]
        assert again[f"{tag}/lipschitz_bound"] == pytest.approx(summary[f"{tag}/lipschitz_bound"])


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("experiment.lam=-1", "experiment.lam must hold finite weights >= 0"),
        ("experiment.channels=[2]", r"experiment.channels must be \[c1, c2\]"),
        ("experiment.test_fraction=0", r"experiment.test_fraction must be in \(0, 1\)"),
        # conv2: 16 -> 32 channels, stride 2, k=1: RO needs M <= C k^2 = 16
        ("experiment.kernel_size=1", "conv2: no orthogonal convolution exists"),
    ],
)
def test_orthconv_tradeoff_bad_config_fails_before_compute(tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(["experiment=orthconv_tradeoff", override], run_dir=tmp_path)


def test_orthconv_tradeoff_choices_are_checked_at_composition(tmp_path):
    # enum choices: a misspelt value fails at composition, naming the key and the choices
    for override, choices in (
        ("experiment.variant=hard", "[soft, exact, all]"),
        ("experiment.method=qr", "[bjorck, cayley, expm]"),
    ):
        key = override.split("=")[0]
        with pytest.raises(ConfigCompositionException, match=key) as err:
            run_experiment(["experiment=orthconv_tradeoff", override], run_dir=tmp_path)
        assert f"expected one of {choices}" in f"{err.value}\n{err.value.__cause__}"
