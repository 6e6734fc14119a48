"""The ``Examples`` sections of jaxorth's docstrings run and print what they say.

The same doctests as ``pytest --doctest-modules jaxorth``, collected here so that
``make test`` runs them under the suite's settings (this folder's conftest: rank
promotion raises, jaxtyping checks by beartype, one BLAS thread, the shared compilation
cache) and xdist spreads them over the workers. One test per docstring with examples.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import jaxorth

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    names = ["jaxorth"]
    for info in pkgutil.walk_packages(jaxorth.__path__, "jaxorth."):
        names.append(info.name)
    return sorted(names)


def _doctests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = []
    for name in _modules():
        module = importlib.import_module(name)
        tests += [t for t in finder.find(module, name) if t.examples]
    return sorted(tests, key=lambda t: t.name)


DOCTESTS = _doctests()


def test_doctests_found():
    # the examples the documentation promises (issue 21): a floor, not a count
    names = {t.name.rsplit(".", 1)[-1] for t in DOCTESTS}
    assert {"lorth", "singular_values", "fwht", "bjorck", "sea", "eigenvalues"} <= names
    assert len(DOCTESTS) >= 60


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_examples(test: doctest.DocTest):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=True)
    assert runner.failures == 0, "".join(report)
