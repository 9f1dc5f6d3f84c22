"""The worker's merge of its input partitions in event time, across fetches."""

import math

from stream.worker.aligning import Aligner, Held

TOPICS = ["interactions", "purchases", "surveys"]


_offsets = {}


def held(topic, *times, partition=0):
    """Records of ``topic`` at these times, at the offsets after the last ones made."""
    first = _offsets.get((topic, partition), 0)
    _offsets[topic, partition] = first + len(times)
    return [Held(ts, topic, first + i, f"{topic[0]}{ts:g}") for i, ts in enumerate(times)]


def behind_on(*lagging):
    return lambda topic, partition: (topic, partition) in lagging


def items(released, partition=0):
    return [h.item for p, h in released if p == partition]


def release(a, behind, now, partitions=()):
    return a.release(behind, partitions, now)


def aligner(max_held=1_000, max_wait_s=10.0):
    return Aligner(TOPICS, max_held=max_held, max_wait_s=max_wait_s)


def test_topics_with_nothing_more_to_read_are_merged_in_event_time():
    a = aligner()
    a.add(0, held("interactions", 1, 4, 6) + held("purchases", 2, 5), now=0)
    assert items(release(a, behind_on(), now=0)) == ["i1", "p2", "i4", "p5", "i6"]
    assert a.held == 0


def test_a_topic_with_more_to_read_holds_the_others_until_its_records_come():
    # A replayed year: page views read to December while the purchases are still unread.
    a = aligner()
    a.add(0, held("interactions", 10, 200, 330), now=0)
    assert release(a, behind_on(("purchases", 0)), now=1) == []
    a.add(0, held("purchases", 5, 100), now=2)
    # The purchases read so far go with the page views before them; the rest waits again.
    released = release(a, behind_on(("purchases", 0)), now=2)
    assert items(released) == ["p5", "i10", "p100"]
    a.add(0, held("purchases", 300), now=3)
    assert items(release(a, behind_on(), now=3)) == ["i200", "p300", "i330"]
    assert a.forced == 0


def test_partitions_are_merged_in_event_time_and_wait_for_each_other():
    # One population scores every partition's customers: a backlog handled a partition at a
    # time ranked one partition's first buyer against another's whole year.
    a = aligner()
    a.add(0, held("purchases", 1, 5, 300, partition=0), now=0)
    # Partition 1 is assigned but no fetch has brought it yet: nothing goes.
    assert release(a, behind_on(("purchases", 1)), now=0, partitions={0, 1}) == []
    a.add(1, held("purchases", 2, 7, partition=1), now=1)
    released = release(a, behind_on(("purchases", 1)), now=1, partitions={0, 1})
    assert [(p, h.item) for p, h in released] == [(0, "p1"), (1, "p2"), (0, "p5"), (1, "p7")]
    released = release(a, behind_on(), now=2, partitions={0, 1})
    assert [(p, h.item) for p, h in released] == [(0, "p300")]


def test_a_record_that_is_not_an_event_waits_only_for_its_topics_earlier_records():
    a = aligner()
    a.add(0, held("purchases", 7) + [Held(-math.inf, "purchases", 10**6, "dead")], now=0)
    a.add(0, held("interactions", 3), now=0)
    assert items(release(a, behind_on(), now=0)) == ["i3", "p7", "dead"]


def test_records_wait_for_a_topic_that_keeps_bringing_records_however_long_it_takes():
    # A backlog in big fetches: each takes seconds to handle, and the purchases come a few
    # fetches after the page views.
    a = aligner(max_wait_s=10)
    a.add(0, held("interactions", 10, 20, 30), now=0)
    assert release(a, behind_on(("purchases", 0)), now=0) == []
    a.add(0, held("purchases", 5), now=12)
    assert items(release(a, behind_on(("purchases", 0)), now=12)) == ["p5"]
    assert release(a, behind_on(("purchases", 0)), now=21) == []
    a.add(0, held("purchases", 25), now=21)
    assert items(release(a, behind_on(), now=25)) == ["i10", "i20", "p25", "i30"]
    assert a.forced == 0


def test_records_wait_at_most_max_wait_s_for_a_topic_that_does_not_catch_up():
    a = aligner(max_wait_s=10)
    a.add(0, held("interactions", 1, 2), now=0)
    assert release(a, behind_on(("purchases", 0)), now=9) == []
    assert items(release(a, behind_on(("purchases", 0)), now=10)) == ["i1", "i2"]
    assert a.forced == 2


def test_past_max_held_the_oldest_records_go_whatever_they_wait_for():
    a = aligner(max_held=3)
    a.add(0, held("interactions", 5, 6), now=0)
    a.add(1, held("interactions", 1, 9, partition=1), now=0)
    released = release(a, behind_on(("purchases", 0), ("purchases", 1)), now=0)
    assert items(released, 1) == ["i1"] and a.held == 3 and a.forced == 1


def test_dropped_records_are_forgotten():
    a = aligner()
    a.add(0, held("interactions", 1), now=0)
    a.drop()
    assert a.held == 0 and release(a, behind_on(), now=0) == []


def test_records_read_again_are_taken_once():
    # A fetch that raced the consumer's seek back to the committed offsets.
    a = aligner()
    first = held("interactions", 1, 2, 3)
    a.add(0, first[:2], now=0)
    a.add(0, first, now=0)
    assert [h.offset for _, h in release(a, behind_on(), now=0)] == [h.offset for h in first]
    a.add(0, first, now=1)
    assert a.held == 0


def test_a_record_that_is_not_an_event_goes_while_the_others_wait():
    a = aligner()
    a.add(0, [Held(-math.inf, "purchases", 0, "dead")] + held("interactions", 5), now=0)
    assert items(release(a, behind_on(("surveys", 0)), now=0)) == ["dead"]
    assert a.forced == 0 and a.held == 1
