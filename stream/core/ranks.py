"""The buyers' ranks in one score dimension: a multiset of ``(key, slot)`` entries that says
how many keys lie below a value, which key is the k-th, and whose keys lie in a range.

The work is done by the kernels of :mod:`stream.core.kernels.ranks`, which the engine's own
kernels call on :attr:`Ranking.ranks`; this class is what Python needs around them: loading
many entries at once, growing the arrays when an insert runs out of blocks, snapshots, and
:func:`check`, which verifies every invariant the kernels keep.

>>> ranking = Ranking.of(keys=[30, 10, 20, 20], slots=[0, 1, 2, 3])
>>> ranking.below(20), ranking.below(21), ranking.kth(4), len(ranking)
(1, 3, 30, 4)
>>> ranking.insert(20, 7)
>>> ranking.remove(10, 1)
>>> ranking.slots_in(10, 20).tolist()
[2, 3, 7]
>>> ranking.sorted_entries()[0].tolist()
[20, 20, 20, 30]
>>> Ranking.restore(ranking.snapshot()).kth(1)
20
"""

from __future__ import annotations

import numpy as np

from stream.core.kernels import ranks as kernels
from stream.core.kernels.ranks import BLOCKS, NO_KEY, NO_SLOT, SIZE, SPARE, Ranks

WIDTH = 512
"""Entries per block: an insert or remove moves half a block's entries and a query searches one
block, but every split or merge moves the positions of all blocks. At a million entries with
random keys 512 moved a customer (remove and insert) in about 1.5 us, 1024 in 2.3 us and 256
in 1.7 us."""

_GROWTH = 1.5
_SLOTS = np.iinfo(np.int32)


class Ranking:
    __slots__ = ("ranks",)

    def __init__(self, width: int = WIDTH, blocks: int = 4) -> None:
        """An empty ranking with room for ``blocks`` blocks of ``width`` entries."""
        self.ranks = _allocate(width, blocks)
        """The arrays the kernels work on; replaced when the ranking grows."""
        kernels.load(self.ranks, _no_keys(), _no_slots())

    @classmethod
    def of(cls, keys: object, slots: object, width: int = WIDTH) -> Ranking:
        """A ranking of these entries, in any order."""
        ranking = cls(width)
        ranking.load(keys, slots)
        return ranking

    @property
    def width(self) -> int:
        return int(self.ranks.keys.shape[1])

    def __len__(self) -> int:
        return int(self.ranks.meta[SIZE])

    @property
    def nbytes(self) -> int:
        return sum(int(array.nbytes) for array in self.ranks)

    def insert(self, key: int, slot: int) -> None:
        if not _SLOTS.min <= slot <= _SLOTS.max:
            raise ValueError(f"slot {slot} does not fit in int32")
        while not kernels.insert(self.ranks, key, slot):
            self.grow()

    def remove(self, key: int, slot: int) -> None:
        if not kernels.remove(self.ranks, key, slot):
            raise KeyError((key, slot))

    def below(self, key: int) -> int:
        """Entries whose key is strictly smaller than ``key``."""
        return int(kernels.below(self.ranks, key))

    def kth(self, k: int) -> int:
        """The key of the k-th smallest entry, for ``1 <= k <= len(self)``."""
        return int(kernels.kth(self.ranks, k))

    def slots_in(self, low: int, high: int) -> np.ndarray:
        """Slots of the entries with ``low < key <= high``, in key order."""
        out = np.empty(16, dtype=np.int32)
        count = kernels.slots_in(self.ranks, low, high, out)
        if count > len(out):
            out = np.empty(count, dtype=np.int32)
            kernels.slots_in(self.ranks, low, high, out)
        return out[:count]

    def load(self, keys: object, slots: object) -> None:
        """Adds many entries at once, in any order: the whole ranking is rebuilt, in full
        blocks, in O(n) when they come sorted by (key, slot) and O(n log n) otherwise."""
        new_keys = np.asarray(keys, dtype=np.int64).ravel()
        new_slots = np.asarray(slots).ravel()
        if len(new_keys) != len(new_slots):
            raise ValueError("keys and slots differ in length")
        if len(new_slots) and (new_slots.min() < _SLOTS.min or new_slots.max() > _SLOTS.max):
            raise ValueError("slots do not fit in int32")
        new_slots = new_slots.astype(np.int32)
        if len(self):
            old_keys, old_slots = self.sorted_entries()
            new_keys = np.concatenate((old_keys, new_keys))
            new_slots = np.concatenate((old_slots, new_slots))
        if not _is_sorted(new_keys, new_slots):
            order = np.lexsort((new_slots, new_keys))
            new_keys, new_slots = new_keys[order], new_slots[order]
        needed = int(kernels.blocks_for(len(new_keys), self.width))
        self.ranks = _allocate(self.width, needed + needed // 4 + 1)
        kernels.load(self.ranks, new_keys, new_slots)

    def sorted_entries(self) -> tuple[np.ndarray, np.ndarray]:
        """Every entry's key and slot, sorted by (key, slot)."""
        keys = np.empty(len(self), dtype=np.int64)
        slots = np.empty(len(self), dtype=np.int32)
        kernels.entries(self.ranks, keys, slots)
        return keys, slots

    def snapshot(self) -> dict[str, np.ndarray]:
        """The entries as plain arrays (``keys``, ``slots``), sorted: what a store keeps. The
        blocks are not part of it, so a ranking restores with any width."""
        keys, slots = self.sorted_entries()
        return {"keys": keys, "slots": slots}

    @classmethod
    def restore(cls, snapshot: dict[str, np.ndarray], width: int = WIDTH) -> Ranking:
        return cls.of(snapshot["keys"], snapshot["slots"], width)

    def grow(self, blocks: int | None = None) -> None:
        """Room for ``blocks`` blocks in all (by default half as many again as now)."""
        old = self.ranks
        capacity = len(old.lengths)
        wanted = max(capacity + 1, int(capacity * _GROWTH)) if blocks is None else blocks
        if wanted < capacity:
            raise ValueError(f"cannot shrink from {capacity} to {wanted} blocks")
        new = _allocate(self.width, wanted)
        new.keys[:capacity] = old.keys
        new.slots[:capacity] = old.slots
        new.lengths[:capacity] = old.lengths
        used, spare = int(old.meta[BLOCKS]), int(old.meta[SPARE])
        new.order[:used] = old.order[:used]
        new.last_keys[:used] = old.last_keys[:used]
        new.last_slots[:used] = old.last_slots[:used]
        new.free[:spare] = old.free[:spare]
        new.free[spare : spare + wanted - capacity] = np.arange(capacity, wanted)
        new.meta[:] = old.meta
        new.meta[SPARE] = spare + wanted - capacity
        kernels.rebuild(new)
        self.ranks = new

    def check(self) -> None:
        check(self.ranks)


def check(r: Ranks) -> None:
    """Raises AssertionError, saying which, when an invariant of the arrays does not hold
    (see :mod:`stream.core.kernels.ranks`). Written apart from the kernels, in numpy."""

    def require(holds: object, what: str) -> None:
        if not holds:
            raise AssertionError(f"ranks: {what}")

    capacity, width = r.keys.shape
    require(width >= 4, f"width {width} < 4")
    require(r.keys.dtype == np.int64 and r.slots.dtype == np.int32, "entry dtypes")
    require(r.slots.shape == r.keys.shape, "keys and slots shapes differ")
    require(r.keys.flags.c_contiguous and r.slots.flags.c_contiguous, "blocks not contiguous")
    for name in ("lengths", "order", "last_keys", "last_slots", "free"):
        require(len(getattr(r, name)) == capacity, f"{name} is not one per block")
    top = len(r.tree) - 1
    require(top >= capacity and top & (top - 1) == 0, f"tree of {top} for {capacity} blocks")
    size, used, spare = (int(value) for value in r.meta)
    require(1 <= used <= capacity, f"{used} blocks in use of {capacity}")
    require(used + spare == capacity, f"{used} in use + {spare} free != {capacity}")
    order, free = r.order[:used], r.free[:spare]
    every = np.sort(np.concatenate((order, free)))
    require(np.array_equal(every, np.arange(capacity)), "blocks in use and free overlap")
    lengths = r.lengths[order]
    require(not r.lengths[free].any(), "a free block holds entries")
    require(((lengths >= 0) & (lengths <= width)).all(), "a block length outside 0..width")
    require(int(lengths.sum()) == size, f"blocks hold {lengths.sum()} entries, size {size}")
    if used > 1:
        least = int(lengths.min())
        require(least >= max(1, width // 4), f"a block of {least} among {used}")
    held = np.arange(width) < lengths[:, None]
    keys, slots = r.keys[order][held], r.slots[order][held]
    require(_is_sorted(keys, slots), "entries not sorted by (key, slot)")
    if size:
        ends = np.cumsum(lengths) - 1
        last_keys, last_slots = keys[ends], slots[ends]
    else:
        last_keys, last_slots = np.array([NO_KEY]), np.array([NO_SLOT])
    require(np.array_equal(r.last_keys[:used], last_keys), "last_keys out of step")
    require(np.array_equal(r.last_slots[:used], last_slots), "last_slots out of step")
    before = np.zeros(top + 1, dtype=np.int64)
    before[1 : used + 1] = np.cumsum(lengths)
    before[used + 1 :] = size
    nodes = np.arange(1, top + 1)
    expected = before[nodes] - before[nodes - (nodes & -nodes)]
    require(np.array_equal(r.tree[1:], expected), "tree does not count the blocks")


def _allocate(width: int, blocks: int) -> Ranks:
    if width < 4:
        raise ValueError(f"blocks of {width} entries: at least 4 are needed")
    blocks = max(blocks, 1)
    top = 1
    while top < blocks:
        top *= 2
    return Ranks(
        keys=np.zeros((blocks, width), dtype=np.int64),
        slots=np.zeros((blocks, width), dtype=np.int32),
        lengths=np.zeros(blocks, dtype=np.int64),
        order=np.zeros(blocks, dtype=np.int64),
        last_keys=np.full(blocks, NO_KEY, dtype=np.int64),
        last_slots=np.full(blocks, NO_SLOT, dtype=np.int32),
        tree=np.zeros(top + 1, dtype=np.int64),
        free=np.zeros(blocks, dtype=np.int64),
        meta=np.zeros(3, dtype=np.int64),
    )


def _is_sorted(keys: np.ndarray, slots: np.ndarray) -> bool:
    """Whether the entries are in (key, slot) order."""
    later, earlier = keys[1:], keys[:-1]
    return bool(((later > earlier) | ((later == earlier) & (slots[1:] >= slots[:-1]))).all())


def _no_keys() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


def _no_slots() -> np.ndarray:
    return np.empty(0, dtype=np.int32)
