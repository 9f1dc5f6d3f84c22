"""``stream replay FILE``: load a history file onto the input topics.

Reads JSONL in our schema or a CSV of transactions (see ``stream.tools.history`` for the
formats and column options), validates every line as the worker would, and produces the valid
ones to their topic (``customer.purchases`` for CSV rows; a JSONL line's ``event_type``
decides), keyed by ``customer_id``, in event-time order (stable: same-time lines keep their
file order), so the worker's clock moves as it did when the history happened. Lines that
fail are not sent: they are counted by reason, and ``--rejected-out`` lists each one; a file
with no line to send stops the command (exit 2) with the top reasons.

Ids are deterministic (a line's own ``event_id``, else one made from its content), so replaying
the same file twice changes nothing: the worker drops the repeats as duplicates. It remembers
the last ``STREAM_ENGINE_DEDUP_IDS_PER_CUSTOMER`` purchase ids per customer, and as many of
their other events: a customer with more in the file would have their older ones counted again,
and the command warns when the file has such customers. ``--rate`` paces the sending.
The file is held in memory to be put in event-time order.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from schemas.inputs import InputRules, InvalidInput, parse_input
from stream.config import Settings
from stream.core.engine import Engine
from stream.kafka.topics import ensure_topics
from stream.tools.generate import produce
from stream.tools.history import (
    PROGRESS_LINES,
    Record,
    Rejected,
    Rejections,
    add_input_options,
    columns_from,
    describe,
    read_history,
    require_events,
)
from stream.tools.options import Outputs, number, progress_lines, throttled

_say = progress_lines("replay")

Event = dict[str, Any]
PROGRESS_EVERY_S = 1.0


def valid_events(
    lines: Iterable[Record | Rejected],
    rejections: Rejections,
    *,
    max_bytes: int,
    rules: InputRules,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Event], int]:
    """The events that pass the worker's validation, in event-time order, as JSON objects,
    and the lines read; the others go to ``rejections``. ``progress(lines read, rejected)``
    every ``PROGRESS_LINES`` items."""
    timed: list[tuple[float, Event]] = []
    read = 0
    for count, item in enumerate(lines, 1):
        read += len(item.lines)
        if isinstance(item, Record):
            try:
                event = parse_input(item.kind, item.value, max_bytes=max_bytes, rules=rules)
            except InvalidInput as exc:
                rejections.add(item.lines, str(exc), exc.summary)
            else:
                timed.append((event.ts.timestamp(), orjson.loads(item.value)))
        else:
            rejections.add(item.lines, item.reason)
        if progress and not count % PROGRESS_LINES:
            progress(read, rejections.total)
    timed.sort(key=lambda pair: pair[0])
    return [event for _, event in timed], read


def beyond_dedup(events: list[Event], remembered: int) -> int:
    """How many customers have more purchases, or more other events, than the ids the engine
    remembers per customer of each."""
    counts = Counter((e["customer_id"], e["event_type"] == "purchase") for e in events)
    return len({customer for (customer, _), count in counts.items() if count > remembered})


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "replay",
        help="load a history file (JSONL or CSV) onto the input topics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_options(parser)
    parser.add_argument(
        "--rate",
        type=number(above=0),
        metavar="EVENTS_PER_S",
        help="pace the sending (default: no limit)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    started = time.monotonic()
    say = throttled(_say, PROGRESS_EVERY_S)  # the reading and the checking, one pace
    checked = False

    def reading(lines: int) -> None:
        # Only until the checking reports: the reader streams (but for a file of line items,
        # read whole first), and at every mark its message came first and took the turn.
        if not checked:
            say(f"read {lines:,} lines")

    def checking(read: int, rejected: int) -> None:
        nonlocal checked
        checked = True
        say(f"checked {read:,} lines, {rejected:,} rejected")

    with Outputs(args.file) as outputs:
        rejections = Rejections(outputs.open(args.rejected_out))
        events, read = valid_events(
            read_history(args.file, columns_from(args), args.format, progress=reading),
            rejections,
            max_bytes=settings.max_payload_bytes,
            rules=Engine(settings.engine).rules,
            progress=checking,
        )
    require_events(args.file.name, len(events), rejections)
    merged = read - len(events) - rejections.total
    _say(
        f"{args.file.name}: {read} lines, {len(events)} events to send"
        + (f" ({merged} more lines summed into their orders)" if merged else "")
        + f", {rejections.total} rejected ({time.monotonic() - started:.1f}s)"
    )
    for line in describe(rejections.as_dict()):
        _say(f"rejected: {line}")
    remembered = settings.engine.dedup_ids_per_customer
    if heavy := beyond_dedup(events, remembered):
        _say(
            f"warning: {heavy} customers have more than {remembered} purchases (or other "
            f"events) in {args.file.name}, more ids than a worker remembers per customer: "
            "replaying this file again, or an export that overlaps it, would count their "
            "older events twice (raise STREAM_ENGINE_DEDUP_IDS_PER_CUSTOMER on the workers "
            "to cover them)"
        )
    ensure_topics(settings.bootstrap_servers, settings)
    started = time.monotonic()

    def progress(sent: int, total: int) -> None:
        elapsed = max(time.monotonic() - started, 1e-9)
        _say(f"sent {sent}/{total} events ({sent / elapsed:.0f}/s)")

    sent = asyncio.run(
        produce(
            events, settings.bootstrap_servers, settings.topics, rate=args.rate, progress=progress
        )
    )
    _say(
        f"produced {sent} events to {settings.bootstrap_servers} "
        f"in {time.monotonic() - started:.1f}s"
    )
    return 0
