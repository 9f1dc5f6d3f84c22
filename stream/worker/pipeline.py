"""The worker's batch handler: records in, engine, then state, outputs and acks out.

Per fetch: validate every record (rejects become dead letters), merge each partition's records
from the three input topics by event time (across fetches: see ``aligning``), run them
through the engine, produce the outputs, write each changed profile once to the table and its
changelog, and only then ack the offsets, so Faust commits nothing whose effects were not
handed to the producer first (its commit flushes the producer); then, at most once a second,
the changed customers' profiles go to the compacted ``customer.profiles``. Each step goes a
slice of records at a time and yields to the event loop between slices, so the web server
answers while a backlog is handled. At-least-once, and replays change nothing: repeated event
ids are dropped by the engine and output ids are deterministic.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError
from faust.types import TP

from schemas.inputs import InvalidInput, parse_input
from schemas.outputs import ChurnRisk, DeadLetter, DeadLetterSource, SegmentChange
from schemas.profile import CustomerProfile
from schemas.reasons import shown
from stream.config import Settings
from stream.core.changes import output_id
from stream.core.churn import ChurnModel
from stream.core.engine import Engine, Output
from stream.core.lookup import current_profile
from stream.core.profile import Profile
from stream.worker.aligning import Aligner, Held
from stream.worker.log_ends import LogEnds
from stream.worker.metrics import Metrics
from stream.worker.placement import Placement
from stream.worker.producing import Partitioner, by_partition, send_batches
from stream.worker.profiles import TableProfiles
from stream.worker.sharing import Sharing

log = logging.getLogger(__name__)

END_OF_FLUSH = b"\x00end-of-flush"
PUBLISH_PROFILES_S = 1.0
"""Changed profiles go to ``customer.profiles`` at most this often, each once."""
PUBLISH_PENDING_TIMEOUT_S = 10.0
"""How long a stop or revocation waits at most for the last publication (a broker outage
would hold it for the producer's request timeout, 20 minutes by Faust's default)."""
MAX_HELD = 50_000
"""Records held back at most, in all, for the input topics to meet in event time (about
1.5 kB each with their parsed event)."""
MAX_WAIT_S = 10.0
"""How long records wait at most for a topic partition that brings nothing more."""
LIST_ENDS_TIMEOUT_S = 3.0
"""How long a metrics refresh waits at most for the broker to list the log ends."""
PROGRESS_S = 30.0
"""How often a worker that reads, or has records to read, logs how far it got."""
SLICE = 500
"""Records parsed, or run through the engine and emitted, between two yields to the event
loop (about 0.1 s of work here); likewise a tick's outputs emitted and stored profiles taken
into a new engine. A fetch of a backlog holds tens of thousands: handled whole, it kept the
web server (/healthz, /metrics, profile look-ups) waiting for seconds."""


def slices(records: dict[int, list[Any]], size: int) -> Iterator[dict[int, list[Any]]]:
    """``records`` (per partition, in order) in pieces of at most ``size`` records, each
    partition's in order."""
    piece: dict[int, list[Any]] = {}
    room = size
    for partition, items in records.items():
        start = 0
        while start < len(items):
            piece[partition] = items[start : start + room]
            start += len(piece[partition])
            room -= len(piece[partition])
            if not room:
                yield piece
                piece, room = {}, size
    if piece:
        yield piece


def dead_letter(record: Any, topic: str, reason: str, emitted_at: datetime) -> DeadLetter:
    key = None
    if record.key is not None:
        try:
            key = record.key.decode()
        except UnicodeDecodeError:
            key = None
    return DeadLetter(
        event_id=output_id("dead-letter", topic, str(record.partition), str(record.offset)),
        emitted_at=emitted_at,
        source=DeadLetterSource(
            topic=topic,
            partition=record.partition,
            offset=record.offset,
            timestamp=datetime.fromtimestamp(record.timestamp / 1000, tz=UTC)
            if record.timestamp is not None
            else None,
        ),
        reason=reason,
        original_base64=base64.b64encode(record.value or b"").decode(),
        original_key=key,
    )


def check_key(key: bytes | None, customer_id: str) -> None:
    """Raise :class:`InvalidInput` unless the message key is the event's customer_id: a
    customer's events must meet in one partition."""
    if key == customer_id.encode():
        return
    if key is None:
        raise InvalidInput(
            "the message has no key; key every event by its customer_id, here "
            + shown(customer_id),
            summary="the message has no key; key every event by its customer_id",
        )
    try:
        written = shown(key.decode())
    except UnicodeDecodeError:
        written = f"of {len(key)} bytes that are not UTF-8 (hex {key[:20].hex()})"
    raise InvalidInput(
        f"message key {written} is not the customer_id {shown(customer_id)}; key every event "
        "by its customer_id",
        summary="the message key is not the customer_id; key every event by its customer_id",
    )


class Pipeline:
    """The :class:`stream.worker.batching.BatchHandler` of the segmentation worker."""

    def __init__(
        self,
        app: Any,
        settings: Settings,
        table: Any,
        metrics: Metrics,
        sharing: Sharing | None = None,
        *,
        partitions: int,
    ) -> None:
        """``partitions``: of each input topic."""
        self.app = app
        self.settings = settings
        self.table = table
        self.metrics = metrics
        topics = settings.topics
        self.topics = set(topics.inputs)
        self._kind = {
            topics.purchases: "purchase",
            topics.interactions: "interaction",
            topics.surveys: "survey",
        }
        self._output_topic = {SegmentChange: topics.segment_changes, ChurnRisk: topics.churn_risk}
        self.profiles = TableProfiles(table)
        self.sharing = sharing
        self.engine: Engine | None = None
        self.churn_path = settings.data_dir / f"{settings.app_id}-churn-model.bin"
        self.lock = asyncio.Lock()
        self.stopped = False
        """Set once shutdown begins: nothing is processed or sent after it (see :meth:`stop`)."""
        self.totals: Counter[str] = Counter()
        self.stages: Counter[str | None] = Counter()
        self._rate_mark = (time.monotonic(), 0)
        self._rate = 0.0
        self.log_ends = LogEnds(LIST_ENDS_TIMEOUT_S)
        self.bands: Counter[str | None] = Counter()
        self._partitioners: dict[str, Partitioner] = {}
        self._unpublished: dict[int, dict[str, Profile]] = {}
        self._published_at = 0.0
        # By topic name: events at one time are taken in one order, whatever the fetches.
        self.aligner = Aligner(sorted(self.topics), max_held=MAX_HELD, max_wait_s=MAX_WAIT_S)
        self._warned: dict[str, tuple[int, float]] = {}
        """Per recurring warning: the count last reported and when (see :meth:`_warn`)."""
        self._old_events = 0
        self.placement = Placement(settings.partitioner, partitions, metrics, self.topics)
        self._progress = (time.monotonic(), 0)
        """When progress was last logged, and the input count then."""

    # -- engine lifecycle ---------------------------------------------------------------

    def _assigned_inputs(self) -> set[TP]:
        return {tp for tp in self.app.assignor.assigned_actives() if tp.topic in self.topics}

    def _active_partitions(self) -> set[int]:
        return {tp.partition for tp in self._assigned_inputs()}

    def _load_churn(self) -> ChurnModel:
        config = self.settings.engine
        if self.churn_path.exists():
            try:
                model = ChurnModel.from_bytes(self.churn_path.read_bytes(), config)
                log.info("churn model restored", extra={"path": str(self.churn_path)})
                return model
            except Exception as exc:  # unpickling damaged bytes can raise almost anything
                kept = self.churn_path.with_suffix(".unreadable")
                self.churn_path.replace(kept)
                log.error(
                    "churn model not restored, starting fresh",
                    extra={"error": f"{type(exc).__name__}: {exc}", "kept_as": str(kept)},
                )
        return ChurnModel(config)

    async def stop(self) -> None:
        """At shutdown, before Faust stops the tables (see ``BatchConsumer.wait_empty``) and
        again before it flushes and closes the producer: let the batch or tick in flight store
        and send its outputs, then store and send nothing more. A timer that was waiting for
        the lock would otherwise run on and send to the closed producer, crashing the worker
        (exit 1)."""
        async with self.lock:
            if not self.stopped:
                try:
                    await self._publish_pending()
                finally:
                    self.stopped = True
                    self.save_churn()

    def save_churn(self) -> None:
        if self.engine is None or self.engine.churn is None:
            return
        assert isinstance(self.engine.churn, ChurnModel)
        path = Path(self.churn_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(self.engine.churn.to_bytes())
        tmp.replace(path)

    async def _ensure_engine(self) -> Engine:
        """The engine; built first, if there is none, from the stored profiles of the assigned
        partitions, yielding to the event loop every :data:`SLICE` of them (each takes tens of
        microseconds: tens of thousands would keep the web server waiting for a second or
        more after each rebalance)."""
        if self.engine is None:
            started = time.monotonic()
            engine = Engine(self.settings.engine, self.profiles, churn=self._load_churn())
            partitions = self._active_partitions()
            count = 0
            self.stages.clear()
            self.bands.clear()
            for partition, profile in self.profiles.stored(partitions):
                engine.adopt(profile, partition)
                self.stages[profile.lifecycle_stage] += 1
                self.bands[profile.churn_band] += 1
                count += 1
                if count % SLICE == 0:
                    await asyncio.sleep(0)
            self.engine = engine
            self.share()
            self.metrics.profiles.set(count)
            log.info(
                "engine ready",
                extra={
                    "partitions": sorted(partitions),
                    "profiles": count,
                    "seconds": round(time.monotonic() - started, 3),
                },
            )
        return self.engine

    async def _population_known(self) -> None:
        """Before an engine scores anyone: the other workers' buyers, when they share them."""
        if self.engine is None and self.sharing is not None:
            await self.sharing.wait_caught_up()

    async def prepare(self) -> None:
        """Build the engine as soon as table recovery is done and the other workers' buyers
        are known, so the worker reports ready (a timer: it tries again until then)."""
        if self.engine is None and self.app.tables.recovery.completed.is_set():
            if self.sharing is not None and not self.sharing.caught_up.is_set():
                return
            async with self.lock:
                # Once stopped, Faust closes the store the engine would be built from.
                if self.stopped or self.app.rebalancing or self.engine is not None:
                    return
                await self._ensure_engine()

    async def on_revoked(self, revoked: set[TP]) -> None:
        async with self.lock:
            await self._publish_pending()
            if self.engine is not None:
                for partition in {tp.partition for tp in revoked if tp.topic in self.topics}:
                    self.engine.drop_partition(partition)
                self.save_churn()
            # Eager rebalancing revokes everything: rebuild from the table after recovery.
            self.engine = None
            self.aligner.drop()  # unacked: they are read again from the committed offsets
            self.metrics.partitions_revoked(tp for tp in revoked if tp.topic in self.topics)
            self.profiles.forget()
            self._unpublished.clear()  # what the publication above could not send
            if self.sharing is not None:
                self.sharing.forget_published()

    # -- the population shared with other workers ----------------------------------------

    def share(self) -> None:
        """Count the buyers of the partitions other workers hold, as last shared, whose
        clocks are near this worker's."""
        engine = self.engine
        if engine is None or self.sharing is None:
            return
        clock = max((s.clock.now for s in engine.partitions.values()), default=-math.inf)
        shared = self.sharing.elsewhere(self._active_partitions(), clock)
        engine.share(shared)
        self.metrics.buyers_elsewhere.set(shared.total if shared is not None else 0)

    async def publish_population(self) -> None:
        """Share the counts of the partitions held here whose buyers moved; count the
        others' again, as the clocks that decide which to count have moved."""
        await self._whole(self._publish_population)

    async def _publish_population(self) -> None:
        if self.engine is None or self.sharing is None:
            return
        self.share()
        records = self.sharing.snapshots(self.engine, self._active_partitions())
        if records:
            topic = self.settings.topics.population
            partitioner = await self._partitioner(topic)
            producer = self.app.producer._producer
            await send_batches(producer, topic, by_partition(records, partitioner))

    @property
    def ready(self) -> bool:
        return self.engine is not None

    def lookup(self, customer_id: str) -> CustomerProfile | None:
        """The customer's profile as of now, if a partition of this worker holds them."""
        assert self.engine is not None, "a look-up needs the engine"
        found = self.profiles.locate(customer_id, self._active_partitions())
        if found is None:
            return None
        partition, profile = found
        return current_profile(self.engine, profile, partition)

    # -- batches ------------------------------------------------------------------------

    async def process(self, batch: dict[TP, list[Any]]) -> None:
        """Handle one fetch, yielding to the event loop every :data:`SLICE` records.

        The lock is held throughout, so a revocation (which takes it) waits for the whole
        fetch: the aligner is not dropped under records being added, and no record is left
        handled but unacked or acked but not emitted.
        """
        await self._population_known()
        # After stop() the fetch stays unacked: it is read again at the next start.
        await self._whole(lambda: self._process(batch))

    async def _whole(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` under the lock, to its end even if the task awaiting this is cancelled,
        unless shutdown has begun.

        At shutdown Faust cancels the fetch loop and the timers. Cut off between a partition's
        changelog records and their end-of-flush marker, a fetch or a tick would leave a
        changelog whose end the embedded broker under-reports, below the offset the store
        persisted, and the next start would fail table recovery. So the work finishes, and
        :meth:`stop` waits for it; none starts after that.
        """

        async def locked() -> None:
            async with self.lock:
                if not self.stopped:
                    await work()

        await asyncio.shield(locked())

    async def _process(self, batch: dict[TP, list[Any]]) -> None:
        started = time.perf_counter()
        engine = await self._ensure_engine()
        emitted_at = datetime.now(UTC)
        now = time.monotonic()
        # Every record of the fetch is added before any is released: the consumer counts
        # them all as handed over, so none of their topics looks behind.
        for piece in slices(self._by_partition(batch), SLICE):
            for partition, items in piece.items():
                held = [self._parse(topic, rec, engine, emitted_at) for topic, rec in items]
                self.aligner.add(partition, held, now)
            await asyncio.sleep(0)
        await self._release(emitted_at)
        await self._publish_profiles()
        self.metrics.processing_seconds.labels("event").observe(time.perf_counter() - started)

    def _parse(self, topic: str, record: Any, engine: Engine, emitted_at: datetime) -> Held:
        """The record's event, to wait for its turn in event time; or its dead letter, which
        waits for nothing but the records before it on its topic."""
        kind = self._kind[topic]
        try:
            if record.value is None:
                raise InvalidInput(
                    f"the message is a tombstone (a key and no value), not a {kind}: input "
                    "topics carry events, never deletions",
                    "json",
                )
            event = parse_input(
                kind, record.value, max_bytes=self.settings.max_payload_bytes, rules=engine.rules
            )
            check_key(record.key, event.customer_id)
        except InvalidInput as exc:
            letter = dead_letter(record, topic, str(exc), emitted_at)
            return Held(-math.inf, topic, record.offset, (record, letter, exc.category))
        if not self.placement.check(topic, record.partition, record.key):
            self._warn(
                "input records whose key belongs to another partition than the one they came "
                "in on: a producer partitions otherwise than STREAM_PARTITIONER says (Java "
                "clients: murmur2; librdkafka: crc32 unless partitioner=murmur2_random)",
                self.placement.misplaced,
                partitioner=self.placement.scheme,
                **(self.placement.last or {}),
            )
        return Held(event.ts.timestamp(), topic, record.offset, (record, event, None))

    async def _release(self, emitted_at: datetime) -> None:
        """Handle the records that need wait no longer (see ``aligning``)."""
        # A partition's trailing transaction markers are acked once its records are, so a
        # topic that ends in one is not taken for a topic with more to read; records that
        # leave can uncover such markers, and so let others go at once.
        await self._ack_markers()
        while True:
            forced = self.aligner.forced
            released = self.aligner.release(
                self._behind, self._active_partitions(), time.monotonic()
            )
            self.metrics.unaligned_events.inc(self.aligner.forced - forced)
            await self._handle(released, emitted_at)
            if not (released and await self._ack_markers()):
                break
        self.metrics.held_events.set(self.aligner.held)

    async def _ack_markers(self) -> bool:
        consumer = self.app.consumer
        acked = False
        for tp in list(consumer.passed):
            if tp.topic in self.topics:
                acked |= await consumer.ack_passed(tp)
        return acked

    def _behind(self, topic: str, partition: int) -> bool:
        """Whether the consumer has more of this input partition to read than it handed over."""
        tp = TP(topic, partition)
        consumer = self.app.consumer
        try:
            end = consumer.highwater(tp)
        except AssertionError:  # not assigned here (any more)
            return False
        if end is None:  # no fetch answered for it yet: what it holds is unknown
            return True
        position = consumer._read_offset.get(tp)
        if position is None:
            # Nothing handed over since a seek to the start (Faust keeps offset 0 as None):
            # read as far as the fetcher passed, which is 0 before its first fetch.
            position = consumer.passed.get(tp, 0)
        return position < end

    async def _handle(self, released: list[tuple[int, Held]], emitted_at: datetime) -> None:
        """Run released records through the engine and emit what it produced, a slice at a
        time; write the profiles they changed; then ack them."""
        if not released:
            return
        offsets: dict[TP, list[int]] = {}
        counts: Counter[str] = Counter()
        for start in range(0, len(released), SLICE):
            piece = released[start : start + SLICE]
            outputs, dead = self._run(piece, emitted_at, offsets, counts)
            await self._emit(outputs, dead)
            await asyncio.sleep(0)
        # Once for all slices: a customer's profile is written once, however many of its
        # events were released together.
        await self._persist()
        await self._ack(offsets)
        self._count(counts)
        self._warn(
            "events processed before another input topic of their partition caught up: "
            "the clock may run ahead of that topic's events",
            self.aligner.forced,
            held=self.aligner.held,
        )
        self._warn(
            "events older than their partition's clock by more than the churn horizon, "
            "which follows wall time (STREAM_CLOCK=live): replaying history? Run the workers "
            "with STREAM_CLOCK=event, or every replayed customer is judged silent since then",
            self._old_events,
        )
        assert self.engine is not None, "handling records needs the engine"
        added_up = self.engine.added_up_currencies()
        self._warn(
            "purchases in several currencies are added up as if they were one: set "
            "STREAM_ENGINE_CURRENCY and STREAM_ENGINE_FX_RATES to convert them",
            len(added_up),
            counted="new_currencies",
            currencies=added_up,
        )

    def _run(
        self,
        released: list[tuple[int, Held]],
        emitted_at: datetime,
        offsets: dict[TP, list[int]],
        counts: Counter[str],
    ) -> tuple[list[Output], list[DeadLetter]]:
        """The engine's outputs and the dead letters of these records; their offsets go to
        ``offsets``, what became of them to ``counts``."""
        engine = self.engine
        assert engine is not None, "handling records needs the engine"
        outputs: list[Output] = []
        dead: list[DeadLetter] = []
        horizon_s = self.settings.engine.churn_horizon_s
        live = self.settings.clock == "live"
        for partition, (ts, topic, _, (record, event, category)) in released:
            self.profiles.partition = partition
            counts[topic] += 1
            offsets.setdefault(TP(topic, partition), []).append(record.offset)
            if isinstance(event, DeadLetter):
                dead.append(event)
                self.metrics.dead_lettered(category)
                continue
            try:
                result = engine.process(event, partition, emitted_at)
            except Exception as exc:
                # A bug met by one valid event: stopping here would fail on the same
                # record at every restart and hold up the whole partition behind it.
                log.exception("engine failed on an event; dead-lettered")
                reason = f"engine failed on this event: {type(exc).__name__}: {exc}"
                dead.append(dead_letter(record, topic, reason, emitted_at))
                self.metrics.dead_lettered("engine")
                continue
            counts[result.status] += 1
            if result.late:
                counts["late"] += 1
                if live and engine.clock(partition).now - ts > horizon_s:
                    self._old_events += 1
            outputs.extend(result.outputs)
        counts["dead_lettered"] += len(dead)
        return outputs, dead

    def _warn(self, message: str, count: int, *, counted: str = "events", **extra: Any) -> None:
        """Log ``message`` when ``count`` (a running total of ``counted``) has grown, at most
        once a minute: a backlog would otherwise repeat it for every batch."""
        reported, at = self._warned.get(message, (0, -math.inf))
        if count > reported and time.monotonic() - at >= 60:
            log.warning(message, extra={counted: count - reported, **extra})
            self._warned[message] = (count, time.monotonic())

    def _by_partition(self, batch: dict[TP, list[Any]]) -> dict[int, list[tuple[str, Any]]]:
        grouped: dict[int, list[tuple[str, Any]]] = {}
        for tp in sorted(batch):
            grouped.setdefault(tp.partition, []).extend((tp.topic, r) for r in batch[tp])
        return grouped

    async def tick(self, wall_ts: float | None) -> None:
        """Re-evaluate due customers on every owned partition (live mode passes wall time)."""
        await self._whole(lambda: self._tick(wall_ts))

    async def _tick(self, wall_ts: float | None) -> None:
        engine = self.engine
        if engine is None:
            return
        started = time.perf_counter()
        emitted_at = datetime.now(UTC)
        # Records waiting for a topic that has since caught up, or waited long enough.
        await self._release(emitted_at)
        for partition, state in sorted(engine.partitions.items()):
            if wall_ts is None and state.clock.now == float("-inf"):
                continue  # no event time seen yet on this partition since the start
            self.profiles.partition = partition
            # A partition's re-evaluation is one call into the engine, however many customers
            # are due (all of them, after an outage in live mode): the loop is handed back
            # after it and after each slice of its outputs.
            outputs = engine.tick(partition, emitted_at, wall_ts)
            for piece in slices({partition: outputs}, SLICE):
                await asyncio.sleep(0)
                await self._emit(piece[partition], [])
            await asyncio.sleep(0)
        await self._persist()
        await self._publish_profiles()
        self.metrics.processing_seconds.labels("tick").observe(time.perf_counter() - started)

    # -- output -------------------------------------------------------------------------

    async def _partitioner(self, topic: str) -> Partitioner:
        partitioner = self._partitioners.get(topic)
        if partitioner is None:
            partitions = await self.app.producer._producer.partitions_for(topic)
            partitioner = self._partitioners[topic] = Partitioner(len(partitions))
        return partitioner

    async def _emit(self, outputs: list[Output], dead: list[DeadLetter]) -> None:
        """Produce the engine's outputs and the dead letters."""
        producer = self.app.producer._producer
        per_topic: dict[str, list[tuple[bytes, bytes]]] = {}
        written = []
        for output in outputs:
            topic = self._output_topic[type(output)]
            per_topic.setdefault(topic, []).append(
                (output.customer_id.encode(), output.model_dump_json(by_alias=True).encode())
            )
            written.append((topic, output))
        dead_topic = self.settings.topics.dead_letter
        for letter in dead:
            # A keyless input's letter is keyless too, not keyed by an empty string.
            key = None if letter.original_key is None else letter.original_key.encode()
            per_topic.setdefault(dead_topic, []).append((key, letter.model_dump_json().encode()))
            written.append((dead_topic, letter))
        self.metrics.outputs_written(written)
        self._track_distributions(outputs)
        for topic, records in per_topic.items():
            partitioner = await self._partitioner(topic)
            await send_batches(producer, topic, by_partition(records, partitioner))

    async def _persist(self) -> None:
        """Write the changed profiles to the table's store and its changelog, a slice at a
        time."""
        producer = self.app.producer._producer
        changelog_topic = self.table.changelog_topic.get_topic_name()
        store = self.table.data

        def persisted(partition: int, count: int, future: Any) -> None:
            if not future.cancelled() and future.exception() is None:
                offset = future.result().offset + count - 1
                store.set_persisted_offset(TP(changelog_topic, partition), offset)

        on_sent = persisted if hasattr(store, "_set") else None
        flushed: set[int] = set()
        while True:
            changelog, changed = self.profiles.flush(changelog_topic, SLICE)
            if not changelog:
                break
            for partition, profiles in changed.items():
                self._unpublished.setdefault(partition, {}).update(profiles)
            await send_batches(producer, changelog_topic, changelog, on_sent)
            flushed.update(changelog)
            await asyncio.sleep(0)
        # Some brokers (the embedded Tansu among them) report a partition's end as the start
        # of its last batch, and Faust's recovery stops there: a one-record batch after each
        # flush moves that point past every profile. A tombstone of a key no profile uses
        # restores to nothing.
        await send_batches(producer, changelog_topic, {p: [(END_OF_FLUSH, None)] for p in flushed})

    async def _publish_pending(self) -> None:
        """Publish the profiles changed since the last publication before the engine goes (a
        stop, a revocation): nothing else would until those customers change again, and
        ``customer.profiles`` would keep their older state."""
        try:
            await asyncio.wait_for(self._publish_profiles(at_once=True), PUBLISH_PENDING_TIMEOUT_S)
        except (KafkaError, TimeoutError) as exc:
            log.warning(
                "profiles changed in the last second may stay unpublished in customer.profiles "
                "until their customers change again",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )

    async def _publish_profiles(self, at_once: bool = False) -> None:
        """Every profile changed since the last publication, as it is now, a slice at a time,
        if the last publication is :data:`PUBLISH_PROFILES_S` old (or ``at_once``).

        Called after a whole fetch, not between its slices: a fetch of a backlog takes longer
        than that, and each publication renders every customer changed since the last one.
        """
        engine = self.engine
        if engine is None or not self._unpublished:
            return
        if not at_once and time.monotonic() - self._published_at < PUBLISH_PROFILES_S:
            return
        unpublished, self._unpublished = self._unpublished, {}
        self._published_at = time.monotonic()
        producer = self.app.producer._producer
        topic = self.settings.topics.profiles
        partitioner = await self._partitioner(topic)
        pending = {p: list(profiles.items()) for p, profiles in unpublished.items()}
        for piece in slices(pending, SLICE):
            records = []
            for partition, profiles in piece.items():
                for customer_id, profile in profiles:
                    view = current_profile(engine, profile, partition)
                    records.append((customer_id.encode(), view.model_dump_json().encode()))
            await send_batches(producer, topic, by_partition(records, partitioner))
            await asyncio.sleep(0)

    def _track_distributions(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, SegmentChange):
                if output.dimension == "lifecycle_stage":
                    self.stages[output.from_] -= 1
                    self.stages[output.to] += 1
            elif output.band != output.previous_band:
                self.bands[output.previous_band] -= 1
                self.bands[output.band] += 1

    async def list_log_ends(self) -> None:
        """Ask the broker where the input partitions end, for :meth:`refresh_metrics`."""
        assigned = self._assigned_inputs()
        if self.engine is not None and assigned:
            await self.log_ends.refresh(self.app.consumer, assigned)

    def refresh_metrics(self) -> None:
        """Gauges that describe the state rather than count events (run from a timer, after
        :meth:`list_log_ends`)."""
        metrics, engine = self.metrics, self.engine
        metrics.ready.set(engine is not None)
        if engine is None:
            return
        metrics.set_lifecycle_counts({k: v for k, v in self.stages.items() if k})
        metrics.set_churn_band_counts({k: v for k, v in self.bands.items() if k})
        metrics.profiles.set(sum(v for k, v in self.stages.items() if k))
        now = time.time()
        clocks = {p: state.clock.now for p, state in engine.partitions.items()}
        metrics.set_watermark_delays({p: max(0.0, now - c) for p, c in clocks.items() if c > 0})
        consumer = self.app.consumer
        behind = {}
        for tp in self._assigned_inputs():
            # The end the last fetch carried stops moving when fetching stops; the listed one not.
            end = max(consumer.highwater(tp) or 0, self.log_ends.get(tp) or 0)
            position = consumer._read_offset.get(tp) or 0
            held = self.aligner.waiting(tp.topic, tp.partition)
            behind[tp.topic, tp.partition] = max(0, end - position) + held
        # The worker drains its partitions together, so one that is behind is caught up once
        # they all are, not at the whole rate as if it were alone.
        backlog = sum(behind.values())
        seconds = self._catch_up_seconds(backlog)
        metrics.set_lag({key: (n, seconds if n else 0.0) for key, n in behind.items()})
        self._log_progress(backlog, seconds)
        if isinstance(engine.churn, ChurnModel):
            figures = engine.churn.metrics()
            metrics.churn_log_loss.set(figures.get("rolling_log_loss", float("nan")))
            metrics.churn_roc_auc.set(figures.get("rolling_roc_auc", float("nan")))
            metrics.churn_labelled.set(figures.get("labelled", 0))
            metrics.churn_pending.set(figures.get("pending", 0))

    def _log_progress(self, backlog: int, seconds: float) -> None:
        """Every :data:`PROGRESS_S`, unless idle: how far the worker got, so a log shows a
        catch-up moving (or not) without a metrics scrape."""
        now = time.monotonic()
        since, inputs_then = self._progress
        inputs = self.totals["inputs"]
        if now - since < PROGRESS_S or (inputs == inputs_then and not backlog):
            return
        self._progress = (now, inputs)
        log.info(
            "progress",
            extra={
                "inputs": inputs,
                "per_second": round((inputs - inputs_then) / (now - since)),
                "dead_lettered": self.totals["dead_lettered"],
                "held": self.aligner.held,
                "backlog": backlog,
                "catch_up_seconds": round(seconds) if math.isfinite(seconds) else None,
            },
        )

    def _catch_up_seconds(self, messages: int) -> float:
        """How long the worker takes to process ``messages`` at its recent rate."""
        processed = self.totals["inputs"]
        now = time.monotonic()
        last_at, last_count = self._rate_mark
        if now - last_at >= 1.0:
            self._rate = (processed - last_count) / (now - last_at)
            self._rate_mark = (now, processed)
        if messages == 0:
            return 0.0
        return messages / self._rate if self._rate > 0 else float("inf")

    async def _ack(self, offsets: dict[TP, list[int]]) -> None:
        consumer = self.app.consumer
        for tp, acked in offsets.items():
            await consumer.ack_offsets(tp, acked)

    def _count(self, counts: Counter[str]) -> None:
        metrics = self.metrics
        for topic in self.topics:
            if counts[topic]:
                metrics.input_events.labels(topic).inc(counts[topic])
        metrics.processed.inc(counts["processed"])
        metrics.duplicates.inc(counts["duplicate"])
        metrics.late_events.inc(counts["late"])
        self.totals.update(
            inputs=sum(counts[t] for t in self.topics),
            processed=counts["processed"],
            duplicates=counts["duplicate"],
            dead_lettered=counts["dead_lettered"],
        )
