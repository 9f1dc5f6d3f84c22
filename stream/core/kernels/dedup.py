"""The bounded de-duplication window: the last ``capacity`` event ids seen, as 64-bit hashes.

A ring keeps them in arrival order, and an open-addressing table (linear probing, at most
half full) answers "seen?" in one or two probes; when the ring is full the oldest id leaves
both. Memory is per remembered id, not per customer: 8 bytes in the ring and 16 in the table,
24 bytes an id. Hashes name the customer and the event id together
(``stream.core.batch.event_key``), so the same id from two customers is two events; two
different events that hash alike (about 1 in 10^13 for a million ids held) would be read as
one repeat.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

EMPTY = 0


class Window(NamedTuple):
    ring: np.ndarray
    """int64 (capacity,): the ids held, oldest at ``at[1]`` once full."""
    table: np.ndarray
    """int64 (power of two >= 2 capacity,): the ids held, EMPTY elsewhere."""
    at: np.ndarray
    """int64 (2,): ids held, next position in the ring."""

    @classmethod
    def empty(cls, capacity: int) -> Window:
        size = 1 << max(4, (2 * capacity - 1).bit_length())
        return cls(np.zeros(capacity, np.int64), np.zeros(size, np.int64), np.zeros(2, np.int64))


@njit(cache=True)
def _home(table, key: int) -> int:  # type: ignore[no-untyped-def]
    # Fibonacci hashing spreads keys whose low bits agree.
    mixed = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    return int(mixed >> np.uint64(32)) & (len(table) - 1)


@njit(cache=True)
def seen(w: Window, key: int) -> bool:
    table = w.table
    mask = len(table) - 1
    i = _home(table, key)
    while table[i] != EMPTY:
        if table[i] == key:
            return True
        i = (i + 1) & mask
    return False


@njit(cache=True)
def _drop(table, key: int) -> None:  # type: ignore[no-untyped-def]
    """Remove ``key``, shifting later entries of its run back so no probe stops early."""
    mask = len(table) - 1
    i = _home(table, key)
    while table[i] != key:
        if table[i] == EMPTY:
            return
        i = (i + 1) & mask
    j = i
    while True:
        table[i] = EMPTY
        while True:
            j = (j + 1) & mask
            if table[j] == EMPTY:
                return
            home = _home(table, table[j])
            # Move j back into the hole at i unless its home lies cyclically in (i, j].
            if (i <= j and (home <= i or home > j)) or (i > j and home <= i and home > j):
                break
        table[i] = table[j]
        i = j


@njit(cache=True)
def remember(w: Window, key: int) -> None:
    """Hold ``key`` (not held yet), letting the oldest id go if the window is full."""
    ring, table, at = w.ring, w.table, w.at
    position = at[1]
    if at[0] == len(ring):
        _drop(table, ring[position])
    else:
        at[0] += 1
    ring[position] = key
    at[1] = (position + 1) % len(ring)
    mask = len(table) - 1
    i = _home(table, key)
    while table[i] != EMPTY:
        i = (i + 1) & mask
    table[i] = key
