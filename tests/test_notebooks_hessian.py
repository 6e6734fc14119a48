"""The Hessian notebook runs end to end in smoke mode, executed by nbmake's runner.

``JAXORTH_SMOKE=1`` makes the notebook use small sizes. The same check from a shell:
``JAXORTH_SMOKE=1 pytest --nbmake notebooks/``. Here nbmake's ``NotebookRun`` is called
directly so that the test can also check what the notebook printed and drew. The figures
are inline (``%matplotlib inline``); ``MPLBACKEND=Agg`` keeps the kernel headless.
"""

import json
import re
from pathlib import Path

import pytest

nb_run = pytest.importorskip("nbmake.nb_run")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "hessian_spectra.ipynb"


def _figures(cells) -> int:
    return sum(
        "image/png" in o.get("data", {})
        for c in cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


@pytest.mark.slow
def test_hessian_spectra_notebook_runs_in_smoke_mode(monkeypatch):
    monkeypatch.setenv("JAXORTH_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
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
    # Lanczos agrees with the dense Hessian of the MLP (the cell also asserts it)
    rel = float(re.search(r"max relative difference (\S+)", outputs).group(1))
    assert rel < 1e-6
    # the loaded copy-task model gives the test loss its run reported
    loaded, reported = re.search(
        r"test CE of the loaded model (\S+) \(the run's summary: (\S+)\)", outputs
    ).groups()
    assert loaded == reported
    assert _figures(result.nb.cells) == 3  # inline figures, not only saved ones
    assert "jax_enable_x64" not in NOTEBOOK.read_text(encoding="utf-8")  # x64 scoped


def test_committed_notebook_holds_its_outputs():
    """The notebook is stored executed (full size), so its figures show without a run."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell executed"
    assert sum("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", [])) == 3
    assert 'matplotlib.use("Agg")' not in json.dumps(nb)
