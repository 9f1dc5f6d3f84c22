"""``stream bench``: the worker's throughput against the raw limit and a naive Faust peer.

One run, one workload: ``--events`` generated events (``stream generate``'s personas) are
produced once to fresh topics (the configured names plus a unique suffix), then measured by:

(a) raw: a plain aiokafka consumer reads the three input topics and JSON-decodes every value;
    events over the time from the first fetch to the last record.
(b) pipeline: the real ``stream worker`` as a subprocess (profiles in the configured store,
    RocksDB by default; changelog and outputs produced) processes the same events. /metrics is
    polled every 0.2 s from start-up; the rate is the events counted (processed + duplicates +
    dead letters) between the first poll that shows progress and the first that shows all of
    them, over the time between those polls. Start-up and the group join are not counted.
(c) peer: the naive Faust app (``python -m stream.tools.peer``: an ordinary agent, a Faust
    Table get and set per event, ``await topic.send`` per output) on the same topics. It is
    slow: it runs by itself, over all the events unless ``--peer-events`` says fewer.
core: ``parse_input`` + ``Engine.process`` in this process, profiles in a dict: what the core
    alone allows, to show where the pipeline's time goes.

Latency: while the worker still runs, purchases from brand-new customers are produced at
``--latency-rate`` events/s for ``--latency-seconds`` s; each first purchase gives segment
changes keyed by that customer. Latency = the first change's record timestamp minus the
purchase's record timestamp (both Kafka CreateTime, set by producers on this machine), p50 and
p99 by nearest rank. ``latency_queued_*`` stops at the change's ``emitted_at`` instead (when
the worker's batch holding the purchase started): the wait for a fetch and earlier batches.

State: ``state_bytes_per_customer`` is the mean size of a customer's latest profile record
(key + ``stream.worker.profiles.encode``d profile) read back from the worker table's changelog,
over the workload's customers. ``rocksdb_bytes_per_customer`` is the worker's store directory
after it stopped (SST files, WAL, manifests) over every customer it held.

Without ``--broker`` an embedded broker runs on a free port for the duration; with
``--broker`` the same code runs against that cluster and the run's topics are deleted at the
end. Logs (worker, peer, broker) stay in the directory printed at the end.

Exit codes: 0 done, 1 a stage failed (the message names it and the log to read), 2 bad
options, 3 the broker cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.errors import KafkaError

from schemas.inputs import parse_input
from stream.config import Settings, Topics
from stream.core.churn import ChurnModel
from stream.core.engine import Engine
from stream.kafka.broker import EmbeddedBroker
from stream.kafka.topics import admin_client, ensure_topics
from stream.tools.generate import (
    Workload,
    add_workload_options,
    check_workload_options,
    produce,
    shop_currency,
    workload_from,
)
from stream.tools.options import broker_option, number, progress_lines
from stream.tools.processes import WorkerProcess, free_port
from stream.worker.producing import Partitioner

say = progress_lines("bench")

POLL_S = 0.2
IDLE_S = 3.0
EXIT_STAGE_FAILED = 1


class StageFailed(RuntimeError):
    """A stage of the benchmark did not finish; the message says which and where to look."""


@dataclass(frozen=True)
class Run:
    """Where this run lives: its broker, topic names, app id and working directory."""

    bootstrap: str
    settings: Settings
    workdir: Path
    suffix: str

    def env(self, app_id: str, data_dir: Path) -> dict[str, str]:
        """The ``STREAM_*`` environment of a worker or peer process of this run."""
        settings = self.settings
        env = {
            "STREAM_BROKER": f"kafka://{self.bootstrap}",
            "STREAM_APP_ID": app_id,
            "STREAM_DATA_DIR": str(data_dir),
            "STREAM_STORE": settings.store,
            "STREAM_CLOCK": "event",
            # The shortest allowed: Tansu holds each group join for half of it.
            "STREAM_SESSION_TIMEOUT_S": "10",
            "STREAM_WEB_PORT": str(free_port()),
        }
        for field in fields(Topics):
            env[f"STREAM_TOPIC_{field.name.upper()}"] = getattr(settings.topics, field.name)
        return env


def new_run(settings: Settings, bootstrap: str, workdir: Path) -> Run:
    suffix = f"bench-{uuid.uuid4().hex[:8]}"
    topics = Topics(
        **{f.name: f"{getattr(settings.topics, f.name)}.{suffix}" for f in fields(Topics)}
    )
    settings = replace(
        settings, broker=f"kafka://{bootstrap}", app_id=f"{settings.app_id}-{suffix}", topics=topics
    )
    return Run(bootstrap, settings, workdir, suffix)


# -- reading topics ---------------------------------------------------------------------


async def _consumer(bootstrap: str, topics: tuple[str, ...]) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    await consumer.topics()
    tps = [
        TopicPartition(topic, p)
        for topic in topics
        for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    return consumer


async def read_topic(
    bootstrap: str, topic: str, on_record: Callable[[Any], None], done: Callable[[], bool]
) -> None:
    """Feed every record of ``topic`` to ``on_record`` until ``done()`` or it stays idle
    (Tansu's end offsets under-report, so the end is where nothing more arrives)."""
    consumer = await _consumer(bootstrap, (topic,))
    try:
        quiet_since = time.monotonic()
        while not done() and time.monotonic() - quiet_since < IDLE_S:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    on_record(record)
                quiet_since = time.monotonic()
    finally:
        await consumer.stop()


async def raw_rate(bootstrap: str, topics: tuple[str, ...], expected: int) -> float:
    """(a) Plain consumption and JSON decoding of ``expected`` records from ``topics``."""
    consumer = await _consumer(bootstrap, topics)
    loads = orjson.loads
    try:
        count = 0
        started = last_progress = time.perf_counter()
        while count < expected:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    loads(record.value)
                count += len(records)
            now = time.perf_counter()
            if batch:
                last_progress = now
            elif now - last_progress > 30:
                raise StageFailed(
                    f"raw consumption read {count} of {expected} events, then stalled"
                )
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


# -- the core alone ---------------------------------------------------------------------


def core_rate(workload: Workload, settings: Settings, partitions: int) -> float:
    """``parse_input`` and ``Engine.process`` only, in this process, profiles in a dict."""
    partitioner = Partitioner(partitions)
    inputs = [
        (e["event_type"], orjson.dumps(e), partitioner(e["customer_id"].encode()))
        for e in workload.events
    ]
    engine = Engine(settings.engine, {}, churn=ChurnModel(settings.engine))
    emitted_at = datetime.now(UTC)
    limit, rules = settings.max_payload_bytes, engine.rules
    started = time.perf_counter()
    for kind, raw, partition in inputs:
        event = parse_input(kind, raw, max_bytes=limit, rules=rules)
        engine.process(event, partition, emitted_at)
    return len(inputs) / (time.perf_counter() - started)


# -- the worker -------------------------------------------------------------------------


def counted(metrics: dict[str, float]) -> float:
    """Inputs the worker has finished with: processed + duplicates + dead letters."""
    dead = sum(v for k, v in metrics.items() if k.startswith("segmentation_dead_letters_total"))
    return (
        metrics.get("segmentation_processed_events_total", 0.0)
        + metrics.get("segmentation_duplicate_events_total", 0.0)
        + dead
    )


def handler_seconds(metrics: dict[str, float]) -> tuple[float, float]:
    """(seconds inside the batch handler, batches) so far."""
    series = 'segmentation_processing_seconds_{}{{operation="event"}}'
    return metrics.get(series.format("sum"), 0.0), metrics.get(series.format("count"), 0.0)


@dataclass
class PipelineFigures:
    events_per_s: float
    timing: str
    handler_share: float
    batches: float
    events_per_batch: float


def wait_until(worker: WorkerProcess, target: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    seen = 0.0
    while (seen := counted(worker.metrics())) < target:
        if time.monotonic() > deadline:
            raise StageFailed(
                f"{what}: the worker finished {seen:.0f} of {target} events in {timeout:.0f}s; "
                f"see {worker.log_path}"
            )
        time.sleep(POLL_S)


def measure_pipeline(
    worker: WorkerProcess, starting: Any, expected: int, timeout: float
) -> PipelineFigures:
    """(b) Poll /metrics from start-up, before /readyz, so that a small run's first batch is
    seen too (a poll waits while a batch is handled: progress shows at batch ends)."""
    deadline = time.monotonic() + timeout
    first: tuple[float, float, float] | None = None
    while True:
        if starting.done() and starting.exception() is not None:
            raise StageFailed(f"the worker did not start: {starting.exception()}")
        try:
            metrics = worker.metrics()
        except (urllib.error.URLError, OSError):
            metrics = {}
        now = time.perf_counter()
        done = counted(metrics)
        if done and first is None:
            first = (now, done, handler_seconds(metrics)[0])
        if done >= expected:
            break
        if time.monotonic() > deadline:
            raise StageFailed(
                f"pipeline: the worker finished {done:.0f} of {expected} events in "
                f"{timeout:.0f}s; see {worker.log_path}"
            )
        time.sleep(POLL_S)
    assert first is not None
    busy, batches = handler_seconds(metrics)
    t0, n0, busy0 = first
    if done > n0:
        rate = (done - n0) / (now - t0)
        timing = "wall time from the first progress seen to the last event"
        share = (busy - busy0) / (now - t0)
    else:
        # A fetch's handler time is recorded once it is done, just after its events are
        # counted: a poll in between sees the events and no time yet.
        while not busy and time.monotonic() < deadline:
            time.sleep(POLL_S)
            busy, batches = handler_seconds(worker.metrics())
        if not busy:
            raise StageFailed(
                f"pipeline: the worker recorded no handler time; see {worker.log_path}"
            )
        rate = done / busy
        timing = "time inside the batch handler only: every event was done at the first poll"
        share = 1.0
    return PipelineFigures(rate, timing, share, batches, done / max(batches, 1.0))


# -- latency ----------------------------------------------------------------------------


@dataclass
class LatencyFigures:
    p50_ms: float
    p99_ms: float
    queued_p50_ms: float
    """Purchase record timestamp to the ``emitted_at`` of the batch that handled it."""
    queued_p99_ms: float
    events: int
    achieved_rate: float
    matched: int
    batches: float
    batch_seconds: float
    """Mean time inside the worker's batch handler per batch of the latency phase."""


def percentile(values: list[float], share: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def produce_new_customers(
    run: Run, rate: float, seconds: float, event_time: float
) -> tuple[dict[bytes, int], float]:
    """First purchases of brand-new customers at ``rate``/s; event time follows wall time
    from ``event_time``. Returns each customer's record timestamp (ms) and the rate achieved."""
    total = max(1, round(rate * seconds))
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, acks="all")
    await producer.start()
    sent: dict[bytes, int] = {}
    pending = []
    loop = asyncio.get_running_loop()
    try:
        began = loop.time()
        for index in range(total):
            delay = began + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            customer_id = f"{run.suffix}-new-{index:07d}"
            moment = time.time()
            ts = datetime.fromtimestamp(event_time + loop.time() - began, UTC)
            event = {
                "event_type": "purchase",
                "event_id": f"{customer_id}-e1",
                "customer_id": customer_id,
                "ts": ts.isoformat(timespec="milliseconds"),
                "order_id": f"{customer_id}-o1",
                "amount": 20.0 + index % 200,
                "currency": shop_currency(run.settings.engine),
            }
            sent[customer_id.encode()] = stamp = int(moment * 1000)
            pending.append(
                await producer.send(
                    run.settings.topics.purchases,
                    orjson.dumps(event),
                    key=customer_id.encode(),
                    timestamp_ms=stamp,
                )
            )
        elapsed = loop.time() - began
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent, total / elapsed if elapsed > 0 else float(total)


def measure_latency(
    run: Run, worker: WorkerProcess, done_before: int, workload: Workload, args: Any
) -> LatencyFigures:
    last_ts = max(datetime.fromisoformat(e["ts"]).timestamp() for e in workload.events[-100:])
    busy0, batches0 = handler_seconds(worker.metrics())
    sent, achieved = asyncio.run(
        produce_new_customers(run, args.latency_rate, args.latency_seconds, last_ts)
    )
    wait_until(worker, done_before + len(sent), 60 + len(sent) / 200, "latency")
    busy, batches = handler_seconds(worker.metrics())
    first_change: dict[bytes, tuple[int, int]] = {}  # key: (record ms, emitted_at ms)

    def on_record(record: Any) -> None:
        if record.key in sent:
            previous = first_change.get(record.key)
            if previous is None or record.timestamp < previous[0]:
                emitted_at = datetime.fromisoformat(orjson.loads(record.value)["emitted_at"])
                first_change[record.key] = (record.timestamp, int(emitted_at.timestamp() * 1000))

    asyncio.run(
        read_topic(
            run.bootstrap,
            run.settings.topics.segment_changes,
            on_record,
            done=lambda: len(first_change) == len(sent),
        )
    )
    if not first_change:
        raise StageFailed(
            f"latency: no segment change for the new customers; see {worker.log_path}"
        )
    latencies = [float(out - sent[k]) for k, (out, _) in first_change.items()]
    queued = [float(emitted - sent[k]) for k, (_, emitted) in first_change.items()]
    return LatencyFigures(
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        percentile(queued, 0.50),
        percentile(queued, 0.99),
        len(sent),
        achieved,
        len(first_change),
        batches - batches0,
        (busy - busy0) / max(batches - batches0, 1.0),
    )


# -- state size -------------------------------------------------------------------------


def state_bytes(run: Run, app_id: str, customers: set[str]) -> float:
    """Mean key + encoded profile size of each customer's latest changelog record."""
    latest: dict[bytes, int] = {}
    wanted = {c.encode() for c in customers}

    def on_record(record: Any) -> None:
        if record.key in wanted and record.value is not None:
            latest[record.key] = len(record.key) + len(record.value)

    changelog = f"{app_id}-profiles-changelog"
    asyncio.run(read_topic(run.bootstrap, changelog, on_record, done=lambda: False))
    if not latest:
        raise StageFailed(f"state: nothing in the worker's changelog {changelog!r}")
    return sum(latest.values()) / len(latest)


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# -- the peer ---------------------------------------------------------------------------


def peer_rate(run: Run, events: int, timeout: float) -> float:
    """(c) The naive Faust app, timed by itself over its first ``events`` events."""
    result = run.workdir / "peer-result.json"
    log_path = run.workdir / "peer.log"
    app_id = f"{run.settings.app_id}-peer"
    env = {**os.environ, **run.env(app_id, run.workdir / "peer-data")}
    command = [sys.executable, "-m", "stream.tools.peer", "--events", str(events)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*command, "--result", str(result)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + timeout
        while not result.exists():
            if process.poll() is not None:
                raise StageFailed(f"peer exited with {process.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise StageFailed(
                    f"peer did not finish {events} events in {timeout:.0f}s; see {log_path}"
                )
            time.sleep(POLL_S)
        return float(orjson.loads(result.read_bytes())["events_per_s"])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- the run ----------------------------------------------------------------------------


def delete_topics(run: Run) -> None:
    """Remove this run's topics (inputs, outputs, the apps' changelogs) from a shared cluster."""
    try:
        with admin_client(run.bootstrap) as admin:
            names = [t for t in admin.list_topics() if run.suffix in t]
            if names:
                admin.delete_topics(names)
    except (KafkaError, OSError, RuntimeError) as exc:
        say(f"could not delete this run's topics (names contain {run.suffix}): {exc}")


def bench(run: Run, args: argparse.Namespace, shared_broker: bool) -> dict[str, Any]:
    settings = run.settings
    workload = workload_from(args, settings)
    expected = len(workload.events)
    ensure_topics(run.bootstrap, settings)
    try:
        started = time.monotonic()
        produced = asyncio.run(produce(workload.events, run.bootstrap, settings.topics))
        if produced != expected:
            raise StageFailed(f"produce: the broker acknowledged {produced} of {expected} events")
        say(f"produced {produced} events in {time.monotonic() - started:.1f}s")
        return measure(run, args, workload)
    finally:
        if shared_broker:
            delete_topics(run)


def measure(run: Run, args: argparse.Namespace, workload: Workload) -> dict[str, Any]:
    settings = run.settings
    expected = len(workload.events)
    customers = len(workload.personas)

    raw = asyncio.run(raw_rate(run.bootstrap, settings.topics.inputs, expected))
    say(f"(a) raw consume + JSON decode: {raw:,.0f} events/s")
    core = core_rate(workload, settings, settings.partitions)
    say(f"core alone (parse + engine, no Kafka): {core:,.0f} events/s")

    worker_data = run.workdir / "worker-data"
    worker = WorkerProcess(run.env(settings.app_id, worker_data), run.workdir / "worker.log")
    pool = ThreadPoolExecutor(1)
    try:
        starting = pool.submit(worker.start, 120.0)
        pipeline = measure_pipeline(worker, starting, expected, 120 + expected / 500)
        say(f"(b) worker pipeline: {pipeline.events_per_s:,.0f} events/s")
        latency = measure_latency(run, worker, expected, workload, args)
        say(f"latency: p50 {latency.p50_ms:.1f} ms, p99 {latency.p99_ms:.1f} ms")
    finally:
        worker.stop()
        pool.shutdown()
    state = state_bytes(run, settings.app_id, set(workload.personas))
    store = directory_bytes(worker_data / "faust") / (customers + latency.events)

    peer_events = min(args.peer_events or expected, expected)
    say(f"(c) naive Faust peer on {peer_events} events")
    peer = peer_rate(run, peer_events, 120 + peer_events / 100)
    say(f"(c) peer: {peer:,.0f} events/s")
    return {
        "events": expected,
        "customers": customers,
        "partitions": settings.partitions,
        "store": settings.store,
        "raw_events_per_s": round(raw, 1),
        "pipeline_events_per_s": round(pipeline.events_per_s, 1),
        "peer_events_per_s": round(peer, 1),
        "peer_events": peer_events,
        "core_events_per_s": round(core, 1),
        "ratio_to_raw": round(pipeline.events_per_s / raw, 4),
        "ratio_to_peer": round(pipeline.events_per_s / peer, 2),
        "latency_p50_ms": latency.p50_ms,
        "latency_p99_ms": latency.p99_ms,
        "latency_queued_p50_ms": latency.queued_p50_ms,
        "latency_queued_p99_ms": latency.queued_p99_ms,
        "latency_batches": int(latency.batches),
        "latency_batch_seconds": round(latency.batch_seconds, 3),
        "latency_events": latency.events,
        "latency_matched": latency.matched,
        "latency_rate": round(latency.achieved_rate, 1),
        "state_bytes_per_customer": round(state, 1),
        "rocksdb_bytes_per_customer": round(store, 1),
        "worker_handler_share": round(pipeline.handler_share, 3),
        "worker_batches": int(pipeline.batches),
        "worker_events_per_batch": round(pipeline.events_per_batch, 1),
        "pipeline_timing": pipeline.timing,
        "logs": str(run.workdir),
        "notes": [
            *(
                [f"peer measured on the first {peer_events} events only"]
                if peer_events < expected
                else []
            ),
            "state_bytes_per_customer: mean latest changelog record (key + encoded profile)",
            "rocksdb_bytes_per_customer: store directory after stop / customers held",
        ],
    }


def human(figures: dict[str, Any]) -> str:
    f = figures
    rows = [
        ("(a) raw consume + JSON decode", f["raw_events_per_s"], ""),
        ("(b) worker pipeline", f["pipeline_events_per_s"], f"{f['ratio_to_raw']:.2f} x raw"),
        (
            f"(c) naive Faust peer, {f['peer_events']:,} events",
            f["peer_events_per_s"],
            f"pipeline = {f['ratio_to_peer']:.1f} x peer",
        ),
        ("core alone: parse + engine, no Kafka", f["core_events_per_s"], ""),
    ]
    lines = [
        f"stream bench: {f['events']:,} events, {f['customers']:,} customers, "
        f"{f['partitions']} partitions, store {f['store']}",
        "",
        f"{'':44}{'events/s':>10}",
    ]
    lines += [f"{name:44}{rate:>10,.0f}   {note}".rstrip() for name, rate, note in rows]
    lines += [
        "",
        f"latency at {f['latency_rate']:,.0f} events/s ({f['latency_matched']:,} of "
        f"{f['latency_events']:,} new customers): p50 {f['latency_p50_ms']:.1f} ms, "
        f"p99 {f['latency_p99_ms']:.1f} ms; until its batch started: p50 "
        f"{f['latency_queued_p50_ms']:.1f} ms, p99 {f['latency_queued_p99_ms']:.1f} ms",
        f"state per customer: {f['state_bytes_per_customer']:,.0f} B (latest key + encoded "
        f"profile); RocksDB directory {f['rocksdb_bytes_per_customer']:,.0f} B",
        f"latency phase: {f['latency_batches']:,} worker batches, "
        f"{f['latency_batch_seconds']:.2f} s each in the handler",
        f"worker: batch handler busy {f['worker_handler_share']:.0%} of the timed span; "
        f"batches: {f['worker_batches']:,}, {f['worker_events_per_batch']:,.0f} events each",
        f"pipeline timing: {f['pipeline_timing']}",
        f"logs: {f['logs']}",
    ]
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "bench",
        help="measure the worker against the raw consumer limit and a naive Faust peer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    count = number(least=1, whole=True)
    add_workload_options(parser, customers=20_000, events=200_000)
    parser.add_argument(
        "--broker", metavar="URL", help="use this broker (default: start an embedded one)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--peer-events",
        type=count,
        help="time the peer on the first N events only (quicker, but the first events are the "
        "cheapest: no silent customers yet); default all, like the pipeline",
    )
    parser.add_argument(
        "--latency-rate", type=number(above=0), default=1000, help="events/s; default %(default)s"
    )
    parser.add_argument(
        "--latency-seconds", type=number(above=0), default=10, help="default %(default)s"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    check_workload_options(args)
    bootstrap = broker_option(args.broker) if args.broker else None
    workdir = Path(tempfile.mkdtemp(prefix="stream-bench-"))
    try:
        if bootstrap:
            run_ = new_run(settings, bootstrap, workdir)
            figures = bench(run_, args, shared_broker=True)
        else:
            with EmbeddedBroker(log_dir=workdir) as broker:
                run_ = new_run(settings, broker.bootstrap_servers, workdir)
                figures = bench(run_, args, shared_broker=False)
    except StageFailed as exc:
        print(f"stream bench: {exc}", file=sys.stderr)
        return EXIT_STAGE_FAILED
    finally:
        for data in ("worker-data", "peer-data"):
            shutil.rmtree(workdir / data, ignore_errors=True)
    print(orjson.dumps(figures).decode() if args.json else human(figures))
    return 0
