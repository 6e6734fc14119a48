"""The public API: every package's ``__all__`` is its exact list of re-exports, every
public name resolves and has a docstring, and ``import jaxorth`` stays light."""

import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import jaxorth

SUBPACKAGES = [
    *(n for n in jaxorth.__all__ if inspect.ismodule(getattr(jaxorth, n))),
    "train",
    "studies",
]
PACKAGES = ["jaxorth"] + [
    info.name
    for info in pkgutil.walk_packages(jaxorth.__path__, "jaxorth.")
    if info.ispkg and not any(part.startswith("_") for part in info.name.split("."))
]


def _declared_public(module):
    """The public names an ``__init__.py`` re-exports (``from .m import x as x``,
    ``from . import m as m``) or defines itself, read from its source."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {
                a.asname for a in node.names if a.asname and a.asname == a.name.split(".")[-1]
            }
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


def test_every_package_is_found():
    assert {"jaxorth.linalg", "jaxorth.rnn", "jaxorth.train", "jaxorth.studies"} <= set(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_the_reexports(name):
    module = importlib.import_module(name)
    listed = list(getattr(module, "__all__", []))
    assert len(listed) == len(set(listed)), f"{name}.__all__ has duplicates"
    for public in listed:
        assert hasattr(module, public), f"{name}.__all__ names {public!r}, which does not resolve"
    declared = _declared_public(module)
    assert set(listed) == declared, (
        f"{name}: re-exported but not in __all__: {sorted(declared - set(listed))}; "
        f"in __all__ but not re-exported: {sorted(set(listed) - declared)}"
    )
    # every public non-module attribute that the package itself defines or re-exports
    # is listed (a name imported for internal use, defined elsewhere, may stay unlisted)
    for attr, obj in vars(module).items():
        if attr.startswith("_") or attr in listed or inspect.ismodule(obj):
            continue
        defined_in = getattr(obj, "__module__", None) or ""
        assert not defined_in.startswith(name + "."), (
            f"{name}.{attr} (from {defined_in}) is public but not in __all__"
        )


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
    for name in SUBPACKAGES[:-2]:
        assert getattr(jaxorth, name).__name__ == f"jaxorth.{name}"
    # the one top-level function: the framework's load_run behind a lazy import
    assert [n for n in jaxorth.__all__ if n not in SUBPACKAGES] == ["load_run"]


HEAVY = ["hydra", "omegaconf", "wandb", "orbax", "matplotlib", "diffrax", "jaxorth.train"]


@pytest.fixture(scope="module")
def loaded_by_import_jaxorth():
    code = "import sys, json, jaxorth; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("heavy", HEAVY)
def test_import_jaxorth_stays_light(loaded_by_import_jaxorth, heavy):
    loaded = [m for m in loaded_by_import_jaxorth if m == heavy or m.startswith(heavy + ".")]
    assert not loaded, f"import jaxorth loads {loaded[:5]}"
    assert "jaxorth.linalg" in loaded_by_import_jaxorth  # the probe did import jaxorth


def test_annotations_are_checked_at_run_time_in_the_suite(user_checks):
    # pyproject.toml instruments jaxorth with jaxtyping + beartype: a wrong rank is caught
    # by the annotation (Float[Array, "*batch m n"]) before jaxorth's own check runs
    import jax.numpy as jnp
    import jaxtyping

    from jaxorth.linalg import bjorck

    with pytest.raises(jaxtyping.TypeCheckError, match="w"):
        bjorck(jnp.ones(3))
    with user_checks(), pytest.raises(ValueError, match="w must have at least 2"):
        bjorck(jnp.ones(3))
    # the numeric tower: an int passes where a float is annotated
    from jaxorth.lipschitz import certified_radius

    assert certified_radius(1, 1) == pytest.approx(2**-0.5)
