"""A team's own clients: librdkafka's (through confluent-kafka), not the aiokafka we use.

Producers keep librdkafka's defaults (its crc32 ``consistent_random`` partitioner among them)
unless a test says otherwise; consumers join a group, as a marketing trigger would.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer

SESSION_TIMEOUT_MS = 10_000
"""The embedded broker holds each group join for half the session timeout (45 s by default
in librdkafka, so a 22 s wait)."""


def produce(
    broker: str, records: Iterable[tuple[str, bytes | None, bytes | None]], **config: Any
) -> dict[int, int]:
    """Send ``(topic, key, value)`` records in order; return each one's partition, by index."""
    producer = Producer({"bootstrap.servers": broker, **config})
    partitions: dict[int, int] = {}
    failed: list[str] = []

    def delivered(index: int) -> Any:
        def report(error: Any, message: Any) -> None:
            if error is not None:
                failed.append(f"record {index}: {error}")
            else:
                partitions[index] = message.partition()

        return report

    for index, (topic, key, value) in enumerate(records):
        producer.produce(topic, value=value, key=key, on_delivery=delivered(index))
        producer.poll(0)
    left = producer.flush(30)
    assert not failed and not left, f"not delivered: {failed}, {left} left"
    return partitions


def consume(
    broker: str, group: str, topics: list[str], idle_s: float = 5.0, timeout_s: float = 90.0
) -> dict[str, list[tuple[bytes | None, bytes | None]]]:
    """Every record of ``topics``, read in a consumer group from the start, until nothing more
    comes for ``idle_s`` once the group has assigned the partitions."""
    consumer = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
        }
    )
    assigned: list[Any] = []
    consumer.subscribe(topics, on_assign=lambda _, partitions: assigned.extend(partitions))
    found: dict[str, list[tuple[bytes | None, bytes | None]]] = {t: [] for t in topics}
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if assigned and quiet_since is None:
                    quiet_since = time.monotonic()
                if quiet_since is not None and time.monotonic() - quiet_since > idle_s:
                    return found
                continue
            if message.error():
                raise KafkaException(message.error())
            found[message.topic()].append((message.key(), message.value()))
            quiet_since = None
    finally:
        consumer.close()
    raise TimeoutError(
        f"{topics} did not go quiet in {timeout_s:.0f} s ({len(assigned)} partitions assigned)"
    )
