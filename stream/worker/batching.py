"""Faust, minus its per-event stream iteration: whole fetches go to one batch handler.

Faust keeps what it is good at (group membership, partition assignment, offset commits,
table recovery and the web server). What it does per event, turning each record into a
Message and awaiting ``wait_first(callback(message))`` (about 11 event-loop callbacks and 4
tasks an event), is what held a naive agent to ~3.4k events/s here; ``stream.take()`` did not
help. So the consumer's drain loop hands each ``getmany()`` result straight to
:class:`BatchHandler` and acks the offsets in bulk. References are to faust-streaming 0.15.3.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from time import monotonic
from typing import Any, Protocol

import faust
from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import FetchError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ack_lock


class BatchHandler(Protocol):
    topics: set[str]

    async def process(self, batch: dict[TP, list[Any]]) -> None:
        """Handle one fetch ({partition: aiokafka ConsumerRecords}); must ack what it handled."""

    async def on_revoked(self, revoked: set[TP]) -> None:
        """Partitions are leaving: finish the batch in flight and forget their state."""

    async def stop(self) -> None:
        """The worker is stopping: finish the work in flight, start no more."""


class BatchConsumer(faust_aiokafka.Consumer):
    """The aiokafka-driver consumer with a batch drain loop (consumer.py ``_drain_messages``)."""

    handler: BatchHandler | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_acked: dict[TP, int] = {}
        self.passed: dict[TP, int] = {}
        """Per input partition: the fetch position after the last fetch handed over whole.
        Every offset below it was handed to the handler or holds no record (a transaction
        marker, which the fetcher skips). Forgotten at every seek, which moves the position
        back."""
        self._dropped: dict[TP, int] = {}
        """Partitions with fetched records dropped, not handed over (see :meth:`_drop`), and
        the first such record: their position is past records nobody has, so it tells nothing
        of markers, and their later records are not handed over, until a seek moves it back."""

    async def _drain_messages(self, fetcher: Any) -> None:
        handler = self.handler
        assert handler is not None, "BatchConsumer needs a handler before the worker starts"
        app = self.app
        read_offset = self._read_offset
        stopped, fetcher_stopped = self._stopped.is_set, fetcher._stopped.is_set
        try:
            while not (stopped() or fetcher_stopped()):
                records, active = await self._wait_next_records(1.0)
                # The generation the fetch belongs to is read once it is back, as
                # Consumer.getmany does: the wait above spans a whole rebalance while flow is
                # stopped, and a generation read before it would drop the first fetch after
                # the rebalance. That fetch holds the changelog records table recovery waits
                # for, and nothing seeks them back, so recovery would never complete.
                generation = app.consumer_generation_id
                await self.sleep(0)
                if self.should_stop:
                    self._drop(records)
                    continue
                if not records:
                    # A fetch can bring nothing but transaction markers: the position moved.
                    if self.flow_active and generation == app.consumer_generation_id:
                        self._note_passed(handler.topics, active)
                    continue
                # As Consumer.getmany does: a fetch made while flow is stopped is dropped and
                # the consumer seeks back to the committed offsets, so nothing is skipped; a
                # fetch overtaken by a rebalance is dropped (the rebalance seeks).
                if not self.flow_active:
                    self._drop(records)
                    await self.perform_seek()
                    continue
                if generation != app.consumer_generation_id:
                    self._drop(records)
                    continue
                batch: dict[TP, list[Any]] = {}
                for tp, recs in records.items():
                    if (
                        active is not None
                        and tp not in active
                        and tp not in self._buffered_partitions
                    ):
                        self._drop({tp: recs})
                        continue
                    # The next offset to read: set by Faust's seek to the committed offset.
                    following = read_offset[tp]
                    if following is not None:
                        recs = [r for r in recs if r.offset >= following]
                    if not recs:
                        continue
                    if tp.topic not in handler.topics:
                        # Anything else Faust reads (table changelogs, in recovery and as
                        # standbys) keeps the ordinary per-message path. It awaits, so a
                        # rebalance can start meanwhile: then stop, as Consumer.getmany does.
                        for record in recs:
                            if not self.flow_active or generation != app.consumer_generation_id:
                                break
                            await self.wait_first(
                                self.callback(self._to_message(tp, record)),
                                self.suspend_flow.wait(),
                            )
                            read_offset[tp] = record.offset
                        continue
                    if tp in self._dropped:
                        # Handed over, they would leave the dropped records behind them: the
                        # handler takes no record twice nor out of order, so those read again
                        # after the seek would be skipped, and their offsets taken for a gap.
                        self._drop({tp: recs})
                        continue
                    batch[tp] = recs
                    if app.monitor is not None:
                        app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                # A batch overtaken by a rebalance is left for the seek to committed offsets
                # that ends the rebalance: its partitions' state may be gone already.
                if not (self.flow_active and generation == app.consumer_generation_id):
                    self._drop(batch)
                    continue
                self._note_passed(handler.topics, active)
                if batch:
                    for tp, recs in batch.items():
                        read_offset[tp] = recs[-1].offset + 1
                        if app.monitor is not None:
                            # What Faust's per-event path records (Monitor.on_stream_event_in).
                            # Its livelock check reads it, and without it logs every partition
                            # with unread records as "Stream has not started processing" five
                            # minutes after start, an ERROR on a healthy worker.
                            app.monitor.stream_inbound_time[tp] = monotonic()
                    await handler.process(batch)
                    if self._commit_every is not None and self._n_acked >= self._commit_every:
                        self._n_acked = 0
                        await self.commit()
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise

    def _drop(self, records: Mapping[TP, Any]) -> None:
        """Records the fetcher returned are not handed over (the worker stops, a rebalance
        overtook them, their partition was paused meanwhile): until a seek moves the fetch
        position back below them (:meth:`perform_seek` sees to it), it must not be taken for
        where the handler's records end, or :meth:`ack_passed` would ack them unprocessed, and
        the partition's later records are not handed over either."""
        assert self.handler is not None
        for tp, recs in records.items():
            if tp.topic in self.handler.topics:  # not a changelog: Faust's recovery seeks those
                first = recs[0].offset
                self._dropped[tp] = min(self._dropped.get(tp, first), first)
                self.passed.pop(tp, None)

    def _note_passed(self, topics: set[str], active: set[TP] | None) -> None:
        """After a fetch handed over whole: where aiokafka's fetcher stands on each input
        partition it reads (a partition left out of the fetch keeps no position here)."""
        assignment = self._assignment()
        if assignment is None:
            return
        pending = self._thread._ensure_consumer()._fetcher._records
        for atp in list(assignment.tps):
            tp = TP(atp.topic, atp.partition)
            if (
                tp.topic not in topics
                or (active is not None and tp not in active and tp not in self._buffered_partitions)
                or tp in self._dropped
            ):
                continue
            if isinstance(pending.get(atp), FetchError):
                # Its error is raised at the next fetch; the fetcher may already have moved
                # past a record it could not return (one too large).
                self.passed.pop(tp, None)
                continue
            state = assignment.state_value(atp)
            if state is not None and state.has_valid_position:
                self.passed[tp] = state.position

    async def ack_passed(self, tp: TP) -> bool:
        """Ack the offsets after the last record handed over that hold no record, so the
        committed offset reaches the end of a partition that ends in transaction markers,
        as a Java consumer's does (lag 0, not 1 for ever); whether it did.

        Only once every record handed over has been acked: acking past one would commit it
        unprocessed (the handler may not even have received the fetch yet).
        """
        passed, read = self.passed.get(tp), self._read_offset[tp]
        if passed is None or read is None or passed <= read:
            return False
        last = self._last_acked.get(tp)
        if last is None:  # nothing acked since the assignment: nothing handed over either?
            if read != self._committed_offset[tp]:
                return False
        elif last != read - 1:
            return False
        await self.ack_offsets(tp, list(range(read, passed)))
        self._read_offset[tp] = passed
        return True

    async def perform_seek(self) -> None:
        # Forgotten after the seek too: the drain loop runs while the seek awaits the broker
        # (Faust resumes the input partitions before it seeks them after table recovery), and
        # a position noted then is where a fetch stopped that the seek's read offsets undo.
        # Acked as markers, the records up to it would be committed unprocessed.
        self.passed.clear()
        await super().perform_seek()
        self.passed.clear()
        # Back to the first dropped record where the seek left the position past it: aiokafka
        # leaves a partition with nothing committed (or 0) where it is, and a fetch dropped
        # while the seek awaited the broker may have read on from the committed offset.
        dropped, self._dropped = self._dropped, {}
        for tp, first in dropped.items():
            position = self._position(tp)
            if position is not None and position > first:
                await self.seek(tp, first)

    def _assignment(self) -> Any:
        """aiokafka's assignment, with each partition's fetch state (private, read as Faust's
        ``highwater`` reads the same consumer's), or None between assignments."""
        subscription = self._thread._ensure_consumer()._subscription.subscription
        return subscription.assignment if subscription is not None else None

    def _position(self, tp: TP) -> int | None:
        """aiokafka's fetch position on an assigned partition, if it has one."""
        assignment, atp = self._assignment(), TopicPartition(tp.topic, tp.partition)
        if assignment is None or atp not in assignment.tps:
            return None
        state = assignment.state_value(atp)
        return state.position if state is not None and state.has_valid_position else None

    async def seek(self, partition: TP, offset: int) -> None:
        self.passed.pop(partition, None)
        await super().seek(partition, offset)
        self.passed.pop(partition, None)
        self._dropped.pop(partition, None)

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        for tp in partitions:
            self.passed.pop(tp, None)
        await super().seek_wait(partitions)
        for tp in partitions:
            self.passed.pop(tp, None)
            self._dropped.pop(tp, None)

    async def ack_offsets(self, tp: TP, offsets: list[int]) -> None:
        """Bulk ``Consumer.ack`` for one partition's ascending offsets.

        Holes (compaction, transaction markers) are registered as gaps, as the per-message
        loop does, so the committed offset can move past them.
        """
        if not offsets or not self.app.topics.acks_enabled_for(tp.topic):
            return
        committed = self._committed_offset[tp]
        if committed is not None and offsets[0] < committed:
            offsets = [o for o in offsets if o >= committed]
            if not offsets:
                return
        previous = self._last_acked.get(tp)
        if previous is not None and offsets[0] > previous + 1:
            await self._add_gap(tp, previous + 1, offsets[0] - 1)
        if offsets[-1] - offsets[0] + 1 != len(offsets):
            for a, b in zip(offsets, offsets[1:], strict=False):
                if b > a + 1:
                    await self._add_gap(tp, a + 1, b - 1)
        with ack_lock:
            # A fetch that raced Faust's seek to the committed offsets is read twice; an
            # offset acked twice would break the consecutive run Faust commits up to.
            index = self._acked_index[tp]
            fresh = [o for o in offsets if o not in index]
            self._acked[tp].extend(fresh)
            index.update(fresh)
            self._n_acked += len(fresh)
        self._last_acked[tp] = offsets[-1]

    async def wait_empty(self) -> None:
        # At shutdown Faust stops the tables right after this, before ``on_before_shutdown``:
        # the fetch or tick in hand (shielded from the fetcher's cancellation) finishes first
        # and none starts after, so none writes to a closed store or misses the last commit.
        # At a rebalance, ``on_partitions_revoked`` waits for it instead.
        if self.handler is not None and self.app.should_stop:
            await self.handler.stop()
        await super().wait_empty()

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        if self.handler is not None:
            self.stop_flow()
            await self.handler.on_revoked(revoked)
            for tp in revoked:
                self._last_acked.pop(tp, None)
                self.passed.pop(tp, None)
                self._dropped.pop(tp, None)  # assigned again, it is read from its commit
            # The base method forgets acked offsets of revoked partitions: commit them first
            # (Faust flushes the producer before it commits), or they would be reprocessed.
            await self.commit()
        await super().on_partitions_revoked(revoked)


class BatchTransport(faust_aiokafka.Transport):
    Consumer = BatchConsumer


class BatchApp(faust.App):
    """A Faust app whose consumer hands whole fetches to a :class:`BatchHandler`."""

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)
