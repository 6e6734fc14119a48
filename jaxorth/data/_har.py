"""Human activity recognition from the UCI HAR Dataset files in a user-given folder.

The UCI "Human Activity Recognition Using Smartphones" data (Anguita et al. 2013):
windows of 2.56 s (128 readings at 50 Hz) of the smartphone's accelerometer and
gyroscope, 6 activities (1 walking, 2 walking upstairs, 3 walking downstairs, 4 sitting,
5 standing, 6 laying), 7,352 training and 2,947 test windows. Nothing is downloaded:
:func:`load_har` reads the unpacked archive's raw inertial signals::

    UCI HAR Dataset/{train,test}/Inertial Signals/{body_acc,body_gyro,total_acc}_{x,y,z}_{split}.txt
    UCI HAR Dataset/{train,test}/y_{split}.txt

each signal file one window per line (128 whitespace-separated floats), ``y`` one label
in 1..6 per line. A missing folder or file, a row without exactly 128 values, a value
that is not a number, a label out of range or files of one split with different numbers
of windows raise an error naming the file (and the line).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["HAR_CLASSES", "HAR_SIGNALS", "HAR_STEPS", "SensorDataset", "load_har"]

HAR_SIGNALS = tuple(
    f"{kind}_{axis}" for kind in ("body_acc", "body_gyro", "total_acc") for axis in "xyz"
)
"""The 9 inertial signals, in the order of the input features."""
HAR_STEPS = 128
"""Readings per window (the sequence length)."""
HAR_CLASSES = 6
"""Activities; labels 1..6 in the files, 0..5 in :class:`SensorDataset`."""


class SensorDataset(NamedTuple):
    r"""Windows ``(N, T, C)`` (float32) and labels ``(N,)`` (int32, from 0).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.data import HAR_SIGNALS, load_har
    >>> with tempfile.TemporaryDirectory() as root:  # the archive's layout, two windows a split
    ...     for split in ("train", "test"):
    ...         signals = Path(root, "UCI HAR Dataset", split, "Inertial Signals")
    ...         signals.mkdir(parents=True)
    ...         for name in HAR_SIGNALS:  # one window of 128 readings per line
    ...             lines = [" ".join(["0.5"] * 128), " ".join(["1.5"] * 128)]
    ...             _ = (signals / f"{name}_{split}.txt").write_text("\n".join(lines) + "\n")
    ...         _ = (signals.parent / f"y_{split}.txt").write_text("1\n6\n")
    ...     data = load_har(root)
    >>> data.x_train.shape, data.x_test.shape, data.y_test.tolist()  # (N, T, C), labels from 0
    ((2, 128, 9), (2, 128, 9), [0, 5])
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def _rows(path: Path) -> list[list[str]]:
    """The whitespace-separated fields of each non-blank line of ``path``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing UCI HAR file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text file of numbers ({err})") from None
    rows = [line.split() for line in text.splitlines()]
    rows = [r for r in rows if r]
    if not rows:
        raise ValueError(f"{path}: empty file")
    return rows


def _read_signal(path: Path) -> np.ndarray:
    """One signal file: ``(N, 128)`` float32, one window per line."""
    rows = _rows(path)
    for number, row in enumerate(rows, start=1):
        if len(row) != HAR_STEPS:
            raise ValueError(
                f"{path}, row {number}: {len(row)} values, expected {HAR_STEPS} "
                "(one window of 128 readings per line)"
            )
    try:
        values = np.asarray([v for row in rows for v in row], dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{path}: a value is not a number ({err})") from None
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: values must be finite")
    return values.reshape(len(rows), HAR_STEPS).astype(np.float32)


def _read_labels(path: Path) -> np.ndarray:
    """``y_{split}.txt``: one label in 1..6 per line, returned as 0..5 (int32)."""
    labels = []
    for number, row in enumerate(_rows(path), start=1):
        value = row[0] if len(row) == 1 else None
        if value is None or not value.isdigit() or not 1 <= int(value) <= HAR_CLASSES:
            raise ValueError(
                f"{path}, row {number}: label {' '.join(row)!r} must be one integer in "
                f"1..{HAR_CLASSES}"
            )
        labels.append(int(value) - 1)
    return np.asarray(labels, np.int32)


def _read_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    folder = root / split / "Inertial Signals"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: missing folder; data_dir must hold the unpacked 'UCI HAR Dataset' "
            "(train/ and test/, each with 'Inertial Signals/' and y_<split>.txt)"
        )
    paths = [folder / f"{name}_{split}.txt" for name in HAR_SIGNALS]
    signals = [_read_signal(p) for p in paths]
    labels_path = root / split / f"y_{split}.txt"
    labels = _read_labels(labels_path)
    for path, signal in zip(paths, signals, strict=True):
        if len(signal) != len(labels):
            raise ValueError(
                f"{path} holds {len(signal)} windows but {labels_path} holds {len(labels)} "
                "labels: the files of a split must have one line per window"
            )
    return np.stack(signals, axis=-1), labels


def load_har(data_dir: str | os.PathLike[str], *, standardize: bool = True) -> SensorDataset:
    r"""The UCI HAR train and test windows: ``(N, 128, 9)`` inputs, labels in ``0..5``.

    Parameters
    ----------
    data_dir : path
        The folder holding ``UCI HAR Dataset`` or that folder itself (module docstring).
    standardize : bool
        Subtract each signal's mean and divide by its standard deviation, both measured
        on the training windows (the test windows use the training statistics).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.data import HAR_SIGNALS, load_har
    >>> with tempfile.TemporaryDirectory() as root:  # the archive's layout, two windows a split
    ...     for split in ("train", "test"):
    ...         signals = Path(root, "UCI HAR Dataset", split, "Inertial Signals")
    ...         signals.mkdir(parents=True)
    ...         for name in HAR_SIGNALS:  # one window of 128 readings per line
    ...             lines = [" ".join(["0.5"] * 128), " ".join(["1.5"] * 128)]
    ...             _ = (signals / f"{name}_{split}.txt").write_text("\n".join(lines) + "\n")
    ...         _ = (signals.parent / f"y_{split}.txt").write_text("1\n6\n")
    ...     data = load_har(root)
    >>> data.x_train.shape, data.y_train.tolist()  # labels 1..6 in the files become 0..5
    ((2, 128, 9), [0, 5])
    >>> data.x_train[:, 0, 0].tolist()  # standardised with the training mean 1 and std 0.5
    [-1.0, 1.0]
    """
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data_dir={str(root)!r} is not a directory")
    if (root / "UCI HAR Dataset").is_dir():
        root = root / "UCI HAR Dataset"
    x_train, y_train = _read_split(root, "train")
    x_test, y_test = _read_split(root, "test")
    if standardize:
        mean = x_train.mean(axis=(0, 1), dtype=np.float64)
        std = x_train.std(axis=(0, 1), dtype=np.float64)
        std = np.where(std > 0, std, 1.0)
        x_train = ((x_train - mean) / std).astype(np.float32)
        x_test = ((x_test - mean) / std).astype(np.float32)
    return SensorDataset(x_train, y_train, x_test, y_test, str(root))
