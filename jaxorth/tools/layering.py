"""Check the import rules between jaxorth's packages (DESIGN.md, "package layout").

Usage: ``python -m jaxorth.tools.layering [ROOT]`` (ROOT: the repository, by default the
one this module lives in). Prints the violations and exits with 1, or prints
``layering: ok (N modules)`` and exits with 0. The imports are read with :mod:`ast`;
no module is imported.

Rules
-----
math
    The math packages (:data:`MATH`) import none of :data:`FORBIDDEN_IN_MATH`: the
    experiment framework (``jaxorth.train``, ``jaxorth.studies``, ``jaxorth.cli``,
    ``jaxorth.report``), Hydra, OmegaConf, W&B.
private
    A private module (a name component starting with ``_``) is imported only from
    inside the package that holds it: ``jaxorth.A._m`` only by modules of
    ``jaxorth/A/``. ``jaxorth._checks`` and ``jaxorth._precision`` are shared by
    design (:data:`SHARED_PRIVATE`). ``from jaxorth.A import _name`` counts as an
    import of ``jaxorth.A._name``.
scripts
    ``benchmarks/`` and ``experiments/`` import no private module of jaxorth at all
    (their own helpers, such as ``benchmarks/_timing.py``, are not jaxorth's).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

PACKAGE = "jaxorth"
MATH = (
    "_checks",
    "_precision",
    "_random",
    "linalg",
    "orthconv",
    "lipschitz",
    "quant",
    "rnn",
    "dln",
    "hessian",
    "sparse",
    "overestimate",
    "identifiability",
    "multilinear",
    "approximation",
    "data",
)
FORBIDDEN_IN_MATH = (
    "jaxorth.train",
    "jaxorth.studies",
    "jaxorth.cli",
    "jaxorth.report",
    "hydra",
    "omegaconf",
    "wandb",
)
SHARED_PRIVATE = ("jaxorth._checks", "jaxorth._precision")
SCRIPT_DIRS = ("benchmarks", "experiments")


class Violation(NamedTuple):
    """One import that breaks a rule."""

    path: str  # relative to the root
    line: int
    rule: str  # "math", "private" or "scripts"
    imported: str  # the module imported

    def __str__(self) -> str:  # noqa: D105
        what = {
            "math": "a math package imports the framework or its dependencies",
            "private": "private module of another package",
            "scripts": "a script imports a private module of jaxorth",
        }[self.rule]
        return f"{self.path}:{self.line}: [{self.rule}] imports {self.imported} ({what})"


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    """Dotted module name of ``path`` under ``root`` and whether it is a package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """``(imported module, line)`` for every import in ``tree`` (relative ones resolved).

    ``from X import name`` yields ``X``, then ``X.name`` (``name`` may be a module).
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                up = node.level - 1
                if up > len(base):
                    continue  # beyond the top: not ours to judge
                base = base[: len(base) - up] if up else base
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target:
                yield target, node.lineno
            if target == "__future__":
                continue
            for alias in node.names:
                if alias.name != "*":
                    yield f"{target}.{alias.name}" if target else alias.name, node.lineno


def _private_owner(imported: str) -> str | None:
    """The package that holds the first private component of ``imported`` (jaxorth only)."""
    parts = imported.split(".")
    if parts[0] != PACKAGE:
        return None
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_"):
            if ".".join(parts[: i + 1]) in SHARED_PRIVATE:
                return None
            return ".".join(parts[:i])
    return None


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def check_file(path: Path, root: Path) -> list[Violation]:
    """The violations of one file (a module of jaxorth or a script)."""
    rel = path.relative_to(root)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: dict[tuple[int, str], str] = {}  # (line, rule) -> the first module that breaks it

    def report(line: int, rule: str, imported: str) -> None:
        found.setdefault((line, rule), imported)

    if rel.parts[0] in SCRIPT_DIRS:
        for imported, line in imports(tree, "", True):
            parts = imported.split(".")
            if parts[0] == PACKAGE and any(p.startswith("_") for p in parts[1:]):
                report(line, "scripts", imported)
    else:
        module, is_package = _module_name(path, root)
        parts = module.split(".")
        math = len(parts) > 1 and parts[1] in MATH
        for imported, line in imports(tree, module, is_package):
            if math and any(_within(imported, bad) for bad in FORBIDDEN_IN_MATH):
                report(line, "math", imported)
            owner = _private_owner(imported)
            if owner is not None and not _within(module, owner):
                report(line, "private", imported)
    return [Violation(rel.as_posix(), line, rule, imp) for (line, rule), imp in found.items()]


def files(root: Path) -> list[Path]:
    """The Python files the rules apply to: ``jaxorth/`` and the script folders."""
    found = sorted((root / PACKAGE).rglob("*.py"))
    for name in SCRIPT_DIRS:
        if (root / name).is_dir():
            found += sorted((root / name).rglob("*.py"))
    return found


def check(root: str | Path) -> tuple[list[Violation], int]:
    """Every violation under ``root`` (sorted, duplicates removed) and the file count."""
    root = Path(root).resolve()
    checked = files(root)
    found = {v for path in checked for v in check_file(path, root)}
    return sorted(found), len(checked)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check and print the result; the exit code is 1 on a violation."""
    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[0]) if args else Path(__file__).resolve().parents[2]
    if not (root / PACKAGE).is_dir():
        print(f"layering: no {PACKAGE}/ under {root}", file=sys.stderr)
        return 2
    violations, n = check(root)
    if violations:
        for v in violations:
            print(v)
        print(f"layering: {len(violations)} violation(s) in {n} modules")
        return 1
    print(f"layering: ok ({n} modules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
