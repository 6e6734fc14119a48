import json
import os
import subprocess
import sys
from pathlib import Path


def test_data_parallel_matches_single_device():
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("_dp_script.py"))],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    assert abs(out["loss_dp0"] - out["loss_dp1"]) <= 1e-5 * max(1.0, abs(out["loss_dp0"]))
    assert "divisible by 4" in out["error"]
