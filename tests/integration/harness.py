"""One isolated segmentation deployment per test on the shared session broker.

Each test gets its own topic names and consumer group (so tests never see each other's
data), a worker started as the real ``stream worker`` command, and helpers to produce input
and read whole output topics.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.config import Settings, Topics
from stream.kafka.topics import ensure_topics
from stream.tools.processes import WorkerProcess, free_port

_ids = itertools.count()


@dataclass
class Deployment:
    broker: str
    tmp: Path
    env: dict[str, str]
    settings: Settings

    @property
    def topics(self) -> Topics:
        return self.settings.topics

    @contextmanager
    def worker(self, name: str = "worker", **extra_env: str):  # type: ignore[no-untyped-def]
        env = {**self.env, "STREAM_WEB_PORT": str(free_port()), **extra_env}
        with WorkerProcess(env, self.tmp / f"{name}.log") as running:
            yield running

    def produce(self, records: Iterable[tuple[str, bytes | None, bytes]]) -> int:
        """Send ``(topic, key, value)`` records, in order; return how many."""

        async def send() -> int:
            producer = AIOKafkaProducer(bootstrap_servers=self.broker, linger_ms=5)
            await producer.start()
            count = 0
            try:
                for topic, key, value in records:
                    await producer.send(topic, value, key=key)
                    count += 1
                await producer.flush()
            finally:
                await producer.stop()
            return count

        return asyncio.run(send())

    def produce_events(self, events: Iterable[dict[str, Any]]) -> int:
        kinds = {
            "purchase": self.topics.purchases,
            "interaction": self.topics.interactions,
            "survey": self.topics.surveys,
        }
        return self.produce(
            (kinds[e["event_type"]], e["customer_id"].encode(), orjson.dumps(e)) for e in events
        )

    def read(self, topic: str, idle_s: float = 3.0) -> list[tuple[bytes | None, bytes]]:
        """Every record of ``topic`` (read until it stays idle: Tansu's end offsets lag)."""

        async def consume() -> list[tuple[bytes | None, bytes]]:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.broker, enable_auto_commit=False)
            await consumer.start()
            try:
                partitions = await consumer._client._wait_on_metadata(topic)  # noqa: SLF001
                tps = [TopicPartition(topic, p) for p in sorted(partitions or [])]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                found: list[tuple[bytes | None, bytes]] = []
                quiet_since = time.monotonic()
                while time.monotonic() - quiet_since < idle_s:
                    batch = await consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        found.extend((r.key, r.value) for r in records)
                        quiet_since = time.monotonic()
                return found
            finally:
                await consumer.stop()

        return asyncio.run(consume())

    def read_json(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(value) for _, value in self.read(topic)]


def deployment(broker: str, tmp: Path, partitions: int = 4) -> Deployment:
    suffix = f"t{os.getpid()}-{next(_ids)}"
    env = {
        "STREAM_BROKER": f"kafka://{broker}",
        "STREAM_APP_ID": f"seg-{suffix}",
        "STREAM_DATA_DIR": str(tmp / "data"),
        "STREAM_PARTITIONS": str(partitions),
        "STREAM_CLOCK": "event",
        "STREAM_SESSION_TIMEOUT_S": "10",
        "STREAM_LOG_FORMAT": "text",
    }
    for field in fields(Topics):
        env[f"STREAM_TOPIC_{field.name.upper()}"] = f"{field.default}.{suffix}"
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = Settings.from_env()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    ensure_topics(broker, settings)
    return Deployment(broker, tmp, env, settings)
