"""A naive Faust segmentation app: the baseline ``stream bench`` compares the worker with.

It does the worker's per-event work the way a first Faust app would: an ordinary
``@app.agent`` iterating the three input topics one event at a time, ``parse_input``, the same
core :class:`~stream.core.engine.Engine`, the customer's profile read and written through a
plain Faust Table (``table[key]`` per event, so one changelog record per event), and each
output sent with ``await topic.send(...)``. The worker (``stream.worker``) differs in how it
drives Faust: whole fetches per call, profiles written back once per batch, outputs produced
in batches.

Settings come from the ``STREAM_*`` environment like the worker's. After ``--events`` events
it writes ``{"events", "seconds", "events_per_s"}`` to ``--result`` (timed from the first
event's arrival to the end of the last one's sends) and keeps running until stopped::

    python -m stream.tools.peer --events 20000 --result peer.json
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import orjson

from schemas.inputs import InvalidInput, parse_input
from schemas.outputs import ChurnRisk, SegmentChange
from stream import logs
from stream.config import Settings
from stream.core.churn import ChurnModel
from stream.core.engine import Engine
from stream.core.profile import Profile
from stream.worker.app import input_partitions
from stream.worker.pipeline import check_key, dead_letter
from stream.worker.profiles import decode, encode


class TableProfiles(MutableMapping[str, Profile]):
    """The engine's profile mapping as a Faust Table: a get and a set per event."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, customer_id: str) -> Profile:
        return decode(self._table[customer_id])

    def __setitem__(self, customer_id: str, profile: Profile) -> None:
        self._table[customer_id] = encode(profile)

    def __delitem__(self, customer_id: str) -> None:
        del self._table[customer_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


def write_result(path: Path, events: int, seconds: float) -> None:
    tmp = path.with_suffix(".tmp")
    rate = events / seconds if seconds > 0 else 0.0
    tmp.write_bytes(orjson.dumps({"events": events, "seconds": seconds, "events_per_s": rate}))
    tmp.replace(path)


def create_app(settings: Settings, partitions: int, events: int, result_path: Path) -> Any:
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        store=settings.store_url,
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=partitions,
        topic_replication_factor=settings.replication,
        web_enabled=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
        # Tansu holds every group join for half the session timeout; Kafka does not.
        broker_session_timeout=settings.session_timeout_s,
        autodiscover=False,
    )
    topics = settings.topics
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    inputs = app.topic(*topics.inputs, **raw)
    outputs = {
        SegmentChange: app.topic(topics.segment_changes, **raw),
        ChurnRisk: app.topic(topics.churn_risk, **raw),
    }
    dead_topic = app.topic(topics.dead_letter, **raw)
    kinds = {topics.purchases: "purchase", topics.interactions: "interaction"}
    kinds[topics.surveys] = "survey"
    table = app.Table(
        "profiles",
        default=None,
        partitions=partitions,
        key_type=str,
        value_type=bytes,  # encoded by stream.worker.profiles, stored raw
    )
    engine = Engine(settings.engine, TableProfiles(table), churn=ChurnModel(settings.engine))

    @app.agent(inputs)
    async def segment(stream: Any) -> None:
        count, started = 0, 0.0
        async for event in stream.events():
            if count == 0:
                started = time.perf_counter()
            message = event.message
            emitted_at = datetime.now(UTC)
            try:
                parsed = parse_input(
                    kinds[message.topic],
                    message.value or b"",
                    max_bytes=settings.max_payload_bytes,
                    rules=engine.rules,
                )
                check_key(message.key, parsed.customer_id)
            except InvalidInput as exc:
                record = SimpleNamespace(
                    key=message.key,
                    value=message.value,
                    partition=message.partition,
                    offset=message.offset,
                    timestamp=int(message.timestamp * 1000),
                )
                letter = dead_letter(record, message.topic, str(exc), emitted_at)
                await dead_topic.send(key=message.key, value=letter.model_dump_json().encode())
            else:
                result = engine.process(parsed, message.partition, emitted_at)
                for output in result.outputs:
                    await outputs[type(output)].send(
                        key=output.customer_id.encode(),
                        value=output.model_dump_json(by_alias=True).encode(),
                    )
            count += 1
            if count == events:
                write_result(result_path, count, time.perf_counter() - started)

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stream.tools.peer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, required=True, help="events to time")
    parser.add_argument("--result", type=Path, required=True, help="JSON file for the result")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    logs.setup(settings.log_level, settings.log_format)
    partitions = input_partitions(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = create_app(settings, partitions, args.events, args.result)
    faust.Worker(
        app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    ).execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
