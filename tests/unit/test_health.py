"""The image's health check asks the worker where it listens, IPv4 or IPv6 only."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from stream.tools.health import local_url, main


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:6066"),
        ("127.0.0.1", "http://127.0.0.1:6066"),
        ("10.1.2.3", "http://10.1.2.3:6066"),
        ("::", "http://[::1]:6066"),
        ("::1", "http://[::1]:6066"),
        ("fd00::7", "http://[fd00::7]:6066"),
        ("localhost", "http://localhost:6066"),
        ("worker-1", "http://worker-1:6066"),
    ],
)
def test_the_check_asks_the_loopback_of_the_family_the_worker_listens_on(bind, url) -> None:
    assert local_url(bind, 6066) == url


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


class _IPv6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


@contextmanager
def worker_on_ipv6_loopback(status: int) -> Iterator[int]:
    """A stand-in for a worker with ``STREAM_WEB_BIND=::``, answering ``status``; its port."""

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with _IPv6Server(("::1", 0), Health) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()


needs_ipv6 = pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")


def _env(bind: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    return env | {"STREAM_WEB_BIND": bind, "STREAM_WEB_PORT": str(port)}


def _set_env(monkeypatch: pytest.MonkeyPatch, bind: str, port: int) -> None:
    for key in [k for k in os.environ if k.startswith("STREAM_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("STREAM_WEB_BIND", bind)
    monkeypatch.setenv("STREAM_WEB_PORT", str(port))


@needs_ipv6
def test_a_worker_listening_on_ipv6_only_is_healthy() -> None:
    """As the Dockerfile's HEALTHCHECK runs it, in a process of its own."""
    with worker_on_ipv6_loopback(200) as port:
        done = subprocess.run(
            [sys.executable, "-m", "stream.tools.health", "--timeout", "5"],
            env=_env("[::]", port),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"healthy: http://[::1]:{port}/healthz answered 200\n"


@needs_ipv6
def test_a_worker_that_answers_an_error_is_unhealthy(monkeypatch, capsys) -> None:
    with worker_on_ipv6_loopback(500) as port:
        _set_env(monkeypatch, "::", port)
        assert main(["--timeout", "5"]) == 1
    assert capsys.readouterr().err == f"unhealthy: http://[::1]:{port}/healthz answered 500\n"


def test_no_worker_listening_is_unhealthy(monkeypatch, capsys) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        _set_env(monkeypatch, "0.0.0.0", port)
        assert main(["--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"unhealthy: no answer from http://127.0.0.1:{port}/healthz (")


def test_bad_settings_are_unhealthy_not_a_usage_error(monkeypatch, capsys) -> None:
    """Docker reserves exit code 2."""
    _set_env(monkeypatch, "0.0.0.0", 0)
    assert main([]) == 1
    assert capsys.readouterr().err.startswith("unhealthy: configuration error: STREAM_WEB_PORT=")
