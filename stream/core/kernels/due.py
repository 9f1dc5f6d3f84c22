"""Who is due when: per partition, a binary heap of (due time, customer hash, slot).

Rescheduling pushes a new entry and leaves the old one behind; an entry counts only while
it matches the row's ``next_due`` (:func:`pop`), so a reschedule costs one push, and
:func:`compact` drops the stale ones when they outnumber the live. Customers due at the same
instant come out in the order of their id hash, which does not depend on slots, arrival
order or which worker holds them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class Heaps(NamedTuple):
    due: np.ndarray
    """float64 (partitions, capacity)"""
    tie: np.ndarray
    """int64 (partitions, capacity): the customer's id hash."""
    slot: np.ndarray
    """int32 (partitions, capacity)"""
    size: np.ndarray
    """int64 (partitions,)"""

    @classmethod
    def empty(cls, partitions: int, capacity: int) -> Heaps:
        return cls(
            np.zeros((partitions, capacity)),
            np.zeros((partitions, capacity), np.int64),
            np.zeros((partitions, capacity), np.int32),
            np.zeros(partitions, np.int64),
        )

    def room(self) -> int:
        """Pushes that fit in the fullest partition."""
        return int(self.due.shape[1] - self.size.max()) if len(self.size) else 0

    def grown(self, partitions: int, capacity: int) -> Heaps:
        bigger = Heaps.empty(partitions, capacity)
        rows, width = self.due.shape
        bigger.due[:rows, :width] = self.due
        bigger.tie[:rows, :width] = self.tie
        bigger.slot[:rows, :width] = self.slot
        bigger.size[:rows] = self.size
        return bigger


@njit(cache=True)
def _before(h: Heaps, p: int, a: int, b: int) -> bool:
    da, db = h.due[p, a], h.due[p, b]
    return da < db or (da == db and h.tie[p, a] < h.tie[p, b])


@njit(cache=True)
def _swap(h: Heaps, p: int, a: int, b: int) -> None:
    h.due[p, a], h.due[p, b] = h.due[p, b], h.due[p, a]
    h.tie[p, a], h.tie[p, b] = h.tie[p, b], h.tie[p, a]
    h.slot[p, a], h.slot[p, b] = h.slot[p, b], h.slot[p, a]


@njit(cache=True)
def push(h: Heaps, p: int, due: float, tie: int, slot: int) -> None:
    i = h.size[p]
    h.size[p] = i + 1
    h.due[p, i] = due
    h.tie[p, i] = tie
    h.slot[p, i] = slot
    while i > 0:
        parent = (i - 1) // 2
        if not _before(h, p, i, parent):
            break
        _swap(h, p, i, parent)
        i = parent


@njit(cache=True)
def _sift_down(h: Heaps, p: int, i: int) -> None:
    n = h.size[p]
    while True:
        child = 2 * i + 1
        if child >= n:
            return
        if child + 1 < n and _before(h, p, child + 1, child):
            child += 1
        if not _before(h, p, child, i):
            return
        _swap(h, p, i, child)
        i = child


@njit(cache=True)
def pop(h: Heaps, p: int, now: float, next_due) -> int:  # type: ignore[no-untyped-def]
    """The next live entry due at or before ``now`` (its slot, removed), or -1."""
    while h.size[p] > 0 and h.due[p, 0] <= now:
        slot = h.slot[p, 0]
        live = next_due[slot] == h.due[p, 0]
        last = h.size[p] - 1
        h.size[p] = last
        if last > 0:
            _swap(h, p, 0, last)
            _sift_down(h, p, 0)
        if live:
            return slot
    return -1


@njit(cache=True)
def compact(h: Heaps, p: int, next_due, partition) -> None:  # type: ignore[no-untyped-def]
    """Drop the entries that no longer match their row's due time."""
    kept = 0
    for i in range(h.size[p]):
        slot = h.slot[p, i]
        if next_due[slot] == h.due[p, i] and partition[slot] == p:
            h.due[p, kept] = h.due[p, i]
            h.tie[p, kept] = h.tie[p, i]
            h.slot[p, kept] = slot
            kept += 1
    h.size[p] = kept
    for i in range(kept // 2 - 1, -1, -1):
        _sift_down(h, p, i)
