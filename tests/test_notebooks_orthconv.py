"""The orthogonal-convolution notebook runs end to end in smoke mode (``JAXORTH_SMOKE=1``)
and is stored executed, so its figures show on the docs site without a run."""

import json
import re
from pathlib import Path

import pytest

nb_run = pytest.importorskip("nbmake.nb_run")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "orthconv_spectra.ipynb"


@pytest.mark.slow
def test_orthconv_spectra_notebook_runs_in_smoke_mode(monkeypatch):
    monkeypatch.setenv("JAXORTH_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    result = nb_run.NotebookRun(NOTEBOOK, default_timeout=300).execute()
    assert result.error is None, f"{result.error.summary}\n{result.error.trace[-3000:]}"
    cells = [c for c in result.nb.cells if c.cell_type == "code"]
    text = "".join(o.get("text", "") for c in cells for o in c.get("outputs", []))
    # the exact layer is an isometry; the unpenalised soft layer is not
    lo, hi = map(float, re.search(r"exact \(OrthConv\)\s+sigma in \[(\S+), (\S+)\]", text).groups())
    assert abs(lo - 1) < 1e-3 and abs(hi - 1) < 1e-3
    lo0, hi0 = map(float, re.search(r"soft, lam = 0\s+sigma in \[(\S+), (\S+)\]", text).groups())
    assert hi0 - lo0 > 0.1
    # k = 3: every shape exists at S = 1, 2 (the theorem), some do not at S = 4
    missing = re.search(r"\{1: (\d+), 2: (\d+), 4: (\d+)\} shapes without one", text).groups()
    assert missing[:2] == ("0", "0") and int(missing[2]) > 0
    figures = sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))
    assert figures == 3


def test_committed_orthconv_notebook_holds_its_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell executed"
    assert sum("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", [])) == 3
