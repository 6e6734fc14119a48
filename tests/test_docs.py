"""The documentation site builds with ``mkdocs build --strict`` (a broken link, anchor or
cross-reference fails it) and its pages hold what the navigation promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

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
    api = (site / "api" / "orthconv" / "index.html").read_text()
    # every public name of a subpackage gets its own anchored entry
    import jaxorth.orthconv

    for name in jaxorth.orthconv.__all__:
        assert f'id="jaxorth.orthconv.{name}"' in api, name
    assert "Examples" in api  # the doctest examples are rendered
    assert (site / "notebooks" / "hessian_spectra" / "index.html").exists()
    reproductions = (site / "reproductions" / "index.html").read_text()
    assert reproductions.count("<tr>") >= 10  # a header and one row per seed paper
    studies = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
    for name in studies:
        assert (site / "studies" / name / "index.html").exists(), name
