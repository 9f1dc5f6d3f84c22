"""``stream broker``: run the embedded broker with every topic created, until stopped.

Ctrl-C or SIGTERM is the normal way to stop it, so both exit 0 after a clean shutdown. The
broker keeps data in memory only: stopping it discards every topic.
"""

from __future__ import annotations

import argparse
import signal
import threading

from stream.config import EMBEDDED_PORT, PORT, ConfigError, Settings
from stream.kafka import BrokerUnavailable
from stream.kafka.broker import EmbeddedBroker, PortInUse
from stream.kafka.topics import ensure_topics
from stream.tools.options import UsageError, number

POLL_SECONDS = 1.0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "broker",
        help="run the embedded Kafka-compatible broker (memory only) with the topics created",
        description=__doc__,
    )
    parser.add_argument(
        "--port",
        type=number(least=PORT.low, most=PORT.high, whole=True),
        help=f"port on 127.0.0.1 (default: STREAM_EMBEDDED_PORT, or {EMBEDDED_PORT})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    port = settings.embedded_port if args.port is None else args.port
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    broker = EmbeddedBroker(port, log_dir=settings.data_dir / "broker")
    try:
        try:
            broker.start()
        except PortInUse as exc:
            if args.port is None:
                raise ConfigError(f"{exc} with STREAM_EMBEDDED_PORT") from None
            raise UsageError(f"{exc} with --port") from None
        ensure_topics(broker.bootstrap_servers, settings)
        print(f"broker ready on {broker.bootstrap_servers} (log: {broker.log_path})", flush=True)
        print(f"  export STREAM_BROKER={broker.url}", flush=True)
        print("Ctrl-C to stop; topics live in memory and are lost on stop.", flush=True)
        while not stop.wait(POLL_SECONDS):
            if not broker.running:
                raise BrokerUnavailable(
                    f"the embedded broker on {broker.bootstrap_servers} exited; "
                    f"see {broker.log_path}"
                )
        return 0
    finally:
        broker.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
