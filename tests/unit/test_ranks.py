"""The ranks kernels against a plain sorted list: after every insert, remove and query, with
blocks of 4 or 8 entries so that splits, merges and growth happen all the time, and every
invariant checked after every change."""

from __future__ import annotations

import bisect
from random import Random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from stream.core.kernels import ranks as kernels
from stream.core.ranks import Ranking, check

LOWEST, HIGHEST = np.iinfo(np.int64).min, np.iinfo(np.int64).max

# Mostly a handful of keys, so that runs of equal keys span several blocks; sometimes any.
keys = st.integers(-3, 3) | st.integers(LOWEST, HIGHEST) | st.sampled_from([LOWEST, HIGHEST])
slots = st.integers(0, 6)
widths = st.sampled_from([4, 5, 8])


class Reference:
    """The same multiset as a sorted list of (key, slot)."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, int]] = []

    def insert(self, key: int, slot: int) -> None:
        bisect.insort(self.entries, (key, slot))

    def remove(self, key: int, slot: int) -> None:
        self.entries.remove((key, slot))

    def below(self, key: int) -> int:
        return sum(1 for k, _ in self.entries if k < key)

    def kth(self, k: int) -> int:
        return self.entries[k - 1][0]

    def slots_in(self, low: int, high: int) -> list[int]:
        return [s for k, s in self.entries if low < k <= high]


def same(ranking: Ranking, reference: Reference) -> None:
    check(ranking.ranks)
    found_keys, found_slots = ranking.sorted_entries()
    assert list(zip(found_keys.tolist(), found_slots.tolist(), strict=True)) == reference.entries


INSERT, APPEND, REMOVE, REMOVE_NEXT, ABSENT, BELOW, KTH, SLOTS_IN = range(8)


class Run:
    """A ranking and its reference, changed and asked alike, compared after every step."""

    def __init__(self, width: int, blocks: int) -> None:
        self.ranking = Ranking(width, blocks)
        self.reference = Reference()
        self.at = 0
        """Where the last entry was removed: removing the next one there drains a block."""

    def step(self, op: int, a: int, b: int) -> None:
        ranking, reference, entries = self.ranking, self.reference, self.reference.entries
        if op == INSERT:
            ranking.insert(a, b % 7)
            reference.insert(a, b % 7)
        elif op == APPEND:
            # Keys that arrive in order, such as purchase times.
            key = min(entries[-1][0] + 1, HIGHEST) if entries else a
            ranking.insert(key, b % 7)
            reference.insert(key, b % 7)
        elif op in (REMOVE, REMOVE_NEXT) and entries:
            self.at = (a if op == REMOVE else self.at) % len(entries)
            key, slot = entries[self.at]
            ranking.remove(key, slot)
            reference.remove(key, slot)
        elif op == ABSENT and (a, b % 7) not in entries:
            with pytest.raises(KeyError):
                ranking.remove(a, b % 7)
        elif op == BELOW:
            assert ranking.below(a) == reference.below(a)
        elif op == KTH and entries:
            k = 1 + a % len(entries)
            assert ranking.kth(k) == reference.kth(k)
        elif op == SLOTS_IN:
            assert ranking.slots_in(a, b).tolist() == reference.slots_in(a, b)
        assert len(ranking) == len(entries)
        same(ranking, reference)


operations = st.lists(
    st.tuples(
        st.sampled_from([INSERT] * 3 + [APPEND, REMOVE, REMOVE, REMOVE_NEXT] + [*range(4, 8)]),
        keys,
        keys,
    ),
    min_size=40,
    max_size=200,
)


@settings(max_examples=100, deadline=None)
@given(widths, st.integers(1, 3), operations)
def test_every_operation_matches_a_sorted_list(
    width: int, blocks: int, ops: list[tuple[int, int, int]]
) -> None:
    run = Run(width, blocks)
    for op, a, b in ops:
        run.step(op, a, b)


GROWING = [INSERT] * 4 + [APPEND] * 2 + [REMOVE, REMOVE_NEXT, ABSENT, BELOW, KTH, SLOTS_IN]
SHRINKING = [INSERT, APPEND, REMOVE, REMOVE] + [REMOVE_NEXT] * 3 + [BELOW, KTH, SLOTS_IN]


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([4, 5, 8, 32]), st.sampled_from([3, 40, None]), st.integers(0, 2**32 - 1))
def test_long_runs_of_growing_and_shrinking_match_a_sorted_list(
    width: int, spread: int | None, seed: int
) -> None:
    """Longer than hypothesis draws its lists: a few hundred entries, twice filled and
    drained, in many blocks."""
    generator = np.random.default_rng(seed)

    def key() -> int:
        if spread is None:
            return int(generator.integers(LOWEST, HIGHEST, endpoint=True))
        return int(generator.integers(0, spread))

    run = Run(width, 1)
    for step in range(600):
        ops = GROWING if step % 300 < 180 else SHRINKING
        run.step(ops[int(generator.integers(len(ops)))], key(), key())


@settings(max_examples=40, deadline=None)
@given(widths, st.lists(st.tuples(st.integers(0, 3), slots), min_size=1, max_size=80), st.randoms())
def test_removing_down_to_empty_and_filling_again(
    width: int, entries: list[tuple[int, int]], random: Random
) -> None:
    ranking, reference = Ranking(width, 1), Reference()
    for _ in range(2):
        for key, slot in entries:
            ranking.insert(key, slot)
            reference.insert(key, slot)
            same(ranking, reference)
        leaving = list(entries)
        random.shuffle(leaving)
        for key, slot in leaving:
            ranking.remove(key, slot)
            reference.remove(key, slot)
            same(ranking, reference)
        assert len(ranking) == 0
        assert ranking.below(HIGHEST) == 0
        assert ranking.slots_in(LOWEST, HIGHEST).tolist() == []


@njit(cache=True)
def _run(r, codes, a, b, start, results, out):  # type: ignore[no-untyped-def]
    """Runs operations from ``start``, as an engine kernel would: stops before an insert when
    no block is spare (returning its index) and returns len(codes) when all are done."""
    for i in range(start, len(codes)):
        code = codes[i]
        if code == 0:
            if kernels.spare(r) == 0:
                return i
            if not kernels.insert(r, a[i], b[i]):
                return -1
        elif code == 1:
            if not kernels.remove(r, a[i], b[i]):
                return -2
        elif code == 2:
            results[i] = kernels.below(r, a[i])
        elif code == 3:
            results[i] = kernels.kth(r, a[i])
        else:
            results[i] = kernels.slots_in(r, a[i], b[i], out)
            results[i] = results[i] * 1_000_003 + out[: min(results[i], len(out))].sum()
    return len(codes)


def test_kernels_called_from_a_kernel_report_full_and_resume() -> None:
    generator = np.random.default_rng(7)
    count = 6_000
    codes = np.empty(count, dtype=np.int64)
    a = np.empty(count, dtype=np.int64)
    b = np.empty(count, dtype=np.int64)
    reference = Reference()
    expected = np.zeros(count, dtype=np.int64)
    for i in range(count):
        # Inserting more than removing at first, then the other way, down to few entries.
        inserting = 0.7 if i < count // 2 else 0.3
        if not reference.entries or generator.random() < inserting:
            key, slot = int(generator.integers(0, 40)), int(generator.integers(0, 1_000))
            codes[i], a[i], b[i] = 0, key, slot
            reference.insert(key, slot)
        elif generator.random() < 0.5:
            key, slot = reference.entries[int(generator.integers(len(reference.entries)))]
            codes[i], a[i], b[i] = 1, key, slot
            reference.remove(key, slot)
        else:
            code = int(generator.integers(2, 5))
            codes[i], a[i] = code, int(generator.integers(-1, 42))
            if code == 2:
                expected[i] = reference.below(int(a[i]))
            elif code == 3:
                a[i] = 1 + a[i] % len(reference.entries)
                expected[i] = reference.kth(int(a[i]))
            else:
                b[i] = a[i] + int(generator.integers(0, 6))
                inside = reference.slots_in(int(a[i]), int(b[i]))
                expected[i] = len(inside) * 1_000_003 + sum(inside[:5])
    ranking = Ranking(width=8, blocks=1)
    results = np.zeros(count, dtype=np.int64)
    out = np.empty(5, dtype=np.int32)
    done, grown = 0, 0
    while done < count:
        done = _run(ranking.ranks, codes, a, b, done, results, out)
        assert done >= 0
        if done < count:
            ranking.grow()
            grown += 1
    assert grown > 5
    assert results.tolist() == expected.tolist()
    same(ranking, reference)


def test_an_insert_that_finds_no_free_block_changes_nothing() -> None:
    ranking = Ranking(width=4, blocks=1)
    for slot in range(4):
        ranking.insert(10, slot)
    assert kernels.spare(ranking.ranks) == 0
    before = [array.copy() for array in ranking.ranks]
    for key, slot in ((10, 2), (9, 0), (11, 0)):
        assert not kernels.insert(ranking.ranks, key, slot)
        assert all(np.array_equal(x, y) for x, y in zip(before, ranking.ranks, strict=True))
    ranking.insert(10, 2)  # grows
    assert len(ranking.ranks.lengths) == 2
    ranking.check()
    assert ranking.slots_in(9, 10).tolist() == [0, 1, 2, 2, 3]


def test_slots_in_counts_all_and_writes_what_fits() -> None:
    ranking = Ranking.of(keys=[5] * 9 + [7, 8], slots=list(range(11)), width=4)
    for room in (0, 1, 3, 10, 11, 20):
        out = np.full(room, -7, dtype=np.int32)
        assert kernels.slots_in(ranking.ranks, 4, 7, out) == 10
        written = min(room, 10)
        assert out[:written].tolist() == list(range(written))
        assert (out[written:] == -7).all()
    assert ranking.slots_in(5, 5).tolist() == []
    assert ranking.slots_in(7, 5).tolist() == []
    assert ranking.slots_in(LOWEST, HIGHEST).tolist() == list(range(11))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(keys, st.integers(0, 2**31 - 1)), max_size=300),
    st.sampled_from([4, 8, 512]),
    st.sampled_from([4, 16]),
)
def test_a_snapshot_restores_the_same_entries(
    entries: list[tuple[int, int]], width: int, other_width: int
) -> None:
    ranking = Ranking.of([k for k, _ in entries], [s for _, s in entries], width)
    ranking.check()
    reference = Reference()
    reference.entries = sorted(entries)
    same(ranking, reference)
    snapshot = ranking.snapshot()
    assert set(snapshot) == {"keys", "slots"}
    assert all(isinstance(array, np.ndarray) for array in snapshot.values())
    for restored in (Ranking.restore(snapshot, width), Ranking.restore(snapshot, other_width)):
        same(restored, reference)
        for key in (-1, 0, 3, HIGHEST):
            assert restored.below(key) == reference.below(key)
        if entries:
            assert restored.kth(len(entries)) == reference.kth(len(entries))
        restored.insert(0, 1)
        restored.check()


def test_loading_into_a_ranking_that_holds_entries() -> None:
    generator = np.random.default_rng(3)
    ranking = Ranking(width=8)
    reference = Reference()
    for _ in range(3):
        new_keys = generator.integers(0, 50, 200)
        new_slots = generator.integers(0, 10_000, 200)
        ranking.load(new_keys, new_slots)
        reference.entries = sorted(
            reference.entries + list(zip(new_keys.tolist(), new_slots.tolist(), strict=True))
        )
        same(ranking, reference)
    with pytest.raises(ValueError, match="int32"):
        ranking.load([1], [2**31])
    with pytest.raises(ValueError, match="length"):
        ranking.load([1, 2], [3])


def test_appended_keys_fill_blocks_three_quarters() -> None:
    ranking = Ranking(width=8, blocks=1)
    for second in range(1_000):
        ranking.insert(second, second % 7)
    ranking.check()
    assert (in_use(ranking)[:-1] == 6).all()


def test_a_drained_block_evens_out_with_or_merges_into_a_neighbour() -> None:
    ranking = Ranking(width=8)
    for second in range(30):
        ranking.insert(second, 0)
    assert in_use(ranking).tolist() == [6, 6, 6, 6, 6]

    def drain(seconds: range) -> list[int]:
        for second in seconds:
            ranking.remove(second, 0)
            ranking.check()
        return in_use(ranking).tolist()

    # The first block, down to one entry: takes from its right neighbour, too full to merge.
    assert drain(range(5)) == [3, 4, 6, 6, 6]
    # The last block: gives to its left one.
    assert drain(range(24, 29)) == [3, 4, 6, 3, 4]
    # One in the middle merges into its smaller neighbour, the right one.
    assert drain(range(12, 17)) == [3, 4, 4, 4]
    assert ranking.sorted_entries()[0].tolist() == [*range(5, 12), *range(17, 24), 29]


def test_a_block_given_fewer_entries_than_it_holds_keeps_them_in_order() -> None:
    ranking = Ranking(width=32)
    for second in range(72):
        ranking.insert(second, second)
    assert in_use(ranking).tolist() == [24, 24, 24]
    for second in [*range(24, 29), *range(48, 65)]:
        ranking.remove(second, second)
        ranking.check()
    # The last block fell to 7 and took 6 from the 19 before it.
    assert in_use(ranking).tolist() == [24, 13, 13]
    kept = [*range(24), *range(29, 48), *range(65, 72)]
    assert ranking.sorted_entries()[1].tolist() == kept


def in_use(ranking: Ranking) -> np.ndarray:
    """Lengths of the blocks in use, in order."""
    r = ranking.ranks
    return r.lengths[r.order[: r.meta[kernels.BLOCKS]]]


def test_edges() -> None:
    ranking = Ranking(width=4)
    assert ranking.below(0) == 0 and len(ranking) == 0
    with pytest.raises(IndexError):
        ranking.kth(1)
    ranking.insert(HIGHEST, 2**31 - 1)
    ranking.insert(LOWEST, 0)
    assert (ranking.below(HIGHEST), ranking.kth(1), ranking.kth(2)) == (1, LOWEST, HIGHEST)
    assert ranking.slots_in(LOWEST, HIGHEST).tolist() == [2**31 - 1]
    with pytest.raises(IndexError):
        ranking.kth(3)
    with pytest.raises(IndexError):
        ranking.kth(0)
    with pytest.raises(ValueError, match="int32"):
        ranking.insert(1, 2**31)
    with pytest.raises(ValueError, match="at least 4"):
        Ranking(width=2)
    with pytest.raises(ValueError, match="shrink"):
        ranking.grow(1)
    ranking.check()


def test_check_finds_a_last_entry_out_of_step() -> None:
    ranking = Ranking.of(keys=range(20), slots=range(20), width=4)
    ranking.ranks.last_keys[1] += 1
    with pytest.raises(AssertionError, match="last_keys"):
        ranking.check()
    ranking = Ranking.of(keys=range(20), slots=range(20), width=4)
    ranking.ranks.tree[1] += 1
    with pytest.raises(AssertionError, match="tree"):
        ranking.check()
    ranking = Ranking.of(keys=range(20), slots=range(20), width=4)
    ranking.ranks.keys[ranking.ranks.order[2], 0] = 100
    with pytest.raises(AssertionError, match="sorted"):
        ranking.check()
