"""Workers share their buyers, so each scores against the whole shop and not its sample.

Each worker publishes, every ``STREAM_SHARE_S``, one snapshot per partition it holds whose
buyers moved: their counts per bucket (``schemas.population``) and the partition's clock, on
the compacted population topic, keyed ``APP_ID:PARTITION``. Each worker also reads every
partition of that topic (outside the consumer group: all of it, from the start) and counts the
latest snapshots of the partitions it does not hold as buyers elsewhere
(:meth:`stream.core.engine.Engine.share`), but only those whose clock is within
``MAX_CLOCK_GAP_S`` of its own: a worker replaying last month must not rank its buyers against
buyers as they are today.

A partition's snapshot stays on the topic when its worker stops, and it is counted until
another worker takes the partition over; until then the buyers it describes are not scored
anywhere, but they are still part of the shop.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.population import Buckets, PopulationSnapshot
from stream.config import Settings
from stream.core.buckets import BucketCounts
from stream.core.config import DAY
from stream.core.engine import Engine
from stream.core.shared import SharedCounts

log = logging.getLogger(__name__)

RETRY_S = 5.0
MAX_CLOCK_GAP_S = DAY
"""Counts from a partition whose clock is further from this worker's are left out."""
REPUBLISH_CLOCK_S = MAX_CLOCK_GAP_S / 4
"""A partition's counts go out again when its clock moved this far, changed or not."""
CATCH_UP_WAIT_S = 60.0
"""How long a starting worker waits for the population topic before scoring without it."""

_EMPTY: BucketCounts = ({}, {}, {})


class Sharing:
    """What this worker published and the latest snapshot of every partition."""

    def __init__(self, settings: Settings, partitions: int) -> None:
        self.app_id = settings.app_id
        self.topic = settings.topics.population
        self.bootstrap_servers = settings.bootstrap_servers
        self.partitions = partitions
        self.latest: dict[int, tuple[float, BucketCounts]] = {}
        """Partition -> its clock (-inf: none yet) and counts, as last shared."""
        self._received = 0
        self._versions: dict[int, int] = {}
        """Partition -> the number (in order of receipt) of the snapshot its counts came in."""
        self._merged: tuple[tuple[tuple[int, int], ...], SharedCounts | None] = ((), None)
        """The last counts merged, and the snapshots they were merged from."""
        self._apart: set[int] = set()
        """Partitions left out for their clock, as last logged."""
        self.caught_up = asyncio.Event()
        """Set once the topic has been read to where it ended when this worker started."""
        self._published: dict[int, tuple[float, BucketCounts]] = {}

    def snapshots(self, engine: Engine, held: set[int]) -> list[tuple[bytes, bytes]]:
        """Records for the partitions held whose buyers moved, or whose clock moved
        ``REPUBLISH_CLOCK_S``, since they were last published. A held partition the engine
        has no state for has no buyers in its table: its snapshot says so, in place of an
        earlier owner's."""
        published_at = datetime.now(UTC)
        records = []
        for partition in sorted(held):
            state = engine.partitions.get(partition)
            clock = state.clock.now if state is not None else -math.inf
            counts = state.crossings.counts() if state is not None else _EMPTY
            previous = self._published.get(partition)
            # Unchanged counts go out again once their clock has moved on, or others would
            # take a quiet partition's buyers for a day old and leave them out.
            if (
                previous is not None
                and previous[1] == counts
                and not abs(clock - previous[0]) > REPUBLISH_CLOCK_S
            ):
                continue
            self._published[partition] = (clock, counts)
            last_purchase, frequency, spend = (Buckets.of(c) for c in counts)
            snapshot = PopulationSnapshot(
                app_id=self.app_id,
                partition=partition,
                partitions=self.partitions,
                published_at=published_at,
                clock=datetime.fromtimestamp(clock, UTC) if math.isfinite(clock) else None,
                buyers=sum(frequency.counts),
                last_purchase=last_purchase,
                frequency=frequency,
                spend=spend,
            )
            key = f"{self.app_id}:{partition}".encode()
            records.append((key, snapshot.model_dump_json().encode()))
        return records

    def forget_published(self) -> None:
        """The partitions were revoked: publish each again once it is held again."""
        self._published.clear()

    def receive(self, value: bytes | None) -> bool:
        """Keep a snapshot read from the topic; True if it is one this worker counts."""
        try:
            snapshot = PopulationSnapshot.model_validate_json(value or b"")
        except ValidationError as exc:
            log.warning(
                "population snapshot ignored",
                extra={"topic": self.topic, "reason": str(exc).replace("\n", "; ")},
            )
            return False
        # Another app shares the topic, or the input topics had another partition count.
        if snapshot.app_id != self.app_id or snapshot.partitions != self.partitions:
            return False
        clock = snapshot.clock.timestamp() if snapshot.clock is not None else -math.inf
        self._received += 1
        self._versions[snapshot.partition] = self._received
        self.latest[snapshot.partition] = (
            clock,
            (
                snapshot.last_purchase.as_dict(),
                snapshot.frequency.as_dict(),
                snapshot.spend.as_dict(),
            ),
        )
        return True

    def elsewhere(self, held: set[int], clock: float) -> SharedCounts | None:
        """The buyers of the partitions not ``held`` here whose clock is near ``clock``
        (this worker's; -inf: none yet, and any will do); None when there are none."""
        included = []
        apart = {}
        for p, (their_clock, _) in sorted(self.latest.items()):
            if p in held:
                continue
            if math.isfinite(clock) and math.isfinite(their_clock):
                gap = abs(their_clock - clock)
                if gap > MAX_CLOCK_GAP_S:
                    apart[p] = gap
                    continue
            included.append((p, self._versions[p]))
        if apart.keys() != self._apart:
            self._apart = set(apart)
            if apart:
                # Workers far apart in event time: one replays a backlog, or their clocks
                # differ in kind (STREAM_CLOCK must be the same on every worker).
                log.warning(
                    "population counts left out: their partitions' clocks are more than a "
                    "day from this worker's",
                    extra={"partitions": {p: f"{gap / DAY:.1f} days" for p, gap in apart.items()}},
                )
            else:
                log.info("population counts of every other partition counted again")
        # Merging every partition's buckets takes tens of milliseconds in a large shop, and
        # most calls find the same snapshots as the last one.
        key = tuple(included)
        if key != self._merged[0]:
            merged = SharedCounts(self.latest[p][1] for p, _ in key) if key else None
            self._merged = (key, merged)
        return self._merged[1]

    async def wait_caught_up(self) -> None:
        """Wait until the topic has been read, at most ``CATCH_UP_WAIT_S``."""
        try:
            await asyncio.wait_for(self.caught_up.wait(), CATCH_UP_WAIT_S)
        except TimeoutError:
            log.warning(
                "population topic not read yet; scoring against this worker's buyers until it is",
                extra={"topic": self.topic, "waited_s": CATCH_UP_WAIT_S},
            )
            self.caught_up.set()

    async def follow(self, on_change: Callable[[], object]) -> None:
        """Read the population topic for as long as the worker runs; ``on_change()`` after
        each fetch that brought a snapshot this worker counts."""
        while True:
            try:
                await self._follow(on_change)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error(
                    "reading population snapshots failed; retrying",
                    extra={"topic": self.topic, "error": f"{type(exc).__name__}: {exc}"},
                )
            await asyncio.sleep(RETRY_S)

    async def _follow(self, on_change: Callable[[], object]) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=f"{self.app_id}-population",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            await consumer.topics()
            found = consumer.partitions_for_topic(self.topic)
            if not found:
                raise LookupError(f"topic {self.topic} not found")
            tps = [TopicPartition(self.topic, p) for p in sorted(found)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            # Until the end is reached (on every connection: each one reads from the start)
            # only each key's last snapshot matters, since the topic holds every snapshot
            # since its last compaction. The end is the offsets the topic had when reading
            # began, and then a fetch that brings nothing: some brokers (the embedded Tansu)
            # report a partition's end as the start of its last batch.
            unread: dict[bytes | None, bytes | None] = {}
            reached = False
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        unread[record.key] = record.value
                if not reached:
                    if batch:
                        continue
                    positions = [await consumer.position(tp) for tp in tps]
                    if any(at < ends[tp] for at, tp in zip(positions, tps, strict=True)):
                        continue
                    reached = True
                counted = [self.receive(value) for value in unread.values()]
                unread.clear()
                self.caught_up.set()
                if any(counted):
                    on_change()
        finally:
            await consumer.stop()
