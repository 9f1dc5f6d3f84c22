"""Producing a batch's records with one aiokafka batch per partition.

``producer.send()`` costs a coroutine and a future per record; building record batches
ourselves costs a few microseconds per record. Partitions come from the same murmur2 hash as
Kafka's (Java) default partitioner, so a customer's outputs land where their key says, the
same as a Java producer would put them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from stream.kafka.partitioners import PARTITIONERS

SentCallback = Callable[[int, int, Any], None]


class Partitioner:
    """A key partitioner (Kafka's default, murmur2, unless ``scheme`` names another of
    ``PARTITIONERS``), remembered per key (the hashes are pure Python here)."""

    def __init__(self, partitions: int, memory: int = 1_000_000, scheme: str = "murmur2") -> None:
        self.partitions = partitions
        self._partition_of = PARTITIONERS[scheme]
        self._memo: dict[bytes, int] = {}
        self._memory = memory

    def __call__(self, key: bytes) -> int:
        partition = self._memo.get(key)
        if partition is None:
            if len(self._memo) >= self._memory:
                self._memo.clear()
            partition = self._memo[key] = self._partition_of(key, self.partitions)
        return partition


def by_partition(
    records: Iterable[tuple[bytes | None, bytes]], partitioner: Partitioner
) -> dict[int, list[tuple[bytes | None, bytes]]]:
    """Records grouped by their key's partition; keyless ones all go where an empty key would."""
    grouped: dict[int, list[tuple[bytes | None, bytes]]] = defaultdict(list)
    for key, value in records:
        grouped[partitioner(key or b"")].append((key, value))
    return grouped


async def send_batches(
    producer: AIOKafkaProducer,
    topic: str,
    per_partition: dict[int, list[tuple[bytes, bytes | None]]],
    on_sent: SentCallback | None = None,
) -> None:
    """Hand every record to the producer; ``on_sent(partition, count, future)`` per batch."""
    for partition, records in per_partition.items():
        if not records:
            continue
        batch = producer.create_batch()
        count = 0
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:
                future = await producer.send_batch(batch, topic, partition=partition)
                if on_sent is not None:
                    future.add_done_callback(lambda f, p=partition, n=count: on_sent(p, n, f))
                batch, count = producer.create_batch(), 0
                if batch.append(key=key, value=value, timestamp=None) is None:
                    size = len(value or b"")
                    raise ValueError(f"a record of {size} bytes exceeds the batch size")
            count += 1
        future = await producer.send_batch(batch, topic, partition=partition)
        if on_sent is not None:
            future.add_done_callback(lambda f, p=partition, n=count: on_sent(p, n, f))
