import re
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_orthconv_spectrum_benchmark_quick(monkeypatch, capsys):
    # the benchmark script runs end to end (about 3 s with --quick); timings not checked.
    # Run as __main__ in this process (a subprocess would re-import jax and jaxorth), with
    # the script's directory first on sys.path as for `python benchmarks/...`
    monkeypatch.setattr(sys, "argv", ["orthconv_spectrum.py", "--quick"])
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    try:
        runpy.run_path(str(ROOT / "benchmarks" / "orthconv_spectrum.py"), run_name="__main__")
    finally:
        sys.modules.pop("_timing", None)  # the script's helper module, not the suite's
    out = capsys.readouterr().out
    # column widths depend on the measured numbers: match the header loosely
    assert re.search(r"\|\s*ratio\s*\|", out), out[-2000:]
    assert "largest input size" in out
