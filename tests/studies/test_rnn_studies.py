import jax
import numpy as np
import optax
import pytest
from flax import nnx
from omegaconf import OmegaConf

from jaxorth.cli import run_experiment
from jaxorth.data import copy_task_batch
from jaxorth.studies.rnn_models import QORNNConfig, build_rnn, rnn_optimizer

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


def test_smnist_reads_idx_files_from_data_dir(tmp_path, write_idx):
    # full MNIST is read from the four IDX files in data.dir; here 8x8 digits written as
    # IDX (the study takes the side from the files: 64 steps per sequence)
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    idx = tmp_path / "mnist"
    idx.mkdir()
    for stem, arr in [
        ("train-images-idx3-ubyte", images[:1500]),
        ("train-labels-idx1-ubyte", labels[:1500]),
        ("t10k-images-idx3-ubyte", images[1500:]),
        ("t10k-labels-idx1-ubyte", labels[1500:]),
    ]:
        write_idx(idx / stem, arr, compress=stem.startswith("t10k"))
    summary = run_experiment(
        [
            "experiment=smnist",
            "model=hadamrnn",
            "model.hidden=16",
            f"data.dir={idx}",
            "train.steps=4",
            "train.eval_every=0",
            "experiment.act_bits=[]",
            "experiment.plot=false",
            *SMALL,
        ],
        run_dir=tmp_path / "run",
    )
    assert summary["steps"] == 4 and summary["source"] == "idx"
    table = (tmp_path / "run" / "results.md").read_text()
    assert f"idx (1500 train / {len(images) - 1500} test)" in table
    assert "(64 steps)" in table


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["experiment=copy_task", "model=hadamrnn", "model.hidden=100"], "power of 2"),
        (["experiment=copy_task", "model=qornn", "model.bits=1"], "model.bits"),
        (["experiment=smnist", "data.permute=true"], "experiment=pmnist"),
        (["experiment=smnist", "experiment.act_bits=[1]"], "act_bits"),
        (["experiment=copy_task", "train.cpu_devices=-1"], "train.cpu_devices must be a positive"),
    ],
)
def test_bad_configs_fail_early(tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        run_experiment([*overrides, "train.steps=1"], run_dir=tmp_path)


def test_qornn_projunn_optimizer_keeps_recurrent_weight_orthogonal():
    # STE-projUNN: after each optimizer step cell.w is projected back onto O(n) (float32)
    cfg = OmegaConf.structured(QORNNConfig(hidden=16, method="projunn"))
    model = build_rnn(cfg, 6, 5, seed=0)
    tx = rnn_optimizer(cfg, optax.adam(0.05))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt = tx.init(params)
    x, y = copy_task_batch(jax.random.key(0), 8, 4, 4, 3)

    def loss(p):
        logits = nnx.merge(graphdef, p, rest)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(p, o):
        updates, o = tx.update(jax.grad(loss)(p), o, p)
        return optax.apply_updates(p, updates), o

    w0 = np.asarray(params["cell"]["w"][...])
    u0 = np.asarray(params["u"][...])
    for _ in range(5):
        params, opt = step(params, opt)
    w = np.asarray(params["cell"]["w"][...], np.float64)
    assert np.abs(w - w0).max() > 1e-2  # it moved ...
    np.testing.assert_allclose(w.T @ w, np.eye(16), atol=1e-5)  # ... on O(n)
    assert np.abs(np.asarray(params["u"][...]) - u0).max() > 1e-3  # U trained, unprojected
    # other options keep the plain optimizer
    plain = optax.adam(0.05)
    assert rnn_optimizer(OmegaConf.structured(QORNNConfig()), plain) is plain
