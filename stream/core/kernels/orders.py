"""Orders inside the rolling window, compiled (the rules of :mod:`stream.core.rfm`).

Each customer's orders are a linked list in a shared pool, oldest filed first, so that sums
run in the order the Python rules add them. An entry is an order id's hash with its time,
spend less refunds and purchase count; refunds are filed under the order they name.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit


class Orders(NamedTuple):
    ts: np.ndarray
    spend: np.ndarray
    bought: np.ndarray
    """float64: purchases of the order (0 while only its refunds have come)."""
    key: np.ndarray
    """int64: the order id's hash."""
    next: np.ndarray
    """int32: the customer's next order, or the next free entry; -1: none."""
    free: np.ndarray
    """int64 (2,): first free entry (-1: none), entries in use."""

    @classmethod
    def empty(cls, capacity: int) -> Orders:
        chain = np.arange(1, capacity + 1, dtype=np.int32)
        if capacity:
            chain[-1] = -1
        return cls(
            np.zeros(capacity),
            np.zeros(capacity),
            np.zeros(capacity),
            np.zeros(capacity, np.int64),
            chain,
            np.array([0 if capacity else -1, 0], np.int64),
        )

    def room(self) -> int:
        return len(self.ts) - int(self.free[1])

    def grown(self, capacity: int) -> Orders:
        bigger = Orders.empty(capacity)
        n = len(self.ts)
        for old, new in zip(self[:5], bigger[:5], strict=True):
            new[:n] = old
        # The new entries lead the free chain, followed by the old free ones.
        if capacity > n:
            bigger.next[capacity - 1] = self.free[0]
            bigger.free[0] = n
        else:
            bigger.free[0] = self.free[0]
        bigger.free[1] = self.free[1]
        return bigger


@njit(cache=True)
def file(o: Orders, c, i: int, key: int, ts: float, amount: float, refund: bool) -> None:  # type: ignore[no-untyped-def]
    """Add a purchase or refund to its order's entry (``rfm._file``)."""
    e = c.order_head[i]
    while e >= 0 and o.key[e] != key:
        e = o.next[e]
    if e < 0:
        e = o.free[0]
        o.free[0] = o.next[e]
        o.free[1] += 1
        o.ts[e] = ts
        o.spend[e] = amount
        o.bought[e] = 0.0 if refund else 1.0
        o.key[e] = key
        o.next[e] = -1
        if c.order_tail[i] >= 0:
            o.next[c.order_tail[i]] = e
        else:
            c.order_head[i] = e
        c.order_tail[i] = e
        return
    if refund:
        if o.bought[e] == 0.0 and ts < o.ts[e]:
            o.ts[e] = ts
    else:
        if o.bought[e] == 0.0 or ts < o.ts[e]:
            o.ts[e] = ts
        o.bought[e] += 1.0
    o.spend[e] += amount


@njit(cache=True)
def expire(o: Orders, c, i: int, now: float, window_s: float) -> bool:  # type: ignore[no-untyped-def]
    """Drop the orders that left the window; True if any did (then recounted)."""
    start = now - window_s
    e = c.order_head[i]
    previous = -1
    dropped = False
    while e >= 0:
        following = o.next[e]
        if o.ts[e] > start:
            previous = e
        else:
            dropped = True
            if previous >= 0:
                o.next[previous] = following
            else:
                c.order_head[i] = following
            o.next[e] = o.free[0]
            o.free[0] = e
            o.free[1] -= 1
        e = following
    c.order_tail[i] = previous
    if dropped:
        recount(o, c, i)
    return dropped


@njit(cache=True)
def recount(o: Orders, c, i: int) -> None:  # type: ignore[no-untyped-def]
    frequency = 0.0
    monetary = 0.0
    e = c.order_head[i]
    while e >= 0:
        frequency += o.bought[e]
        if o.bought[e] and o.spend[e] > 0.0:
            monetary += o.spend[e]
        e = o.next[e]
    c.frequency[i] = int(frequency)
    c.monetary[i] = monetary


@njit(cache=True)
def next_expiry(o: Orders, c, i: int, window_s: float) -> float:  # type: ignore[no-untyped-def]
    e = c.order_head[i]
    first = math.inf
    while e >= 0:
        if o.ts[e] < first:
            first = o.ts[e]
        e = o.next[e]
    return first + window_s
