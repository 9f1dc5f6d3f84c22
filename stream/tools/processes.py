"""Running ``stream worker`` as a child process: for the demo, the benchmark and the tests.

Faust wants its own event loop and signal handling, so tools that need a worker beside other
work start the real command, wait until ``/readyz`` says yes, read ``/metrics``, and stop it
with SIGTERM like any supervisor would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from stream.logs import tail

WORKER_COMMAND = (sys.executable, "-m", "stream", "worker")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(text: str) -> dict[str, float]:
    """Prometheus text -> {'name{labels}': value} (comments and _created series dropped)."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            if "_created" not in name:
                values[name] = float(value)
    return values


class WorkerProcess:
    """``stream worker`` (or ``command``) with the given environment; its output goes to
    ``log_path``."""

    def __init__(
        self, env: dict[str, str], log_path: Path, command: Sequence[str] = WORKER_COMMAND
    ) -> None:
        self.command = list(command)
        self.env = {**os.environ, **env}
        self.port = int(self.env.get("STREAM_WEB_PORT", "6066"))
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"worker exited with {self.process.returncode}; see {self.log_path}"
                    f"{self._tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(
            f"worker not ready after {timeout:.0f}s; see {self.log_path}{self._tail()}"
        )

    def get(self, path: str, timeout: float = 10.0) -> bytes:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout) as answer:
            return bytes(answer.read())

    def metrics(self) -> dict[str, float]:
        return scrape(self.get("/metrics").decode())

    def wait_for(self, metric: str, at_least: float, timeout: float = 120.0) -> float:
        deadline = time.monotonic() + timeout
        value = 0.0
        while time.monotonic() < deadline:
            value = self.metrics().get(metric, 0.0)
            if value >= at_least:
                return value
            time.sleep(0.5)
        raise TimeoutError(
            f"{metric} reached {value}, not {at_least}; see {self.log_path}{self._tail()}"
        )

    def _tail(self, lines: int = 40) -> str:
        """The end of the worker's log, for an error read where the log is gone (CI)."""
        last = tail(self.log_path, lines)
        return "" if last is None else "\nwhich ends:\n" + "\n".join(last)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
