"""The batch consumer's acks of transaction markers, against Faust's own commit arithmetic."""

import asyncio
import time
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from intervaltree import IntervalTree

from stream.worker.batching import BatchConsumer

TOPIC = TP("customer.purchases", 0)


def _consumer(committed: int) -> BatchConsumer:
    """The consumer's offset bookkeeping right after Faust sought to ``committed``."""
    consumer = object.__new__(BatchConsumer)  # no app, no thread: only the offsets matter
    consumer._last_acked, consumer.passed, consumer._dropped = {}, {}, {}
    consumer._read_offset = defaultdict(lambda: None, {TOPIC: committed})
    consumer._committed_offset = defaultdict(lambda: None, {TOPIC: committed})
    consumer._acked, consumer._acked_index = defaultdict(list), defaultdict(set)
    consumer._gap, consumer._n_acked = defaultdict(IntervalTree), 0
    consumer.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))
    return consumer


def _fetched(consumer: BatchConsumer, last_record: int, position: int) -> None:
    """A fetch handed over: records up to ``last_record``, then markers up to ``position``."""
    consumer._read_offset[TOPIC] = last_record + 1
    consumer.passed[TOPIC] = position


def _positions(consumer: BatchConsumer, positions: dict[TP, int]) -> None:
    """aiokafka's fetch positions, where ``_note_passed`` reads them (changed in place)."""
    assignment = SimpleNamespace(
        tps=[TopicPartition(tp.topic, tp.partition) for tp in positions],
        state_value=lambda atp: SimpleNamespace(
            has_valid_position=True, position=positions[TP(atp.topic, atp.partition)]
        ),
    )
    aiokafka_consumer = SimpleNamespace(
        _subscription=SimpleNamespace(subscription=SimpleNamespace(assignment=assignment)),
        _fetcher=SimpleNamespace(_records={}),
    )
    consumer._thread = SimpleNamespace(_ensure_consumer=lambda: aiokafka_consumer)
    consumer._buffered_partitions = set()


def _records(start: int, end: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(offset=o) for o in range(start, end)]


def _commit(consumer: BatchConsumer) -> int | None:
    """What Faust's commit would commit now (and does, as its commit does)."""
    offset = consumer._new_offset(TOPIC)
    if offset is not None:
        consumer._committed_offset[TOPIC] = offset
    return consumer._committed_offset[TOPIC]


def test_markers_after_the_acked_records_are_acked_so_the_commit_reaches_the_end():
    consumer = _consumer(committed=100)
    _fetched(consumer, last_record=149, position=152)
    asyncio.run(consumer.ack_offsets(TOPIC, list(range(100, 150))))
    assert asyncio.run(consumer.ack_passed(TOPIC))
    assert _commit(consumer) == 152
    assert consumer._read_offset[TOPIC] == 152


def test_markers_wait_while_a_record_before_them_is_not_acked():
    # Records handed over but held back (or still on their way to the handler): acking the
    # marker would register them as a gap, and Faust would commit past them unprocessed.
    consumer = _consumer(committed=100)
    _fetched(consumer, last_record=149, position=151)
    assert not asyncio.run(consumer.ack_passed(TOPIC))
    asyncio.run(consumer.ack_offsets(TOPIC, list(range(100, 120))))
    assert not asyncio.run(consumer.ack_passed(TOPIC))
    assert _commit(consumer) == 120
    asyncio.run(consumer.ack_offsets(TOPIC, list(range(120, 150))))
    assert asyncio.run(consumer.ack_passed(TOPIC))
    assert _commit(consumer) == 151


def test_a_fetch_of_markers_alone_is_acked_when_nothing_was_handed_over_before():
    consumer = _consumer(committed=100)
    consumer.passed[TOPIC] = 101
    assert asyncio.run(consumer.ack_passed(TOPIC))
    assert _commit(consumer) == 101


def test_a_fetch_handed_over_while_faust_seeks_leaves_no_records_to_ack_as_markers(monkeypatch):
    # After table recovery Faust resumes the input partitions before it seeks them to their
    # commits, and the drain loop runs meanwhile: a fetch handed over then moved the position
    # to the log end, the seek put the read offset back at the commit, and the records between
    # were acked as markers, committed unprocessed (whole partition tails lost at a restart).
    consumer = _consumer(committed=100)

    async def faust_perform_seek(self):
        _fetched(self, last_record=159, position=160)
        self._read_offset[TOPIC] = 100

    monkeypatch.setattr(faust_aiokafka.Consumer, "perform_seek", faust_perform_seek)
    asyncio.run(consumer.perform_seek())
    assert not asyncio.run(consumer.ack_passed(TOPIC))
    assert _commit(consumer) == 100


def test_a_partition_whose_fetched_records_were_dropped_tells_no_markers_until_sought(
    monkeypatch,
):
    consumer = _consumer(committed=100)
    positions = {TOPIC: 160}  # records 100..159 fetched, then dropped: a rebalance overtook them
    _positions(consumer, positions)
    consumer.handler = SimpleNamespace(topics={TOPIC.topic})
    consumer._drop({TOPIC: _records(100, 160)})
    consumer._note_passed({TOPIC.topic}, None)
    assert not asyncio.run(consumer.ack_passed(TOPIC))
    assert _commit(consumer) == 100

    async def faust_seek(self, partition, offset):
        positions[partition] = self._read_offset[partition] = offset

    monkeypatch.setattr(faust_aiokafka.Consumer, "seek", faust_seek)
    asyncio.run(consumer.seek(TOPIC, 100))
    positions[TOPIC] = 102  # a fetch of two markers
    consumer._note_passed({TOPIC.topic}, None)
    assert asyncio.run(consumer.ack_passed(TOPIC))
    assert _commit(consumer) == 102


def test_a_seek_that_leaves_the_position_past_dropped_records_is_followed_by_one_back(
    monkeypatch,
):
    # aiokafka does not seek a partition with nothing committed: its position stayed past the
    # records dropped (fetched while it was paused, during table recovery), and Faust, with no
    # committed offset to check its acks against, would commit the records after them.
    consumer = _consumer(committed=0)
    consumer.handler = SimpleNamespace(topics={TOPIC.topic})
    positions = {TOPIC: 160}
    _positions(consumer, positions)
    consumer._drop({TOPIC: _records(100, 160)})

    async def faust_perform_seek(self):
        self._read_offset[TOPIC] = None

    async def faust_seek(self, partition, offset):
        positions[partition] = self._read_offset[partition] = offset

    monkeypatch.setattr(faust_aiokafka.Consumer, "perform_seek", faust_perform_seek)
    monkeypatch.setattr(faust_aiokafka.Consumer, "seek", faust_seek)
    asyncio.run(consumer.perform_seek())
    assert positions[TOPIC] == 100
    assert not consumer._dropped


def _drain(consumer: BatchConsumer, fetches: list, monitor: Any = None) -> list[dict]:
    """Run the drain loop over ``fetches`` ((records, active partitions) each); what the
    handler was given."""
    stopped, handled = asyncio.Event(), []

    class Handler:
        topics = {TOPIC.topic}

        async def process(self, batch):
            handled.append(batch)

    async def fetch(timeout):
        if not fetches:
            stopped.set()
            return {}, {TOPIC}
        return fetches.pop(0)

    async def sleep(seconds):
        pass

    consumer.app = SimpleNamespace(consumer_generation_id=1, monitor=monitor)
    consumer.handler, consumer._stopped, consumer._crashed = Handler(), stopped, asyncio.Event()
    consumer._wait_next_records, consumer.sleep, consumer.highwater = fetch, sleep, lambda tp: 0
    consumer._note_passed = lambda topics, active: None
    consumer._commit_every, consumer._buffered_partitions = None, set()
    consumer.flow_active = True
    asyncio.run(consumer._drain_messages(SimpleNamespace(_stopped=asyncio.Event())))
    return handled


def test_a_partition_with_dropped_records_hands_none_of_its_later_ones_over_until_sought():
    # Handed over, the later records would leave the dropped ones behind them: the handler
    # takes no record twice, so those read again after the seek would be skipped.
    consumer = _consumer(committed=100)
    fetches = [
        ({TOPIC: _records(100, 160)}, set()),  # paused meanwhile: dropped
        ({TOPIC: _records(160, 163)}, {TOPIC}),  # resumed, not sought yet
    ]
    assert not _drain(consumer, fetches)
    assert consumer._dropped == {TOPIC: 100}


def test_a_fetch_handed_over_tells_faust_the_partition_is_being_processed():
    # Faust's livelock check (every 7 s) reads the monitor's stream_inbound_time, which only its
    # per-event path sets: without it, a healthy worker logged an ERROR "Stream has not started
    # processing" for each partition with unread records, from five minutes after start on.
    monitor = SimpleNamespace(stream_inbound_time={}, track_tp_end_offset=lambda tp, end: None)
    handled = _drain(_consumer(committed=100), [({TOPIC: _records(100, 103)}, {TOPIC})], monitor)
    assert [list(batch) for batch in handled] == [[TOPIC]]
    assert time.monotonic() - monitor.stream_inbound_time[TOPIC] < 5


def test_at_shutdown_the_work_in_hand_ends_before_faust_stops_the_tables(monkeypatch):
    # Faust's stop runs wait_empty, then stops the tables, and only then on_before_shutdown.
    said = []

    async def faust_wait_empty(self):
        said.append("faust waits for acks")

    async def stop():
        said.append("handler stops")

    monkeypatch.setattr(faust_aiokafka.Consumer, "wait_empty", faust_wait_empty)
    consumer = _consumer(committed=100)
    consumer.handler = SimpleNamespace(stop=stop)
    consumer.app.should_stop = False  # a rebalance: the revocation waits for the work instead
    asyncio.run(consumer.wait_empty())
    assert said == ["faust waits for acks"]
    said.clear()
    consumer.app.should_stop = True
    asyncio.run(consumer.wait_empty())
    assert said == ["handler stops", "faust waits for acks"]
