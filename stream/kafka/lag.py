"""Read a consumer group's committed offsets and its partitions' log bounds.

Only admin calls and an assign-mode consumer are used, never a group join: the reader must not
disturb the group it watches (and kafka-python group joins hang on the embedded broker).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
)
from kafka.protocol.consumer.offsets import OffsetSpec

from stream.kafka import BrokerUnavailable
from stream.kafka.topics import admin_client

PartitionKey = tuple[str, int]
UNKNOWN_TOPIC = 3  # Kafka error code UNKNOWN_TOPIC_OR_PARTITION
# Errors that mean the broker is gone rather than that something on it cannot be read.
CONNECTION_ERRORS = (
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
)


@dataclass(frozen=True)
class GroupOffsets:
    """What one read saw: per partition the committed offset (None: no commit) and log bounds."""

    at: float
    committed: dict[PartitionKey, int | None]
    start: dict[PartitionKey, int]
    end: dict[PartitionKey, int]
    unreadable: dict[str, str] = field(default_factory=dict)  # topic or group -> reason


class OffsetReader:
    """Reads ``group``'s offsets on ``topics`` plus every topic the group has committed on."""

    def __init__(
        self,
        bootstrap_servers: str,
        group: str,
        topics: Iterable[str] = (),
        timeout_s: float = 5.0,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group = group
        self.topics = tuple(dict.fromkeys(topics))
        self._timeout_ms = int(timeout_s * 1000)
        self._consumer: KafkaConsumer | None = None
        self._admin = admin_client(bootstrap_servers, timeout_s)

    def _unreachable(self, exc: Exception) -> BrokerUnavailable:
        return BrokerUnavailable(f"lost {self.bootstrap_servers} ({exc!r})")

    def group_listed(self) -> bool:
        """Whether the broker lists the group. Apache Kafka lists one from its first member on,
        the embedded Tansu once it has committed (a member alone does not make it listed). A
        broker that cannot list its groups leaves the question open: True, read the offsets."""
        try:
            return any(g["group_id"] == self.group for g in self._admin.list_groups())
        except CONNECTION_ERRORS as exc:
            raise self._unreachable(exc) from None
        except KafkaError:
            return True

    def read(self) -> GroupOffsets:
        try:
            return self._read()
        except CONNECTION_ERRORS as exc:
            raise self._unreachable(exc) from None

    def _read(self) -> GroupOffsets:
        unreadable: dict[str, str] = {}
        at = time.time()
        try:
            fetched = self._admin.list_group_offsets(self.group).get(self.group, {})
        except CONNECTION_ERRORS:
            raise
        except KafkaError as exc:
            fetched = {}
            unreadable[self.group] = f"cannot read the group's offsets: {exc}"
        # A negative offset is Kafka's "no commit for this partition".
        commits = {(tp.topic, tp.partition): m.offset for tp, m in fetched.items()}
        topics = dict.fromkeys([*self.topics, *sorted({topic for topic, _ in commits})])

        partitions: list[TopicPartition] = []
        # An empty list would describe every topic on the cluster.
        for described in self._admin.describe_topics(list(topics)) if topics else ():
            name = described["name"]
            if described["error_code"] == UNKNOWN_TOPIC:
                unreadable[name] = "topic does not exist"
            elif described["error_code"]:
                unreadable[name] = f"cannot describe topic (error {described['error_code']})"
            else:
                partitions += [
                    TopicPartition(name, p["partition_index"]) for p in described["partitions"]
                ]
        start = self._offsets(partitions, OffsetSpec.EARLIEST)
        end = self._offsets(partitions, OffsetSpec.LATEST)
        behind = {k: end[k] for k, c in commits.items() if k in end and c > end[k] > 0}
        end.update(self.readable_ends(behind, commits))
        committed: dict[PartitionKey, int | None] = {}
        for key in sorted(end):
            offset = commits.get(key)
            committed[key] = offset if offset is not None and offset >= 0 else None
        return GroupOffsets(at, committed, start, end, unreadable)

    def _offsets(
        self, partitions: list[TopicPartition], spec: OffsetSpec
    ) -> dict[PartitionKey, int]:
        if not partitions:
            return {}
        found = self._admin.list_partition_offsets(
            {tp: spec for tp in partitions}, timeout_ms=self._timeout_ms
        )
        return {(tp.topic, tp.partition): found[tp].offset for tp in partitions}

    def record_times(
        self, positions: Mapping[PartitionKey, int], wait_s: float = 2.0
    ) -> dict[PartitionKey, float]:
        """The timestamp (epoch seconds) of the record at each position, where one is there.

        Reads in assign mode, one record per partition; partitions whose record does not arrive
        within ``wait_s`` (or that carry no timestamp) are left out.
        """
        if not positions:
            return {}
        consumer = self._assign_consumer()
        wanted = {TopicPartition(t, p): offset for (t, p), offset in positions.items()}
        consumer.assign(list(wanted))
        for tp, offset in wanted.items():
            consumer.seek(tp, offset)
        times: dict[PartitionKey, float] = {}
        deadline = time.monotonic() + wait_s
        try:
            while len(times) < len(wanted) and (left := deadline - time.monotonic()) > 0:
                for tp, records in consumer.poll(timeout_ms=int(left * 1000)).items():
                    key = (tp.topic, tp.partition)
                    if key not in times and records and records[0].timestamp >= 0:
                        times[key] = records[0].timestamp / 1000
                    # No pause(tp) here: kafka-python parks a paused partition's buffered
                    # records and keeps them through assign([]), and while they are parked it
                    # never fetches that partition again, so the next read on this consumer
                    # (readable_ends in --watch) saw the reported end, not the true one, and
                    # reported the commit as past the log end.
        except CONNECTION_ERRORS as exc:
            raise self._unreachable(exc) from None
        finally:
            consumer.assign([])
        return times

    def readable_ends(
        self,
        reported: Mapping[PartitionKey, int],
        committed: Mapping[PartitionKey, int],
        wait_s: float = 2.0,
    ) -> dict[PartitionKey, int]:
        """Where reading a partition ends (past its last record and the transaction markers
        after it), where the ``committed`` offset is past the ``reported`` end.

        Some brokers (the embedded Tansu) report a partition's end as the start of its last
        record batch; reading that batch gives the true end. On Kafka a commit past the end
        means truncation, and reading finds nothing more for ``wait_s``, so the status stays
        ERR.
        """
        if not reported:
            return {}
        consumer = self._assign_consumer()
        wanted = {TopicPartition(t, p): offset for (t, p), offset in reported.items()}
        consumer.assign(list(wanted))
        for tp, offset in wanted.items():
            consumer.seek(tp, offset - 1)
        ends = dict(reported)
        deadline = time.monotonic() + wait_s
        try:
            while (left := deadline - time.monotonic()) > 0:
                # A commit is past the reported end, where the last batch starts, so reading up
                # to it means that batch has arrived, and batches arrive whole: what is left of
                # it is buffered. Waiting out wait_s for more held up every observation of a
                # caught-up group.
                reached = all(ends[key] >= committed[key] for key in ends)
                polled = consumer.poll(timeout_ms=0 if reached else int(left * 1000))
                for tp in wanted:
                    # The fetch position: past the last record and past the transaction
                    # markers after it, which are not records but take offsets.
                    key = (tp.topic, tp.partition)
                    ends[key] = max(ends[key], consumer.position(tp, timeout_ms=1000) or 0)
                if not polled:
                    break
        except CONNECTION_ERRORS as exc:
            raise self._unreachable(exc) from None
        finally:
            consumer.assign([])
        return ends

    def _assign_consumer(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                client_id="stream-lag",
                group_id=None,
                enable_auto_commit=False,
                # Only the first record of each partition is wanted.
                max_partition_fetch_bytes=64 * 1024,
                max_poll_records=64,
                fetch_max_wait_ms=100,
                request_timeout_ms=self._timeout_ms,
                bootstrap_timeout_ms=self._timeout_ms,
            )
        return self._consumer

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
        self._admin.close()

    def __enter__(self) -> OffsetReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
