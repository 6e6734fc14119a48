"""Every public name of every subpackage is importable and documented."""

import importlib

import pytest

import jaxorth

SUBPACKAGES = [*jaxorth.__all__, "train", "studies"]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_public_names_documented(name):
    module = importlib.import_module(f"jaxorth.{name}")
    assert module.__doc__, f"jaxorth.{name} has no module docstring"
    for public in getattr(module, "__all__", []):
        obj = getattr(module, public)
        if isinstance(obj, dict):  # registries
            continue
        assert getattr(obj, "__doc__", None), f"jaxorth.{name}.{public} has no docstring"


def test_top_level_reexports_subpackages():
    for name in jaxorth.__all__:
        assert getattr(jaxorth, name).__name__ == f"jaxorth.{name}"
