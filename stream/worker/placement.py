"""Input records whose key belongs to another partition than the one they came in on.

A customer's state lives in the partition their events come in on, so every producer of the
input topics must partition keys alike: ``STREAM_PARTITIONER`` says how (murmur2, as Java
clients do, by default). A record that came in elsewhere is still processed where it came
in, but it shows a producer partitioning otherwise (librdkafka's default crc32, say): its
customer's profile is looked up from the other workers too, and if their other events come
from a producer that does follow the setting, the customer is split in two. So such records
are counted, by topic (``segmentation_misplaced_events_total``), and the count and the last
one go to ``/readyz`` and to a warning in the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stream.worker.metrics import Metrics
from stream.worker.producing import Partitioner


class Placement:
    def __init__(
        self, scheme: str, partitions: int, metrics: Metrics, topics: Iterable[str]
    ) -> None:
        self.scheme = scheme
        self._partition_of = Partitioner(partitions, scheme=scheme)
        self._metrics = metrics
        for topic in topics:  # at zero from the start, so rate() and alerts see them
            metrics.misplaced_events.labels(topic)
        self.misplaced = 0
        self.last: dict[str, Any] | None = None
        """The last misplaced record: its topic, its partition, and the one its key names."""

    def expected(self, key: bytes) -> int:
        """The partition ``key`` belongs to, by ``STREAM_PARTITIONER``."""
        return self._partition_of(key)

    def check(self, topic: str, partition: int, key: bytes) -> bool:
        """Whether a record of ``topic`` keyed ``key`` belongs in ``partition``; counted if not."""
        expected = self._partition_of(key)
        if expected == partition:
            return True
        self.misplaced += 1
        self.last = {"topic": topic, "partition": partition, "key_partition": expected}
        self._metrics.misplaced_events.labels(topic).inc()
        return False

    def detail(self) -> dict[str, Any]:
        """What ``/readyz`` shows of it."""
        return {"partitioner": self.scheme, "misplaced_events": self.misplaced, "last": self.last}
