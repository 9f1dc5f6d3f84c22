"""Scoring against buyers other workers hold, from the bucket counts they share."""

import math
import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.population import PopulationSnapshot
from stream.config import Settings
from stream.core.buckets import FIRST_KEYS, POSITIONS
from stream.core.config import EngineConfig
from stream.core.counts import CountTree
from stream.core.crossings import CrossingIndex
from stream.core.engine import Engine
from stream.core.scores import RfmKeys
from stream.core.shared import SharedCounts
from stream.worker.producing import Partitioner
from stream.worker.sharing import Sharing
from tests.reference import exact_rfm
from tests.unit.events import EMITTED, purchase

keys = st.lists(st.integers(0, 5000), max_size=60)


@given(keys, keys)
def test_kth_beside_others_is_the_kth_of_both_together(mine, others):
    tree, elsewhere, both = CountTree(16), CountTree(16), CountTree(16)
    for key in mine:
        tree.add(key)
        both.add(key)
    for key in others:
        elsewhere.add(key)
        both.add(key)
    for k in range(1, both.total + 1):
        assert tree.kth(k, elsewhere.below) == both.kth(k)


@given(st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 50), st.integers(0, 10**7))))
def test_shared_counts_never_decrease_and_count_frequency_exactly(buyers):
    index = CrossingIndex()
    for i, key in enumerate(buyers):
        index.move(str(i), None, RfmKeys(*key))
    shared = SharedCounts([index.counts()])
    assert shared.total == len(buyers)
    for dimension in range(3):
        probes = sorted({k[dimension] for k in buyers} | {0, 1, 3599, 3600, 10**7 + 1})
        found = [shared.below(dimension, probe) for probe in probes]
        assert found == sorted(found) and found[-1] <= len(buyers)
    for probe in range(52):
        assert shared.below(1, probe) == sum(f < probe for _, f, _ in buyers)


def test_shared_counts_are_equal_when_their_buyers_are():
    one = CrossingIndex()
    one.move("a", None, RfmKeys(7200, 2, 1000))
    two = CrossingIndex()
    two.move("b", None, RfmKeys(7300, 2, 1001))
    assert SharedCounts([one.counts()]) == SharedCounts([two.counts()])
    assert SharedCounts([one.counts()]) != SharedCounts([one.counts(), two.counts()])


def _shop(seed: int) -> list[tuple[str, float, float]]:
    rng = random.Random(seed)
    rows = []
    for i in range(6000):
        customer = f"c{int(rng.paretovariate(1.1)) % 1500}"
        rows.append((customer, i / 20, round(rng.lognormvariate(3, 1), 2)))
    return rows


def _agreement(engines: list[Engine], rows: list[tuple[str, float, float]]) -> float:
    exact = exact_rfm((c, d * 86_400, a) for c, d, a in rows)
    agree = 0
    for customer, want in exact.items():
        [profile] = [e.profiles[customer] for e in engines if customer in e.profiles]
        got = (profile.r_score, profile.f_score, profile.m_score, profile.value_tier)
        assert None not in got
        off = max(abs(got[0] - want.r), abs(got[1] - want.f), abs(got[2] - want.m))
        assert off <= 1, (customer, got, want)
        agree += got == (want.r, want.f, want.m, want.tier)
    return agree / len(exact)


def test_two_workers_sharing_counts_score_like_one_engine_over_the_whole_shop():
    rows = _shop(seed=3)
    partition = Partitioner(4)
    owners = ({0, 1}, {2, 3})

    def run(share: bool) -> list[Engine]:
        engines = [Engine(EngineConfig(allowed_lateness_s=0)) for _ in owners]
        for i, (customer, day, amount) in enumerate(rows):
            p = partition(customer.encode())
            [engine] = [e for e, held in zip(engines, owners, strict=True) if p in held]
            engine.process(purchase(customer, day, amount), p, EMITTED)
            if share and i % 500 == 499:
                _exchange(engines)
        if share:
            _exchange(engines)
        for engine in engines:
            for p, state in list(engine.partitions.items()):
                engine.tick(p, EMITTED, wall_ts=state.clock.now + 1)
        return engines

    alone, shared = _agreement(run(share=False), rows), _agreement(run(share=True), rows)
    assert shared >= 0.97, (shared, alone)
    assert shared > alone


def _exchange(engines: list[Engine]) -> None:
    """What the workers' snapshots carry: each partition's counts, to every other worker."""
    for engine in engines:
        elsewhere = [
            state.crossings.counts()
            for other in engines
            if other is not engine
            for state in other.partitions.values()
        ]
        engine.share(SharedCounts(elsewhere))


# -- what workers share on the population topic -------------------------------------------


def _sharing(app_id: str = "shop", partitions: int = 4) -> Sharing:
    return Sharing(replace(Settings(), app_id=app_id), partitions)


def _engine_with_buyers(partitions: dict[int, list[tuple[str, float, float]]]) -> Engine:
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    for partition, rows in partitions.items():
        for customer, day, amount in rows:
            engine.process(purchase(customer, day, amount), partition, EMITTED)
    return engine


def test_snapshots_carry_each_partitions_counts_once_until_they_move():
    engine = _engine_with_buyers({0: [("a", 1, 10), ("b", 2, 20)], 3: [("c", 1, 30)]})
    sharing = _sharing()
    records = sharing.snapshots(engine, held={0, 1, 3})
    # Partition 1 has had no event here: its counts are empty, not its last owner's.
    assert [key for key, _ in records] == [b"shop:0", b"shop:1", b"shop:3"]
    reader = _sharing()
    assert all(reader.receive(value) for _, value in records)
    now = engine.clock(0).now
    assert reader.elsewhere(held={0, 1, 3}, clock=now) is None
    assert reader.elsewhere(held={1, 3}, clock=now) == SharedCounts(
        [engine.partitions[0].crossings.counts()]
    )
    assert reader.elsewhere(held=set(), clock=now).total == 3
    assert sharing.snapshots(engine, held={0, 1, 3}) == []
    engine.process(purchase("c", 5, 10), 3, EMITTED)
    assert [key for key, _ in sharing.snapshots(engine, held={0, 1, 3})] == [b"shop:3"]
    sharing.forget_published()
    assert len(sharing.snapshots(engine, held={0, 3})) == 2


def test_quiet_partitions_counts_go_out_again_as_their_clock_moves():
    engine = _engine_with_buyers({0: [("a", 1, 10)]})
    sharing = _sharing()
    assert len(sharing.snapshots(engine, held={0})) == 1
    clock = engine.clock(0).now
    engine.tick(0, EMITTED, wall_ts=clock + 5 * 3600)
    assert sharing.snapshots(engine, held={0}) == []
    engine.tick(0, EMITTED, wall_ts=clock + 7 * 3600)
    [(_, value)] = sharing.snapshots(engine, held={0})
    assert PopulationSnapshot.model_validate_json(value).clock.timestamp() == clock + 7 * 3600


def test_merged_counts_are_kept_until_the_snapshots_they_come_from_change():
    engine = _engine_with_buyers({0: [("a", 1, 10)], 1: [("b", 1, 20)]})
    publisher, reader = _sharing(), _sharing()
    for _, value in publisher.snapshots(engine, held={0, 1}):
        reader.receive(value)
    clock = engine.clock(0).now
    first = reader.elsewhere(held={2}, clock=clock)
    assert reader.elsewhere(held={2}, clock=clock) is first
    assert reader.elsewhere(held={1}, clock=clock) is not first
    engine.process(purchase("c", 2, 30), 0, EMITTED)
    for _, value in publisher.snapshots(engine, held={0, 1}):
        reader.receive(value)
    again = reader.elsewhere(held={2}, clock=clock)
    assert again is not None and again is not first and again.total == 3


def test_counts_from_a_partition_whose_clock_is_a_day_away_are_left_out(caplog):
    engine = _engine_with_buyers({0: [("a", 1, 10)], 1: [("b", 30, 10)]})
    reader = _sharing()
    for _, value in _sharing().snapshots(engine, held={0, 1}):
        reader.receive(value)
    day = 86_400
    one, thirty = engine.clock(0).now, engine.clock(1).now
    assert reader.elsewhere(held=set(), clock=one).total == 1
    assert reader.elsewhere(held=set(), clock=thirty).total == 1
    assert reader.elsewhere(held=set(), clock=one + day).total == 1
    assert reader.elsewhere(held=set(), clock=one + day + 1) is None
    assert "population counts left out" in caplog.text
    # A worker with no clock yet takes every count.
    assert reader.elsewhere(held=set(), clock=-math.inf).total == 2


def test_snapshots_of_another_app_or_partition_layout_or_broken_are_not_counted(caplog):
    engine = _engine_with_buyers({1: [("a", 1, 10)]})
    [(_, ours)] = _sharing().snapshots(engine, held={1})
    [(_, other_app)] = _sharing(app_id="other").snapshots(engine, held={1})
    [(_, other_layout)] = _sharing(partitions=8).snapshots(engine, held={1})
    reader = _sharing()
    assert not reader.receive(other_app)
    assert not reader.receive(other_layout)
    assert not reader.receive(b"{not json")
    assert not reader.receive(None)
    assert "population snapshot ignored" in caplog.text
    assert reader.elsewhere(held=set(), clock=-math.inf) is None
    assert reader.receive(ours)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"partition": 4}, "partition 4 of only 4"),
        ({"buyers": 3}, "counts 2 buyers, not 3"),
        ({"frequency": {"gaps": [2, 0], "counts": [1, 1]}}, "ascend"),
        ({"frequency": {"gaps": [-1, 2], "counts": [1, 1]}}, "ascend"),
        ({"frequency": {"gaps": [1, 1], "counts": [2]}}, "2 gaps but 1 counts"),
        ({"frequency": {"gaps": [1, 1], "counts": [2, 0]}}, "counts must be >= 1"),
    ],
)
def test_a_snapshot_that_does_not_add_up_is_refused(change, reason):
    buckets = {"gaps": [1, 1], "counts": [1, 1]}
    snapshot = {
        "app_id": "shop",
        "partition": 0,
        "partitions": 4,
        "published_at": "2026-11-22T10:00:00Z",
        "clock": "2026-11-22T09:00:00Z",
        "buyers": 2,
        "last_purchase": buckets,
        "frequency": buckets,
        "spend": buckets,
    }
    PopulationSnapshot.model_validate({**snapshot})
    with pytest.raises(ValidationError, match=reason):
        PopulationSnapshot.model_validate({**snapshot, **change})


@given(st.integers(0, 3), st.integers(0, (1 << 44) - 1))
def test_a_key_lies_between_its_buckets_first_key_and_the_next_ones(dimension, key):
    dimension = min(dimension, 2)
    bucket = int(POSITIONS[dimension](key))
    assert FIRST_KEYS[dimension](bucket) <= key < FIRST_KEYS[dimension](bucket + 1)
    assert int(POSITIONS[dimension](FIRST_KEYS[dimension](bucket))) == bucket


@pytest.mark.parametrize("price", [9.99, 29.99, 49.99, 19.00])
@pytest.mark.parametrize("workers", [2, 4, 8])
def test_many_buyers_with_one_spend_score_as_one_engine_would(price, workers):
    # Fixed prices put whole groups of buyers on one value inside a 1% bucket: spread evenly,
    # the others' share of that group would count as below it.
    rng = random.Random(0)
    rows = []
    for i in range(2000):
        for _ in range(min(int(rng.expovariate(1.0)) + 1, 30)):
            rows.append((f"c{i}", rng.uniform(0, 300), price))
    rows.sort(key=lambda row: row[1])
    partition = Partitioner(workers)
    engines = [Engine(EngineConfig(allowed_lateness_s=0)) for _ in range(workers)]
    for customer, day, amount in rows:
        p = partition(customer.encode())
        engines[p].process(purchase(customer, day, amount), p, EMITTED)
    _exchange(engines)
    for engine in engines:
        for p, state in list(engine.partitions.items()):
            engine.tick(p, EMITTED, wall_ts=state.clock.now + 1)
    assert _agreement(engines, rows) >= 0.97


def test_sweeps_forced_by_shared_counts_at_one_clock_time_carry_distinct_ids():
    engine = _engine_with_buyers({0: [(f"c{i}", i, 10 + i) for i in range(20)]})
    rich, poor = CrossingIndex(), CrossingIndex()
    for i in range(20):
        rich.move(f"r{i}", None, RfmKeys(0, 1, 1_000_000 + i))
        poor.move(f"p{i}", None, RfmKeys(0, 1, 1 + i))
    ids = []
    for counts in (rich, poor, rich):
        engine.share(SharedCounts([counts.counts()]))
        outputs = engine.tick(0, EMITTED)
        assert outputs
        ids += [output.event_id for output in outputs]
    assert len(ids) == len(set(ids))
