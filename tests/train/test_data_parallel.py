import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_data_parallel_matches_single_device():
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4"
    env = dict(os.environ, XLA_FLAGS=flags.strip(), JAX_PLATFORMS="cpu")
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
    # resumed over the 4 devices: the parameters of the uninterrupted run, bit for bit
    assert out["resumed_from"] == 15 and out["resumed_equal"]
    assert out["sharded_err"] < 1e-5
    # the RNN's time loop runs per shard; losses and metrics are the full-batch means
    assert abs(out["rnn_loss_dp0"] - out["rnn_loss_dp1"]) <= 1e-5 * max(1.0, out["rnn_loss_dp0"])
    assert abs(out["rnn_acc_dp0"] - out["rnn_acc_dp1"]) <= 1e-6


def test_set_cpu_devices_after_start_names_the_key():
    import jax
    import pytest

    from jaxorth.train import set_cpu_devices

    jax.numpy.zeros(1).block_until_ready()  # JAX has started in this process
    set_cpu_devices(len(jax.devices("cpu")))  # the count in place: a no-op
    with pytest.raises(ValueError, match=r"train.cpu_devices=7: JAX already runs"):
        set_cpu_devices(7)
    with pytest.raises(ValueError, match="train.cpu_devices must be a positive integer"):
        set_cpu_devices(0)
