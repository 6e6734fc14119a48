"""Scoped float64: ``with float64(): ...`` turns ``jax_enable_x64`` on for one block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax


@contextlib.contextmanager
def float64() -> Iterator[None]:
    """Run a block with ``jax_enable_x64`` on; the previous value is restored after.

    For computations whose claims are checked at float64 precision (identities, Hessian
    signs) and for float64 references in tests.
    """
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)
