"""UCI HAR loader on fixture files written here in the dataset's own layout and format."""

import numpy as np
import pytest

from jaxorth.data import HAR_SIGNALS, HAR_STEPS, load_har


def window_values(split, i, k):
    """The 128 readings of window ``i`` of signal ``k``: distinct, known values."""
    offset = 0.5 if split == "test" else 0.0
    return i + k / 10 + offset + np.arange(HAR_STEPS) / 1000


LABELS = {"train": [1, 2, 6, 3], "test": [5, 4]}


@pytest.mark.parametrize("inner", [False, True], ids=["parent", "UCI HAR Dataset"])
def test_har_reads_the_inertial_signals(tmp_path, inner, write_har):
    base = write_har(tmp_path, LABELS, window_values)
    ds = load_har(base if inner else tmp_path, standardize=False)
    assert ds.x_train.shape == (4, 128, 9) and ds.x_test.shape == (2, 128, 9)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    np.testing.assert_array_equal(ds.y_train, [0, 1, 5, 2])  # labels 1..6 -> 0..5
    np.testing.assert_array_equal(ds.y_test, [4, 3])
    # signal k of window i is feature k at every step, in the order of HAR_SIGNALS
    assert HAR_SIGNALS[0] == "body_acc_x" and HAR_SIGNALS[-1] == "total_acc_z"
    for i in range(4):
        for k in range(9):
            np.testing.assert_allclose(ds.x_train[i, :, k], window_values("train", i, k), rtol=1e-6)
    np.testing.assert_allclose(ds.x_test[1, :, 4], window_values("test", 1, 4), rtol=1e-6)


def test_har_standardizes_with_the_training_statistics(tmp_path, write_har):
    write_har(tmp_path, LABELS, window_values)
    raw = load_har(tmp_path, standardize=False)
    ds = load_har(tmp_path)
    np.testing.assert_allclose(ds.x_train.mean(axis=(0, 1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=(0, 1)), 1.0, rtol=1e-5)
    mean = raw.x_train.astype(np.float64).mean(axis=(0, 1))
    std = raw.x_train.astype(np.float64).std(axis=(0, 1))
    np.testing.assert_allclose(ds.x_test, (raw.x_test - mean) / std, rtol=1e-5, atol=1e-5)


def test_har_errors_name_the_file(tmp_path, write_har):
    base = write_har(tmp_path / "a", LABELS, window_values)
    path = base / "train" / "Inertial Signals" / "body_gyro_y_train.txt"
    lines = path.read_text().splitlines()
    lines[1] = lines[1].rsplit(" ", 1)[0]  # 127 values
    path.write_text("\n".join(lines) + "\n")
    ragged = r"body_gyro_y_train\.txt, row 2: 127 values, expected 128"
    with pytest.raises(ValueError, match=ragged):
        load_har(tmp_path / "a")
    lines[1] = " ".join(["0.1x", *lines[0].split()[1:]])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"body_gyro_y_train\.txt: a value is not a number"):
        load_har(tmp_path / "a")

    base = write_har(tmp_path / "b", {"train": [1, 7], "test": [1]}, window_values)
    bad_label = r"train/y_train\.txt, row 2: label '7' must be one integer"
    with pytest.raises(ValueError, match=bad_label):
        load_har(base)
    base = write_har(tmp_path / "c", LABELS, window_values)
    (base / "test" / "y_test.txt").write_text("1\n2\n3\n")
    with pytest.raises(ValueError, match=r"body_acc_x_test\.txt holds 2 windows but .*y_test\.txt"):
        load_har(base)
    (base / "test" / "Inertial Signals" / "total_acc_z_test.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"total_acc_z_test\.txt: missing UCI HAR file"):
        load_har(base)
    with pytest.raises(FileNotFoundError, match=r"Inertial Signals: missing folder"):
        load_har(tmp_path)
