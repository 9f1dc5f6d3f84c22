"""The partition a message key belongs to, as each family of Kafka producers computes it.

Kafka leaves partitioning to the producer, and clients disagree: the Java client (and
aiokafka, kafka-python, Faust, Kafka Streams) hashes keys with murmur2; librdkafka (and the
clients built on it: confluent-kafka, kcat, the Go, .NET and Node clients on it) with crc32
unless configured otherwise (its default ``consistent_random``), or FNV-1a as Sarama does
(``fnv1a``). A customer's events must meet in one partition, so every producer of the input
topics needs the same one; ``STREAM_PARTITIONER`` tells the worker which that is.

>>> [PARTITIONERS[name](b"c1", 4) for name in ("murmur2", "crc32", "fnv1a")]
[3, 1, 3]
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from aiokafka.partitioner import murmur2 as _murmur2_hash

KeyPartition = Callable[[bytes, int], int]
"""(key, partition count) -> partition."""


def murmur2(key: bytes, partitions: int) -> int:
    """Java's default partitioner; librdkafka's ``murmur2`` and ``murmur2_random``."""
    return (_murmur2_hash(key) & 0x7FFFFFFF) % partitions


def crc32(key: bytes, partitions: int) -> int:
    """librdkafka's ``consistent`` and ``consistent_random`` (its default)."""
    return zlib.crc32(key) % partitions


def fnv1a(key: bytes, partitions: int) -> int:
    """librdkafka's ``fnv1a`` and ``fnv1a_random``: 32-bit FNV-1a read as a signed number,
    its absolute value, as Sarama's default partitioner takes it."""
    hashed = 0x811C9DC5
    for byte in key:
        hashed = ((hashed ^ byte) * 0x01000193) & 0xFFFFFFFF
    signed = hashed - (1 << 32) if hashed & 0x80000000 else hashed
    return abs(signed) % partitions


PARTITIONERS: dict[str, KeyPartition] = {"murmur2": murmur2, "crc32": crc32, "fnv1a": fnv1a}
