"""One isolated segmentation deployment per test on the shared session broker.

Each test gets its own topic names and consumer group (so tests never see each other's
data), a worker started as the real ``stream worker`` command, and helpers to produce input
and read whole output topics.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import struct
import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from stream.config import Settings, Topics
from stream.kafka.topics import ensure_topics
from stream.tools.processes import WORKER_COMMAND, WorkerProcess, free_port

_ids = itertools.count()


class _ControlBatch(_DefaultRecordBatchBuilderPy):
    """A record batch flagged as a control batch, which only a broker writes in Kafka."""

    def _get_attributes(self, include_compression_type: bool = True) -> int:
        return super()._get_attributes(include_compression_type) | self.CONTROL_MASK


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
    def worker(  # type: ignore[no-untyped-def]
        self, name: str = "worker", command: Sequence[str] = WORKER_COMMAND, **extra_env: str
    ):
        env = {**self.env, "STREAM_WEB_PORT": str(free_port()), **extra_env}
        with WorkerProcess(env, self.tmp / f"{name}.log", command) as running:
            yield running

    def produce(
        self, records: Iterable[tuple[str, bytes | None, bytes]], alone: bool = False
    ) -> int:
        """Send ``(topic, key, value)`` records, in order, each in a record batch of its own
        if ``alone``; return how many."""

        async def send() -> int:
            producer = AIOKafkaProducer(bootstrap_servers=self.broker, linger_ms=5)
            await producer.start()
            count = 0
            try:
                for topic, key, value in records:
                    sent = await producer.send(topic, value, key=key)
                    if alone:
                        await sent
                    count += 1
                await producer.flush()
            finally:
                await producer.stop()
            return count

        return asyncio.run(send())

    def produce_commit_marker(self, topic: str, partition: int = 0) -> None:
        """Append a transaction's commit marker, as a transactional producer's commit does.

        The embedded broker has no transactional producer, so the marker is written as Kafka's
        transaction coordinator writes it: a control batch, sent in a plain produce request.
        """

        async def send() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.broker)
            await producer.start()
            try:
                batch = _ControlBatch(
                    magic=2,
                    compression_type=0,
                    is_transactional=1,
                    producer_id=4242,
                    producer_epoch=0,
                    base_sequence=-1,
                    batch_size=1024,
                )
                # Control record: key (version 0, type 1 = commit), value (version, epoch).
                batch.append(
                    0, timestamp=None, key=struct.pack(">hh", 0, 1),
                    value=struct.pack(">hi", 0, 0), headers=[],
                )  # fmt: skip
                request = ProduceRequest(
                    transactional_id=None,
                    required_acks=-1,
                    timeout=30_000,
                    topics=[(topic, [(partition, bytes(batch.build()))])],
                )
                client = producer.client
                await client._wait_on_metadata(topic)  # noqa: SLF001
                leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
                response = await client.send(leader, request)
                [(_, [(_, error, *_)])] = response.topics
                assert error == 0, f"the broker refused the commit marker: error {error}"
            finally:
                await producer.stop()

        asyncio.run(send())

    def produce_events(self, events: Iterable[dict[str, Any]], alone: bool = False) -> int:
        kinds = {
            "purchase": self.topics.purchases,
            "interaction": self.topics.interactions,
            "survey": self.topics.surveys,
        }
        return self.produce(
            ((kinds[e["event_type"]], e["customer_id"].encode(), orjson.dumps(e)) for e in events),
            alone,
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


def ready(worker: WorkerProcess) -> bool:
    try:
        return bool(orjson.loads(worker.get("/readyz"))["ready"])
    except OSError:  # 503 while partitions are being recovered
        return False


def owned(metrics: dict[str, float], topic: str) -> set[int]:
    """The partitions of ``topic`` a worker is assigned: it reports lag for each of them."""
    found = (re.search(r'partition="(\d+)"', k) for k in metrics if f'topic="{topic}"' in k)
    return {int(m.group(1)) for m in found if m}


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
