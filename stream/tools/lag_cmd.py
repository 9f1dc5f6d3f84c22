"""``stream lag``: how far a consumer group is behind, and whether it is healthy.

The group defaults to the worker's (the Faust app id is its consumer group id), and covers the
input topics plus every topic the group has committed on. A run takes ``--window`` observations
``--interval`` seconds apart and judges them with Burrow's rules (see ``lag_status``); make the
window span longer than the time between the consumer's commits, or a healthy consumer
between two commits looks stopped. Faust commits every 2.8 s, but a worker catching up on a
backlog can hold its event loop for several seconds per fetch, so the default window spans
10 s. ``--watch S`` keeps observing every S seconds over the same sliding window and reprints
the table (with ``--json``, one object per line) until Ctrl-C.

``lag_seconds`` is the age of the oldest record the group has not consumed: now minus the
Kafka timestamp of the record at the committed offset (0 when caught up). It says how stale
the group's view is even when the consumer has stopped, which a consumption-rate estimate
cannot.

Exit codes: 0 OK, 1 WARN, STALL, STOP or ERR (a problem found; the report says which), 2 a
usage or configuration error (among them a ``--group`` the broker does not list), 3 the broker
cannot be reached (``BrokerUnavailable``, turned into 3 by ``stream.cli``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import orjson

from stream.config import Settings
from stream.kafka.lag import GroupOffsets, OffsetReader
from stream.tools.lag_status import LagHistory, Observation, PartitionKey, Status, worst
from stream.tools.options import EXIT_FOUND, EXIT_OK, UsageError, broker_option, number


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "lag",
        help="consumer-group lag and Burrow-style health",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--group", help="consumer group id (default: STREAM_APP_ID)")
    parser.add_argument("--broker", metavar="URL", help="broker URL (default: STREAM_BROKER)")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (one per refresh with --watch)"
    )
    parser.add_argument(
        "--watch",
        type=number(least=0.1),
        metavar="SECONDS",
        help="keep observing every SECONDS and reprint until Ctrl-C",
    )
    parser.add_argument(
        "--window",
        type=number(least=2, whole=True),
        default=6,
        metavar="N",
        help="observations judged together (default: 6)",
    )
    parser.add_argument(
        "--interval",
        type=number(least=0.05),
        default=2.0,
        metavar="SECONDS",
        help="time between the first run's observations (default: 2.0)",
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class PartitionRow:
    topic: str
    partition: int | None  # None: the whole topic (or group) could not be read
    committed: int | None
    end: int | None
    lag: int | None
    lag_seconds: float | None
    idle_seconds: float | None  # since the committed offset was last seen to move
    status: str
    reason: str


@dataclass(frozen=True)
class LagReport:
    group: str
    status: str
    observed_at: str
    observations: int
    window_seconds: float
    partitions: list[PartitionRow]


def run(args: argparse.Namespace, settings: Settings) -> int:
    group = args.group or settings.app_id
    bootstrap = broker_option(args.broker) if args.broker else settings.bootstrap_servers
    # The app's input topics belong to its own group; another group only has what it committed.
    topics = settings.topics.inputs if group == settings.app_id else ()
    history = LagHistory(args.window)
    if settings.log_level != "DEBUG":
        # The client logs every connect and retry; this command reports broker trouble itself.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    with OffsetReader(bootstrap, group, topics) as reader:
        # Another group has only its commits to show: one the broker does not list has none,
        # and its name is wrong (a typo, another cluster) rather than the group unhealthy.
        if not topics and not reader.group_listed():
            raise UsageError(
                f"no consumer group {group!r} on {bootstrap} (the embedded broker lists a "
                "group only once it has committed offsets)"
            )
        report = _observe(reader, history, args.window, args.interval)
        _print(report, args.json, refresh=False)
        while args.watch:
            time.sleep(args.watch)
            report = _observe(reader, history, 1, 0.0)
            _print(report, args.json, refresh=True)
    return EXIT_OK if report.status == Status.OK.name else EXIT_FOUND


def _observe(reader: OffsetReader, history: LagHistory, count: int, interval: float) -> LagReport:
    for i in range(count):
        if i:
            time.sleep(interval)
        read = reader.read()
        history.observe(_snapshot(read))
    positions = {
        key: window[-1].position
        for key in history.partitions
        if (window := history.window(key)) and window[-1].lag > 0
    }
    times = reader.record_times(positions)
    return _report(reader.group, history, read, times)


def _snapshot(read: GroupOffsets) -> dict[PartitionKey, Observation]:
    return {
        key: Observation(read.at, read.committed[key], read.end[key], read.start[key])
        for key in read.end
    }


def _report(
    group: str, history: LagHistory, read: GroupOffsets, times: dict[PartitionKey, float]
) -> LagReport:
    verdict = history.evaluate()
    rows = []
    for key in history.partitions:
        last = history.window(key)[-1]
        moved = history.last_moved_at(key)
        if last.lag == 0:
            lag_seconds: float | None = 0.0
        elif key in times:
            lag_seconds = round(max(read.at - times[key], 0.0), 3)
        else:
            lag_seconds = None
        rows.append(
            PartitionRow(
                topic=key[0],
                partition=key[1],
                committed=last.committed,
                end=last.end,
                lag=last.lag,
                lag_seconds=lag_seconds,
                idle_seconds=None if moved is None else round(read.at - moved, 3),
                status=verdict.partitions[key].status.name,
                reason=verdict.partitions[key].reason,
            )
        )
    rows += [_unreadable(name, reason) for name, reason in read.unreadable.items()]
    if not rows:
        rows.append(_unreadable(group, "the group has no committed offsets"))
    status = worst(Status[row.status] for row in rows)
    windows = [history.window(key) for key in history.partitions]
    first = min((w[0].at for w in windows), default=read.at)
    return LagReport(
        group=group,
        status=status.name,
        observed_at=datetime.fromtimestamp(read.at, tz=UTC).isoformat(timespec="milliseconds"),
        observations=max((len(w) for w in windows), default=0),
        window_seconds=round(read.at - first, 3),
        partitions=rows,
    )


def _unreadable(name: str, reason: str) -> PartitionRow:
    return PartitionRow(name, None, None, None, None, None, None, Status.ERR.name, reason)


def _print(report: LagReport, as_json: bool, refresh: bool) -> None:
    if as_json:
        print(orjson.dumps(asdict(report)).decode(), flush=True)
        return
    if refresh and sys.stdout.isatty():
        print("\x1b[H\x1b[J", end="")
    elif refresh:
        print()
    print("\n".join(_table(report)), flush=True)


def _cell(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(report: LagReport) -> Iterable[str]:
    yield (
        f"group {report.group}  status {report.status}  at {report.observed_at}  "
        f"({report.observations} observations over {report.window_seconds:.1f}s)"
    )
    header = ("TOPIC", "PART", "COMMITTED", "END", "LAG", "LAG_S", "IDLE_S", "STATUS", "REASON")
    cells = [
        (
            r.topic,
            _cell(r.partition),
            _cell(r.committed),
            _cell(r.end),
            _cell(r.lag),
            _cell(r.lag_seconds),
            _cell(r.idle_seconds),
            r.status,
            r.reason,
        )
        for r in report.partitions
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header) - 1)]
    for row in [header, *cells]:
        left = [row[0].ljust(widths[0])]
        middle = [c.rjust(w) for c, w in zip(row[1:-2], widths[1:-1], strict=True)]
        yield "  ".join([*left, *middle, row[-2].ljust(widths[-1]), row[-1]])
