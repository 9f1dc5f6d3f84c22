"""The buyers' ranks in one score dimension, compiled: an order-statistics multiset of
``(key, slot)`` entries (a key such as the last purchase in seconds, and the customer's slot).

:func:`below` counts the entries with a smaller key (the ``cdf`` of the RFM scores), :func:`kth`
gives the k-th smallest key (a tier's cut point) and :func:`slots_in` the customers whose key
lies in a range (those a moved cut point re-scores), in O(log n) (plus one step per slot
written), from inside other kernels. The entries are a sorted list cut into blocks of up to
``width`` entries, so an insert moves half a block, not half the population:

- ``keys[b, :lengths[b]]`` and ``slots[b, :lengths[b]]`` are block ``b``'s entries, sorted by
  (key, slot); ``order[:blocks]`` lists the blocks in use, smallest entries first, and every
  entry of a block comes before (or ties) every entry of the next one;
- ``last_keys[p]`` and ``last_slots[p]`` are the last entry of the block at position ``p``:
  computed only by :func:`_settle`, from the block itself, after every change to a block, and
  otherwise only moved along with ``order`` (:func:`_open`, :func:`_close`), so they cannot
  drift from the blocks;
- ``tree`` is a Fenwick tree over the blocks' lengths by position: entries before a position;
- ``free[:spare]`` are the blocks not in use, all of length 0;
- with more than one block in use, each holds at least ``width // 4`` entries (so memory stays
  within four times the entries); a sole block may be empty, so there is always one to insert
  into.

An insert into a full block splits it, taking a block from ``free``; when none is left it
changes nothing and returns False, and the caller grows the arrays
(:meth:`stream.core.ranks.Ranking.grow`) and inserts again. :func:`spare` is how many inserts
are sure to succeed. A remove that leaves a block under a quarter full merges it with a
neighbour, or evens the two out. :func:`stream.core.ranks.check` verifies every invariant.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, uint64

SIZE, BLOCKS, SPARE = range(3)
"""Positions in :attr:`Ranks.meta`: entries held, blocks in use, blocks free."""

NO_KEY = np.iinfo(np.int64).max
NO_SLOT = np.iinfo(np.int32).max
"""The last entry recorded for a sole empty block."""

ONE = uint64(1)


class Ranks(NamedTuple):
    keys: np.ndarray
    """int64 ``[capacity, width]``: each block's keys."""
    slots: np.ndarray
    """int32 ``[capacity, width]``: each block's slots."""
    lengths: np.ndarray
    """int64 ``[capacity]``: entries in each block."""
    order: np.ndarray
    """int64 ``[capacity]``: the blocks in use, in key order (the first ``meta[BLOCKS]``)."""
    last_keys: np.ndarray
    """int64 ``[capacity]``: by position in ``order``, the key of the block's last entry."""
    last_slots: np.ndarray
    """int32 ``[capacity]``: by position in ``order``, the slot of the block's last entry."""
    tree: np.ndarray
    """int64 ``[2**m + 1]`` with ``2**m >= capacity``: Fenwick tree of lengths by position."""
    free: np.ndarray
    """int64 ``[capacity]``: the blocks not in use (the first ``meta[SPARE]``)."""
    meta: np.ndarray
    """int64 ``[3]``: entries, blocks in use, blocks free."""


@njit(cache=True)
def size(r: Ranks) -> int:
    """Entries held."""
    return r.meta[SIZE]


@njit(cache=True)
def spare(r: Ranks) -> int:
    """Free blocks: an insert takes at most one, so this many inserts cannot fail."""
    return r.meta[SPARE]


@njit(cache=True)
def below(r: Ranks, key: int) -> int:
    """Entries whose key is strictly smaller than ``key``."""
    blocks = r.meta[BLOCKS]
    pos = _position_from(r.last_keys, blocks, key)
    if pos == blocks:
        return r.meta[SIZE]
    b = r.order[pos]
    return _prefix(r.tree, pos) + _index_from(r.keys, b, r.lengths[b], key)


@njit(cache=True)
def kth(r: Ranks, k: int) -> int:
    """The key of the k-th smallest entry, for ``1 <= k <= size``."""
    if k < 1 or k > r.meta[SIZE]:
        raise IndexError("kth: k is not in 1..size")
    tree = r.tree
    step = len(tree) - 1
    pos = 0
    # Descend to the last position whose entries before it number fewer than k.
    while step:
        node = pos + step
        if tree[node] < k:
            pos = node
            k -= tree[node]
        step >>= 1
    return r.keys[r.order[pos], k - 1]


@njit(cache=True)
def slots_in(r: Ranks, low: int, high: int, out: np.ndarray) -> int:
    """Writes the slots of the entries with ``low < key <= high`` into ``out``, in key order,
    and returns how many there are: when ``out`` is too small, only what fits is written, so
    the caller can grow it and ask again."""
    if high <= low:
        return 0
    blocks, order, lengths = r.meta[BLOCKS], r.order, r.lengths
    # The first entry above low, and the first above high (high + 1 overflows at the top).
    pos = _position_from(r.last_keys, blocks, low + 1)
    i = _index_from(r.keys, order[pos], lengths[order[pos]], low + 1) if pos < blocks else 0
    end, end_i = blocks, 0
    if high < NO_KEY:
        end = _position_from(r.last_keys, blocks, high + 1)
        if end < blocks:
            end_i = _index_from(r.keys, order[end], lengths[order[end]], high + 1)
    count = _prefix(r.tree, end) + end_i - _prefix(r.tree, pos) - i
    room = min(count, len(out))
    written = 0
    while written < room:
        b = order[pos]
        take = min(lengths[b] - i, room - written)
        for j in range(take):
            out[written + j] = r.slots[b, i + j]
        written += take
        pos += 1
        i = 0
    return count


@njit(cache=True)
def insert(r: Ranks, key: int, slot: int) -> bool:
    """Adds the entry; False, changing nothing, when a full block must split and no free
    block is left."""
    pos = _position_of(r.last_keys, r.last_slots, r.meta[BLOCKS] - 1, key, slot)
    b = r.order[pos]
    n = r.lengths[b]
    i = _index_of(r.keys, r.slots, b, n, key, slot)
    if n == r.keys.shape[1]:
        return _split(r, pos, i, key, slot)
    _put(r.keys, r.slots, b, n, i, key, slot)
    r.lengths[b] = n + 1
    _settle(r, pos)
    _add(r.tree, pos, 1)
    r.meta[SIZE] += 1
    return True


@njit(cache=True)
def remove(r: Ranks, key: int, slot: int) -> bool:
    """Removes one entry equal to ``(key, slot)``; False, changing nothing, when there is
    none."""
    pos = _position_of(r.last_keys, r.last_slots, r.meta[BLOCKS] - 1, key, slot)
    b = r.order[pos]
    n = r.lengths[b]
    i = _index_of(r.keys, r.slots, b, n, key, slot)
    if i == n or r.keys[b, i] != key or r.slots[b, i] != slot:
        return False
    _take(r.keys, r.slots, b, n, i)
    r.lengths[b] = n - 1
    _settle(r, pos)
    _add(r.tree, pos, -1)
    r.meta[SIZE] -= 1
    if n - 1 < max(1, r.keys.shape[1] // 4) and r.meta[BLOCKS] > 1:
        _rebalance(r, pos)
    return True


@njit(cache=True)
def load(r: Ranks, keys: np.ndarray, slots: np.ndarray) -> None:
    """Makes ``r`` hold exactly these entries, which must be sorted by (key, slot), spread
    evenly over full blocks; ``r`` must have room for them (:func:`blocks_for`)."""
    width = r.keys.shape[1]
    capacity = r.keys.shape[0]
    n = len(keys)
    blocks = blocks_for(n, width)
    base = n // blocks
    extra = n % blocks
    at = 0
    for p in range(blocks):
        m = base + 1 if p < extra else base
        for j in range(m):
            r.keys[p, j] = keys[at + j]
            r.slots[p, j] = slots[at + j]
        at += m
        r.lengths[p] = m
        r.order[p] = p
        _settle(r, p)
    spare = 0
    for b in range(capacity - 1, blocks - 1, -1):
        r.lengths[b] = 0
        r.free[spare] = b
        spare += 1
    r.meta[SIZE] = n
    r.meta[BLOCKS] = blocks
    r.meta[SPARE] = spare
    rebuild(r)


@njit(cache=True)
def blocks_for(entries: int, width: int) -> int:
    """Blocks :func:`load` fills with this many entries."""
    return max(1, (entries + width - 1) // width)


@njit(cache=True)
def entries(r: Ranks, keys: np.ndarray, slots: np.ndarray) -> None:
    """Writes every entry, in order, into ``keys`` and ``slots`` (``size`` long)."""
    at = 0
    for p in range(r.meta[BLOCKS]):
        b = r.order[p]
        for j in range(r.lengths[b]):
            keys[at] = r.keys[b, j]
            slots[at] = r.slots[b, j]
            at += 1


# Locating. The searches take arrays and numbers, not the tuple: numba increfs and decrefs
# every array of a tuple passed to a kernel with a loop, nine here, and that cost more than the
# search (below() took 100 ns, not 30, on cached blocks).


@njit(cache=True)
def _position_from(last_keys: np.ndarray, blocks: int, key: int) -> int:
    """Position of the first block whose last key is at least ``key``; ``blocks`` if none."""
    base, n = 0, blocks
    while n > 1:
        half = n >> 1
        base = base + half if last_keys[base + half] < key else base
        n -= half
    return base + 1 if last_keys[base] < key else base


@njit(cache=True)
def _index_from(keys: np.ndarray, b: int, n: int, key: int) -> int:
    """Index of the first of block ``b``'s ``n`` keys that is at least ``key``; ``n`` if none."""
    if n == 0:
        return 0
    base = 0
    while n > 1:
        half = n >> 1
        base = base + half if keys[b, base + half] < key else base
        n -= half
    return base + 1 if keys[b, base] < key else base


@njit(cache=True)
def _position_of(last_keys: np.ndarray, last_slots: np.ndarray, n: int, key: int, slot: int) -> int:
    """Position of the first of the first ``n`` blocks whose last entry is not before
    ``(key, slot)``, or ``n``: with ``n = blocks - 1``, the block that holds the entry if any,
    and where it belongs otherwise."""
    base = 0
    if n == 0:
        return 0
    while n > 1:
        half = n >> 1
        k, s = last_keys[base + half], last_slots[base + half]
        base = base + half if (k < key) | ((k == key) & (s < slot)) else base
        n -= half
    k, s = last_keys[base], last_slots[base]
    return base + 1 if (k < key) | ((k == key) & (s < slot)) else base


@njit(cache=True)
def _index_of(keys: np.ndarray, slots: np.ndarray, b: int, n: int, key: int, slot: int) -> int:
    """Index of the first of block ``b``'s ``n`` entries not before ``(key, slot)``."""
    if n == 0:
        return 0
    base = 0
    while n > 1:
        half = n >> 1
        k, s = keys[b, base + half], slots[b, base + half]
        base = base + half if (k < key) | ((k == key) & (s < slot)) else base
        n -= half
    k, s = keys[b, base], slots[b, base]
    return base + 1 if (k < key) | ((k == key) & (s < slot)) else base


# Counting


@njit(cache=True)
def _prefix(tree: np.ndarray, pos: int) -> int:
    """Entries in the blocks before position ``pos``."""
    found = 0
    while pos > 0:
        found += tree[pos]
        pos &= pos - 1
    return found


@njit(cache=True)
def _add(tree: np.ndarray, pos: int, delta: int) -> None:
    top = len(tree) - 1
    node = pos + 1
    while node <= top:
        tree[node] += delta
        node += node & -node


@njit(cache=True)
def rebuild(r: Ranks) -> None:
    """Recomputes ``tree`` from the blocks' lengths, in O(capacity): after a split, a merge,
    a load or growing the arrays."""
    tree = r.tree
    top = len(tree) - 1
    tree[:] = 0
    for p in range(r.meta[BLOCKS]):
        tree[p + 1] = r.lengths[r.order[p]]
    for node in range(1, top + 1):
        parent = node + (node & -node)
        if parent <= top:
            tree[parent] += tree[node]


# Changing blocks


@njit(cache=True)
def _settle(r: Ranks, pos: int) -> None:
    """Records the last entry of the block at ``pos``: the one place it is ever written."""
    b = r.order[pos]
    n = r.lengths[b]
    if n:
        r.last_keys[pos] = r.keys[b, n - 1]
        r.last_slots[pos] = r.slots[b, n - 1]
    else:
        r.last_keys[pos] = NO_KEY
        r.last_slots[pos] = NO_SLOT


@njit(cache=True)
def _put(keys: np.ndarray, slots: np.ndarray, b: int, n: int, i: int, key: int, slot: int) -> None:
    """Inserts at index ``i`` of block ``b``, which holds ``n < width`` entries."""
    # Unsigned indices, one array at a time: numba then drops its check for negative
    # indices and LLVM moves the entries as a vector copy, four times faster.
    for t in range(n - i):
        j = uint64(n - t)
        keys[b, j] = keys[b, j - ONE]
    for t in range(n - i):
        j = uint64(n - t)
        slots[b, j] = slots[b, j - ONE]
    keys[b, i] = key
    slots[b, i] = slot


@njit(cache=True)
def _take(keys: np.ndarray, slots: np.ndarray, b: int, n: int, i: int) -> None:
    """Removes index ``i`` of block ``b``, which holds ``n`` entries."""
    for j in range(uint64(i), uint64(n - 1)):
        keys[b, j] = keys[b, j + ONE]
    for j in range(uint64(i), uint64(n - 1)):
        slots[b, j] = slots[b, j + ONE]


@njit(cache=True)
def _split(r: Ranks, pos: int, i: int, key: int, slot: int) -> bool:
    """Inserts at index ``i`` of the full block at ``pos`` by cutting it in two."""
    if r.meta[SPARE] == 0:
        return False
    width = r.keys.shape[1]
    keys, slots = r.keys, r.slots
    b = r.order[pos]
    # Keys such as purchase times arrive in order: appending past the last entry leaves the
    # old block three quarters full, not half, since nothing more will land in it.
    appending = pos == r.meta[BLOCKS] - 1 and i == width
    cut = width - width // 4 if appending else width // 2
    r.meta[SPARE] -= 1
    new = r.free[r.meta[SPARE]]
    moved = width - cut
    for j in range(moved):
        keys[new, j] = keys[b, cut + j]
        slots[new, j] = slots[b, cut + j]
    if i > cut:
        _put(keys, slots, new, moved, i - cut, key, slot)
        r.lengths[b], r.lengths[new] = cut, moved + 1
    else:
        _put(keys, slots, b, cut, i, key, slot)
        r.lengths[b], r.lengths[new] = cut + 1, moved
    _open(r, pos + 1, new)
    _settle(r, pos)
    _settle(r, pos + 1)
    rebuild(r)
    r.meta[SIZE] += 1
    return True


@njit(cache=True)
def _open(r: Ranks, pos: int, b: int) -> None:
    """Puts block ``b`` in use at position ``pos``, moving the later ones up."""
    blocks = r.meta[BLOCKS]
    for p in range(blocks, pos, -1):
        r.order[p] = r.order[p - 1]
        r.last_keys[p] = r.last_keys[p - 1]
        r.last_slots[p] = r.last_slots[p - 1]
    r.order[pos] = b
    r.meta[BLOCKS] = blocks + 1


@njit(cache=True)
def _close(r: Ranks, pos: int) -> None:
    """Frees the (empty) block at position ``pos``, moving the later ones down."""
    blocks = r.meta[BLOCKS] - 1
    r.free[r.meta[SPARE]] = r.order[pos]
    r.meta[SPARE] += 1
    for p in range(pos, blocks):
        r.order[p] = r.order[p + 1]
        r.last_keys[p] = r.last_keys[p + 1]
        r.last_slots[p] = r.last_slots[p + 1]
    r.meta[BLOCKS] = blocks


@njit(cache=True)
def _rebalance(r: Ranks, pos: int) -> None:
    """The block at ``pos`` fell under a quarter full: merge it into a neighbour (the smaller
    one), or, when the two would not fit in three quarters of a block, share their entries
    evenly, so that neither needs fixing again for another eighth of a block of changes."""
    width = r.keys.shape[1]
    blocks = r.meta[BLOCKS]
    if pos == 0:
        left = 0
    elif pos == blocks - 1 or r.lengths[r.order[pos - 1]] <= r.lengths[r.order[pos + 1]]:
        left = pos - 1
    else:
        left = pos
    a, c = r.order[left], r.order[left + 1]
    keys, slots = r.keys, r.slots
    la, lc = r.lengths[a], r.lengths[c]
    total = la + lc
    if total <= width - width // 4:
        for j in range(lc):
            keys[a, la + j] = keys[c, j]
            slots[a, la + j] = slots[c, j]
        r.lengths[a] = total
        r.lengths[c] = 0
        _close(r, left + 1)
        _settle(r, left)
        rebuild(r)
        return
    half = total // 2
    if la < half:
        moved = half - la
        for j in range(moved):
            keys[a, la + j] = keys[c, j]
            slots[a, la + j] = slots[c, j]
        for j in range(lc - moved):
            keys[c, j] = keys[c, j + moved]
            slots[c, j] = slots[c, j + moved]
    else:
        moved = la - half
        for j in range(lc - 1, -1, -1):
            keys[c, j + moved] = keys[c, j]
            slots[c, j + moved] = slots[c, j]
        for j in range(moved):
            keys[c, j] = keys[a, half + j]
            slots[c, j] = slots[a, half + j]
    r.lengths[a] = half
    r.lengths[c] = total - half
    _settle(r, left)
    _settle(r, left + 1)
    _add(r.tree, left, half - la)
    _add(r.tree, left + 1, total - half - lc)
