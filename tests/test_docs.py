"""The documentation site builds with ``mkdocs build --strict`` (a broken link, anchor or
cross-reference fails it) and its pages hold what the navigation promises."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "orthconv linalg lipschitz rnn quant dln hessian sparse overestimate identifiability "
    "multilinear approximation data train studies report"
).split()

pytestmark = pytest.mark.slow


def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # every public name of every subpackage gets its own anchored entry on its API page
    for package in PACKAGES:
        module = importlib.import_module(f"jaxorth.{package}")
        api = (site / "api" / package / "index.html").read_text()
        missing = [n for n in module.__all__ if f'id="jaxorth.{package}.{n}"' not in api]
        assert not missing, (package, missing)
    assert "Examples" in (site / "api" / "orthconv" / "index.html").read_text()
    assert (site / "notebooks" / "hessian_spectra" / "index.html").exists()
    assert (site / "notebooks" / "orthconv_spectra" / "index.html").exists()
    reproductions = (site / "reproductions" / "index.html").read_text()
    assert reproductions.count("<tr>") >= 10  # a header and one row per seed paper
    studies = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
    for name in studies:
        assert (site / "studies" / name / "index.html").exists(), name
