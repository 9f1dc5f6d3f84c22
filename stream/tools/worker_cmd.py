"""``stream worker``: run the segmentation worker (a Faust app) against the configured broker.

Consumes the three input topics, keeps every customer's profile in a Faust table (RocksDB by
default, ``STREAM_STORE=memory`` to keep it in memory) and produces segment changes, churn
risk and dead letters. Start several to share the partitions; each listens on
STREAM_WEB_BIND:STREAM_WEB_PORT for /metrics, /healthz, /readyz and /customers/{id}, and tells
the others to reach it at STREAM_WEB_HOST. Stop with Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import socket

import faust

from stream.config import ConfigError, Settings
from stream.kafka.topics import wait_for_broker
from stream.tools.options import number
from stream.worker.app import create_worker, input_partitions


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
    _check_web_address(settings.web_bind, settings.web_port)
    wait_for_broker(settings.bootstrap_servers, timeout=args.broker_timeout)
    partitions = input_partitions(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
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
    runner.execute_from_commandline()
    return 0


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
