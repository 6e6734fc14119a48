import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_orthconv_spectrum_benchmark_quick():
    # the benchmark script runs end to end (about 3 s with --quick); timings not checked
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "orthconv_spectrum.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # column widths depend on the measured numbers: match the header loosely
    assert re.search(r"\|\s*ratio\s*\|", out.stdout), out.stdout[-2000:]
    assert "largest input size" in out.stdout
