import pytest

from jaxorth.cli import run_experiment

SMALL = ["train.batch_size=16", "train.log_every=5", "train.checkpoint_every=0"]


@pytest.mark.parametrize(("study", "model"), [("pmnist", "qornn")])
def test_mnist_studies_small(tmp_path, study, model):
    summary = run_experiment(
        [
            f"experiment={study}",
            f"model={model}",
            "model.hidden=16",
            "data.source=digits",
            "train.steps=5",
            "train.eval_every=0",
            "experiment.act_bits=[4,16]",
            "experiment.plot=false",
            *SMALL,
        ],
        run_dir=tmp_path,
    )
    assert summary["steps"] == 5
    assert 0.0 <= summary["test_acc"] <= 1.0
    assert set(summary["act_quant"]) == {"4", "16"}
    assert (tmp_path / "activation_quantization.md").exists()
    assert summary["size_bits"] > 0


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["experiment=copy_task", "model=hadamrnn", "model.hidden=100"], "power of 2"),
        (["experiment=copy_task", "model=qornn", "model.bits=1"], "model.bits"),
        (["experiment=smnist", "data.permute=true"], "experiment=pmnist"),
        (["experiment=smnist", "experiment.act_bits=[1]"], "act_bits"),
    ],
)
def test_bad_configs_fail_early(tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        run_experiment([*overrides, "train.steps=1"], run_dir=tmp_path)
