"""``stream worker``: run the segmentation worker (a Faust app) against the configured broker.

Consumes the three input topics, keeps every customer's profile in a Faust table (RocksDB by
default, ``STREAM_STORE=memory`` to keep it in memory) and produces segment changes, churn
risk and dead letters. Start several to share the partitions; each listens on
STREAM_WEB_BIND:STREAM_WEB_PORT for /metrics, /healthz, /readyz and /customers/{id}, and tells
the others to reach it at STREAM_WEB_HOST. Stop with Ctrl-C or SIGTERM, also while it waits for
the broker: either way it exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import signal
import socket
from pathlib import Path
from typing import IO

import faust

from stream.config import ConfigError, Settings
from stream.kafka.topics import wait_for_broker
from stream.tools.options import number
from stream.worker.app import create_worker, input_partitions

log = logging.getLogger(__name__)

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "worker",
        help="run the segmentation worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--broker-timeout",
        type=number(above=0),
        default=30.0,
        metavar="S",
        help="how long to wait for the broker at start-up (default 30)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    # Faust's handlers replace these once it starts; until then a stop (a rollout while the
    # broker is still coming up) would kill the process (143) or raise KeyboardInterrupt (130).
    previous = {signum: signal.signal(signum, _stopped) for signum in STOP_SIGNALS}
    try:
        _check_web_address(settings.web_bind, settings.web_port)
        with _claim_data_dir(settings.data_dir):  # held while the worker runs
            wait_for_broker(settings.bootstrap_servers, timeout=args.broker_timeout)
            _runner(settings, input_partitions(settings)).execute_from_commandline()
    except _Stopped as stop:
        log.info("worker stopped while waiting for the broker", extra={"signal": stop.args[0]})
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


class _Stopped(BaseException):
    """A stop signal before Faust handles them; a BaseException, as KeyboardInterrupt is, so
    that no ``except Exception`` on the way (in the Kafka clients, in Faust) takes it for an
    error."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


def _runner(settings: Settings, partitions: int) -> faust.Worker:
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = create_worker(settings, partitions)
    runner = faust.Worker(
        worker.app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    # quiet does not silence the start-up spinner: when it stops it writes backspace and
    # show-cursor codes to stdout, terminal or not, in front of the next JSON log line.
    runner.spinner = None
    return runner


def _claim_data_dir(data_dir: Path) -> IO[str]:
    """Lock ``data_dir`` for this worker, or raise a :class:`ConfigError` naming the process
    that holds it.

    Two workers on one directory would overwrite each other's churn model and open each
    other's partition stores, with nothing in either log; the lock goes with the process.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / "worker.lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise ConfigError(
            f"STREAM_DATA_DIR={data_dir} is in use by another worker (pid {holder}); "
            "give each worker its own"
        ) from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def _check_web_address(bind: str, port: int) -> None:
    """Raise a :class:`ConfigError` if the web server could not listen on ``bind:port``.

    Faust would find out after reaching the broker, and stop with a traceback. The sockets
    bind as asyncio's server will (every address ``bind`` resolves to, SO_REUSEADDR), so what
    fails here would fail there.
    """
    where = f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(
            bind, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {where} (STREAM_WEB_BIND, STREAM_WEB_PORT): {exc.strerror or exc}"
        ) from None
