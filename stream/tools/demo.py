"""``stream demo``: a whole shop on your laptop, segment changes as they happen.

Starts the embedded broker on a free port, the real worker (``stream worker``) beside it, and
the synthetic shop generator replaying a year of history in about a minute, then shows the
changes the worker emits: notable moves as they happen and, every few seconds while anything
moves, customers per segment, tier, lifecycle stage and satisfaction. Ctrl-C (or
``--duration``) stops everything and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from stream.config import Settings
from stream.kafka.broker import EmbeddedBroker
from stream.kafka.topics import ensure_topics
from stream.tools.generate import (
    add_workload_options,
    check_workload_options,
    produce,
    workload_from,
)
from stream.tools.options import EXIT_FOUND, number
from stream.tools.processes import WorkerProcess, free_port

DIMENSIONS = ("rfm_segment", "value_tier", "lifecycle_stage", "satisfaction")
NOTABLE = {"declining", "churned", "reactivated", "detractor", "vip", "champions", "cant_lose_them"}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "demo",
        help="broker + worker + synthetic shop, with a live view of segment changes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration", type=number(above=0), metavar="S", help="stop after S seconds"
    )
    add_workload_options(parser, customers=3000, events=60_000)
    parser.add_argument(
        "--rate", type=number(above=0), default=2000, help="events/s produced; default 2000"
    )
    parser.set_defaults(func=run)


class View:
    """What the change stream says about the shop: the latest value per customer and moves."""

    def __init__(self) -> None:
        self.latest: dict[str, dict[str, str | None]] = {d: {} for d in DIMENSIONS}
        self.changes: Counter[str] = Counter()
        self.churn_events = 0
        self.lock = threading.Lock()

    def add(self, change: dict[str, Any]) -> str | None:
        with self.lock:
            dimension = change["dimension"]
            self.latest[dimension][change["customer_id"]] = change["to"]
            self.changes[dimension] += 1
        if change["to"] in NOTABLE:
            return (
                f"  {change['customer_id']:<10} {dimension:<16} {change['from'] or '-':>18} -> "
                f"{change['to']:<16} {change['reason']}"
            )
        return None

    def distribution(self, dimension: str) -> Counter[str]:
        with self.lock:
            return Counter(v for v in self.latest[dimension].values() if v)


class News:
    """Whether the live table is worth printing again: only when something moved. The
    worker's clock is event time, so once the shop is replayed nothing moves; that is said
    once instead of repeating the same table until Ctrl-C."""

    QUIET_TELLS = 3
    """Tells without a move before the shop counts as settled: the worker holds the last
    records back for up to 10 s (``MAX_WAIT_S``), waiting for the other input topics."""

    def __init__(self) -> None:
        self._last: tuple[float, int] | None = None
        self._quiet = 0

    def tell(self, processed: float, changes: int, *, replaying: bool) -> str | None:
        """``moved``, ``settled`` (once, when nothing moved for a while after the replay) or
        None."""
        if (processed, changes) != self._last:
            self._last = processed, changes
            self._quiet = 0
            return "moved"
        if replaying:
            return None
        self._quiet += 1
        return "settled" if self._quiet == self.QUIET_TELLS else None


def _table(view: View) -> str:
    lines = []
    for dimension in DIMENSIONS:
        counts = view.distribution(dimension)
        cells = "  ".join(f"{name} {count}" for name, count in counts.most_common())
        lines.append(f"  {dimension:<16} {cells or '-'}")
    return "\n".join(lines)


async def _watch(broker: str, settings: Settings, view: View, stop: threading.Event) -> None:
    consumer = AIOKafkaConsumer(
        settings.topics.segment_changes,
        settings.topics.churn_risk,
        bootstrap_servers=broker,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    shown = 0.0
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.topic == settings.topics.churn_risk:
                        view.churn_events += 1
                        continue
                    line = view.add(orjson.loads(record.value))
                    # A few notable moves per second keep the view readable at 2k events/s.
                    if line and time.monotonic() - shown > 0.25:
                        print(line, flush=True)
                        shown = time.monotonic()
    finally:
        await consumer.stop()


def run(args: argparse.Namespace, settings: Settings) -> int:
    check_workload_options(args)
    workdir = Path(tempfile.mkdtemp(prefix="stream-demo-"))
    print(f"stream demo: working in {workdir}", flush=True)
    code = EXIT_FOUND
    try:
        code = _run_in(workdir, args, settings)
    finally:
        # The worker's and broker's logs only matter when something went wrong.
        if code == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"stream demo: logs kept in {workdir}", file=sys.stderr, flush=True)
    return code


def _run_in(workdir: Path, args: argparse.Namespace, settings: Settings) -> int:
    with EmbeddedBroker(log_dir=workdir / "broker") as broker:
        bootstrap = broker.bootstrap_servers
        settings = replace(settings, broker=f"kafka://{bootstrap}")
        ensure_topics(bootstrap, settings)
        env = {
            "STREAM_BROKER": settings.broker,
            "STREAM_DATA_DIR": str(workdir / "data"),
            "STREAM_WEB_PORT": str(free_port()),
            "STREAM_CLOCK": "event",
            "STREAM_SESSION_TIMEOUT_S": "10",
        }
        print("starting the worker ...", flush=True)
        with WorkerProcess(env, workdir / "worker.log") as worker:
            print(f"worker ready: {worker.url}/metrics, {worker.url}/customers/<id>", flush=True)
            return _show(args, settings, bootstrap, worker)


def _show(
    args: argparse.Namespace, settings: Settings, bootstrap: str, worker: WorkerProcess
) -> int:
    workload = workload_from(args, settings)
    print(
        f"replaying {len(workload.events)} events of {args.customers} customers "
        f"({workload.start:%Y-%m-%d} to {workload.end:%Y-%m-%d}) at {args.rate:.0f}/s",
        flush=True,
    )
    view, stop = View(), threading.Event()
    threads = [
        threading.Thread(
            target=lambda: asyncio.run(
                produce(workload.events, bootstrap, settings.topics, rate=args.rate)
            ),
            daemon=True,
        ),
        threading.Thread(
            target=lambda: asyncio.run(_watch(bootstrap, settings, view, stop)), daemon=True
        ),
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    next_table = started + 5
    news = News()
    try:
        while args.duration is None or time.monotonic() - started < args.duration:
            time.sleep(0.5)
            if time.monotonic() < next_table:
                continue
            next_table = time.monotonic() + 5
            processed = worker.metrics().get("segmentation_processed_events_total", 0)
            said = news.tell(processed, view.changes.total(), replaying=threads[0].is_alive())
            if said == "moved":
                print(f"\n-- {processed:.0f} events processed; customers now:\n{_table(view)}\n")
            elif said == "settled":
                until = "Ctrl-C" if args.duration is None else f"--duration {args.duration:g}"
                print(
                    f"-- the whole shop is replayed and processed; {until} stops the demo",
                    flush=True,
                )
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    values = worker.metrics()
    stop.set()
    threads[1].join(timeout=5)
    dead = sum(v for k, v in values.items() if k.startswith("segmentation_dead_letters_total"))
    print("\n== summary")
    processed = values.get("segmentation_processed_events_total", 0)
    print(f"  events processed           {processed:.0f}")
    print(f"  dead letters               {dead:.0f}")
    print(f"  churn-risk events          {view.churn_events}")
    for dimension in DIMENSIONS:
        print(f"  {dimension + ' changes':<26} {view.changes[dimension]}")
    print("  customers now:")
    print(_table(view))
    if not all(view.changes[d] for d in ("rfm_segment", "value_tier")):
        print("stream demo: no segment changes were seen", file=sys.stderr)
        return EXIT_FOUND
    return 0
