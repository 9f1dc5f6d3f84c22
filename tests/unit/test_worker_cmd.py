"""``stream worker`` before Faust runs: a stop is its normal end there too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from stream.tools.processes import free_port


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_worker_stopped_while_waiting_for_the_broker_exits_0(tmp_path, signum):
    # Kubernetes and compose send SIGTERM at every rollout, broker up or not.
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[2]),  # this checkout
        "STREAM_BROKER": f"127.0.0.1:{free_port()}",  # nobody there
        "STREAM_WEB_PORT": str(free_port()),
        "STREAM_DATA_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "stream.cli", "worker", "--broker-timeout", "60"]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE) as worker:
        lock = tmp_path / "worker.lock"
        deadline = time.monotonic() + 30
        # Claimed once the command runs, just before it waits for the broker.
        while not (lock.exists() and lock.read_text().strip() == str(worker.pid)):
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        worker.send_signal(signum)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err.decode()
    (line,) = err.splitlines()
    entry = orjson.loads(line)
    assert entry["msg"] == "worker stopped while waiting for the broker"
    assert entry["signal"] == signum.name
