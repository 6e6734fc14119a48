"""Argument checks shared by every package: the one home of "must be a positive int".

Each helper raises :class:`ValueError` *before any compute*, with a message that names
the caller's own parameter (``hidden_size must be ...``), never a config key: a study
that validates a config re-words the message with its key (see
:func:`jaxorth.studies.reword`). Helpers return the checked value converted to a plain
Python type, so ``n = positive_int(n, "n")`` both checks and normalises.

Array values (:func:`finite`, :func:`real`): the library's NaN policy is that public
functions reject non-finite inputs eagerly, before compute, when the values are concrete
(numpy arrays, Python numbers, jax arrays outside a trace). Under ``jit``, ``vmap`` or
``grad`` the values are tracers and cannot be inspected: the check is skipped and a
non-finite input propagates to the output (the contract is the caller's). Dtype checks
(:func:`real`) only read the dtype, so they also run under ``jit``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "finite",
    "float_vector",
    "int_at_least",
    "ints_in_range",
    "is_power_of_two",
    "number_at_least",
    "one_of",
    "positive_int",
    "positive_number",
    "power_of_two",
    "real",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def int_at_least(value: Any, name: str, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer ``>= minimum`` (bools are rejected)."""
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def positive_int(value: Any, name: str) -> int:
    """``value`` as an ``int`` if it is a positive integer (bools are rejected)."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def is_power_of_two(n: Any) -> bool:
    """Whether ``n`` is a positive integer power of two (``1, 2, 4, ...``).

    Examples
    --------
    >>> from jaxorth.linalg import is_power_of_two
    >>> is_power_of_two(128), is_power_of_two(96)
    (True, False)
    """
    return _is_int(n) and n >= 1 and (int(n) & (int(n) - 1)) == 0


def power_of_two(value: Any, name: str, purpose: str = "") -> int:
    """``value`` as an ``int`` if it is a power of two; the message names the nearest ones.

    ``purpose`` completes the sentence: ``"n must be a power of 2 for <purpose>"``.
    """
    if not is_power_of_two(value):
        near = ""
        if _is_int(value) and value > 1:
            lo = 2 ** int(math.floor(math.log2(int(value))))
            near = f" (nearest: {lo} or {2 * lo})"
        what = f" for {purpose}" if purpose else ""
        raise ValueError(f"{name} must be a power of 2{what}, got {value!r}{near}")
    return int(value)


def number_at_least(value: Any, name: str, minimum: float, *, strict: bool = False) -> float:
    """``value`` as a finite ``float`` that is ``>= minimum`` (``> minimum`` if ``strict``)."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value))
    ok = ok and (float(value) > minimum if strict else float(value) >= minimum)
    if not ok:
        rel = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {rel} {minimum:g}, got {value!r}")
    return float(value)


def positive_number(value: Any, name: str) -> float:
    """``value`` as a finite ``float`` if it is ``> 0``."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def one_of(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``; the message lists them."""
    choices = tuple(choices)
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def ints_in_range(values: Any, name: str, low: int, high: int, high_name: str = "") -> None:
    """Check that every entry of an integer array lies in ``[low, high)``.

    Values can only be read when they are concrete: for a ``jax`` tracer (inside
    ``jit``, ``vmap`` or ``grad``) this check is skipped, so a function that calls it
    documents its range contract for traced inputs. The message names the first
    offending value and its index: ``labels must lie in [0, n_classes=10), got 197 at
    index (3,)``. ``high_name`` names the bound (``n_classes``) in the message.
    """
    import jax

    if isinstance(values, jax.core.Tracer):
        return
    arr = np.asarray(values)
    if arr.size == 0:
        return
    bad = np.flatnonzero((arr < low) | (arr >= high))
    if bad.size:
        where = np.unravel_index(int(bad[0]), arr.shape)
        value = arr.reshape(-1)[bad[0]].item()
        bound = f"{high_name}={high}" if high_name else f"{high}"
        raise ValueError(
            f"{name} must lie in [{low}, {bound}), got {value} at index "
            f"{tuple(int(i) for i in where)} ({bad.size} of {arr.size} entries out of range)"
        )


def _leaves_with_names(value: Any, name: str) -> list[tuple[str, Any]]:
    """The array leaves of ``value`` (a pytree or one array), each named after ``name``."""
    if value is None:
        return []
    flat, _ = jax.tree_util.tree_flatten_with_path(value)
    return [(name + jax.tree_util.keystr(path), leaf) for path, leaf in flat]


def _on_host(leaf: jax.Array) -> bool:
    """Whether every shard of ``leaf`` lives in this process's CPU memory."""
    return leaf.is_fully_addressable and all(d.platform == "cpu" for d in leaf.devices())


def finite(value: Any, name: str) -> Any:
    """``value`` unchanged if every entry is finite (no NaN, no inf); else ``ValueError``.

    ``value`` is an array, a number or a pytree of them (the message then names the
    leaf, ``params['w']``). Tracers (under ``jit`` / ``vmap`` / ``grad``) are skipped:
    their values are unknown at trace time (see the module docstring). Integer and
    boolean leaves are always finite. Cost: one ``isfinite(...).all()`` per leaf (numpy,
    in place, for arrays in CPU memory: no compilation per shape).
    """
    for leaf_name, leaf in _leaves_with_names(value, name):
        if isinstance(leaf, jax.core.Tracer):
            continue
        if isinstance(leaf, jax.Array):
            if not jnp.issubdtype(leaf.dtype, jnp.inexact):
                continue
            if _on_host(leaf):
                # a CPU buffer is read in place: an eager jnp check would compile two
                # small XLA programs for every new shape and dtype
                arr = np.asarray(leaf)
                if np.isfinite(arr).all():
                    continue
            else:
                # on the device, and eagerly even when called while tracing (closed-over
                # arrays)
                with jax.ensure_compile_time_eval():
                    if bool(jnp.isfinite(leaf).all()):
                        continue
                arr = np.asarray(leaf)
        else:
            arr = np.asarray(leaf)
            if not np.issubdtype(arr.dtype, np.inexact) or np.isfinite(arr).all():
                continue
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(np.isinf(arr).sum())
        first = np.argwhere(~np.isfinite(arr))[0].tolist() if arr.ndim else []
        where = f", first at index {tuple(first)}" if arr.ndim else ""
        raise ValueError(
            f"{leaf_name} must be finite, got {n_nan} NaN and {n_inf} inf of "
            f"{arr.size} entries{where}"
        )
    return value


def float_vector(value: Any, name: str, size: int | None = None, size_name: str = "") -> np.ndarray:
    """``value`` as a 1-D float64 numpy array of finite real numbers (of length ``size``).

    For concrete inputs (lists, tuples, numpy arrays, jax arrays outside a trace): the
    values are read, so this check is not for tracers. Integers are converted; booleans,
    strings, complex numbers, NaN and inf are rejected. ``size_name`` names the required
    length in the message: ``directions must have length d=2, got length 3``.
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a 1-D array of real numbers, got {value!r}") from err
    if arr.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must be a 1-D array of real numbers, got dtype {arr.dtype} ({value!r})"
        )
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of real numbers, got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        bound = f"{size_name}={size}" if size_name else f"{size}"
        raise ValueError(f"{name} must have length {bound}, got length {arr.shape[0]}")
    arr = arr.astype(np.float64)
    finite(arr, name)
    return arr


def real(value: Any, name: str) -> Any:
    """``value`` unchanged if its dtype is not complex; else ``ValueError``.

    For functions of real arrays that would otherwise cast a complex input to its real
    part silently. Reads only the dtype, so it works on tracers too; pytrees are
    checked leaf by leaf.
    """
    for leaf_name, leaf in _leaves_with_names(value, name):
        dtype = getattr(leaf, "dtype", None)
        if dtype is None:
            dtype = np.asarray(leaf).dtype
        if jnp.issubdtype(dtype, jnp.complexfloating):
            raise ValueError(
                f"{leaf_name} must be real, got complex dtype {dtype} (the imaginary part "
                f"would be dropped); pass the real part explicitly if that is intended"
            )
    return value
