"""Churn snapshots waiting for their label (see :mod:`stream.core.churn`), compiled.

A snapshot is a customer's features at the instant it was taken. It is labelled ``0`` when
they buy within the horizon and ``1`` otherwise, and learnt once the clock of its partition
passes ``taken + horizon`` either way. Per partition they wait in one queue in the order
taken, which is the order of their instants (a partition evaluates at instants that never go
back), so the oldest is always at the head: a clock advance hands the learner every snapshot
whose horizon it passed, oldest first. The pool holds at most its capacity (``max_pending``);
a snapshot that does not fit is counted, not taken.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

OPEN, DROPPED = -1, -2
FEATURES = 16
SNAPSHOTS, SKIPPED_FULL, DROPPED_STALE, PENDING = range(4)
"""Positions in ``counts``."""


class Snapshots(NamedTuple):
    taken: np.ndarray
    values: np.ndarray
    """float64 (capacity, FEATURES)"""
    label: np.ndarray
    """int8: OPEN, 0 (bought within the horizon), 1 (did not), DROPPED (a late purchase
    from before it came: its features missed it)."""
    slot: np.ndarray
    next: np.ndarray
    """int32: the next in its partition's queue, or the next free entry; -1: none."""
    head: np.ndarray
    """int32 (partitions,): oldest of each queue, -1: empty."""
    tail: np.ndarray
    counts: np.ndarray
    """int64: snapshots taken, skipped (pool full), dropped stale, pending; then the first free
    entry."""

    @classmethod
    def empty(cls, capacity: int, partitions: int) -> Snapshots:
        chain = np.arange(1, capacity + 1, dtype=np.int32)
        if capacity:
            chain[-1] = -1
        counts = np.zeros(5, np.int64)
        counts[4] = 0 if capacity else -1
        return cls(
            np.zeros(capacity),
            np.zeros((capacity, FEATURES)),
            np.zeros(capacity, np.int8),
            np.zeros(capacity, np.int32),
            chain,
            np.full(partitions, -1, np.int32),
            np.full(partitions, -1, np.int32),
            counts,
        )

    def grown(self, partitions: int) -> Snapshots:
        more = partitions - len(self.head)
        return self._replace(
            head=np.concatenate([self.head, np.full(more, -1, np.int32)]),
            tail=np.concatenate([self.tail, np.full(more, -1, np.int32)]),
        )


@njit(cache=True)
def take(s: Snapshots, p: int, slot: int, now: float, values) -> int:  # type: ignore[no-untyped-def]
    """File a snapshot (open); its index, or -1 if the pool is full."""
    e = s.counts[4]
    if e < 0:
        s.counts[SKIPPED_FULL] += 1
        return -1
    s.counts[4] = s.next[e]
    s.taken[e] = now
    s.values[e, :] = values
    s.label[e] = OPEN
    s.slot[e] = slot
    s.next[e] = -1
    if s.tail[p] >= 0:
        s.next[s.tail[p]] = e
    else:
        s.head[p] = e
    s.tail[p] = e
    s.counts[SNAPSHOTS] += 1
    s.counts[PENDING] += 1
    return e


@njit(cache=True)
def decide(s: Snapshots, e: int, purchase_ts: float, horizon_s: float) -> None:
    """The customer bought at ``purchase_ts``: label their open snapshot."""
    if purchase_ts < s.taken[e]:
        s.label[e] = DROPPED
        s.counts[DROPPED_STALE] += 1
        s.counts[PENDING] -= 1
    else:
        s.label[e] = 1 if purchase_ts > s.taken[e] + horizon_s else 0


@njit(cache=True)
def due(s: Snapshots, p: int, until: float) -> bool:
    """Whether a snapshot of partition ``p`` taken at or before ``until`` waits."""
    return s.head[p] >= 0 and s.taken[s.head[p]] <= until


@njit(cache=True)
def pop_due(s: Snapshots, p: int, until: float, out, c) -> int:  # type: ignore[no-untyped-def]
    """Move the snapshots taken at or before ``until`` out of the queue: their indices into
    ``out`` (learn them, in this order, before the pool is used again), their count; an open
    one is labelled 1 and its row no longer holds it. Dropped ones are freed, not listed."""
    n = 0
    while s.head[p] >= 0 and s.taken[s.head[p]] <= until:
        e = s.head[p]
        s.head[p] = s.next[e]
        if s.head[p] < 0:
            s.tail[p] = -1
        if s.label[e] != DROPPED:
            s.counts[PENDING] -= 1
        if s.label[e] == OPEN:
            s.label[e] = 1
            c.snapshot[s.slot[e]] = -1
        if s.label[e] != DROPPED:
            out[n] = e
            n += 1
        s.next[e] = s.counts[4]
        s.counts[4] = e
    return n
