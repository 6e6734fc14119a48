"""The Hessian notebook runs end to end in smoke mode, executed by nbmake's runner.

``JAXORTH_SMOKE=1`` makes the notebook use small sizes. The same check from a shell:
``JAXORTH_SMOKE=1 pytest --nbmake notebooks/``. Here nbmake's ``NotebookRun`` is called
directly so that the test can also check what the notebook printed.
"""

from pathlib import Path

import pytest

nb_run = pytest.importorskip("nbmake.nb_run")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "hessian_spectra.ipynb"


@pytest.mark.slow
def test_hessian_spectra_notebook_runs_in_smoke_mode(monkeypatch):
    monkeypatch.setenv("JAXORTH_SMOKE", "1")
    result = nb_run.NotebookRun(NOTEBOOK, default_timeout=300).execute()
    assert result.error is None, f"{result.error.summary}\n{result.error.trace[-3000:]}"
    outputs = "".join(
        o.get("text", "")
        for c in result.nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    # the notebook builds and classifies a critical point of every kind
    assert "strict_saddle" in outputs and "non_strict_saddle" in outputs
    assert "global_minimum" in outputs
