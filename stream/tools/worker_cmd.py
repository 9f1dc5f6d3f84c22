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

import faust

from stream.config import Settings
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
    wait_for_broker(settings.bootstrap_servers, timeout=args.broker_timeout)
    partitions = input_partitions(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = create_worker(settings, partitions)
    faust.Worker(
        worker.app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    ).execute_from_commandline()
    return 0
