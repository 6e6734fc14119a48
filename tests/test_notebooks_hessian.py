import os
from pathlib import Path

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "hessian_spectra.ipynb"


def test_hessian_spectra_notebook_runs_in_smoke_mode(monkeypatch):
    monkeypatch.setenv("JAXORTH_SMOKE", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "strict_saddle" in outputs and "non_strict_saddle" in outputs
    assert "global_minimum" in outputs
    assert os.environ["JAXORTH_SMOKE"] == "1"
