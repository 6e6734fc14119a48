"""The ``Examples`` sections of jaxorth's docstrings run and print what they say.

The same doctests as ``pytest --doctest-modules jaxorth``, collected here so that
``make test`` runs them under the suite's settings (this folder's conftest: rank
promotion raises, jaxtyping checks by beartype, one BLAS thread, the shared compilation
cache) and xdist spreads them over the workers. One test per docstring with examples.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

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
    assert len(DOCTESTS) >= 300


# the packages with a page in the API reference (docs/api/NAME.md, as tests/test_docs.py
# checks), each documenting the names of its __all__, and the top-level load_run
API_PAGES = sorted(p.stem for p in (Path(__file__).parents[1] / "docs" / "api").glob("*.md"))
EXAMPLES = re.compile(r"^\s*Examples\n\s*-{3,}\s*$", re.MULTILINE)


def _public_names() -> list[tuple[str, object]]:
    names = [(f"jaxorth.{n}", getattr(jaxorth, n)) for n in jaxorth.__all__]
    for page in API_PAGES:
        module = importlib.import_module(f"jaxorth.{page}")
        names += [(f"jaxorth.{page}.{n}", getattr(module, n)) for n in module.__all__]
    # functions and classes carry their own docstring; the constants (ints, tuples, dicts
    # such as STUDIES) and type aliases (identifiability.Params) cannot: their __doc__ is
    # their type's, and the docs render the comment or string written at the assignment
    return [(n, obj) for n, obj in names if inspect.isfunction(obj) or inspect.isclass(obj)]


def test_every_public_function_and_class_has_examples():
    # issue 21: a short Examples section that runs (test_docstring_examples runs them)
    assert {"orthconv", "train", "studies", "report"} <= set(API_PAGES)
    public = _public_names()
    assert len(public) >= 300  # the enumeration itself is not empty
    missing = [n for n, obj in public if not EXAMPLES.search(inspect.getdoc(obj) or "")]
    assert not missing, f"public names without an Examples section: {missing}"


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_examples(test: doctest.DocTest):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=True)
    assert runner.failures == 0, "".join(report)
