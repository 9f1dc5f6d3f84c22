"""RFM scores and value tiers against the live population, exact at every instant (DOMAIN.md).

Each score has four cut points and the value pyramid three (``CUTS``): cut ``j`` of a
dimension is the key of rank ``c = ceil(num N / den)`` among the N buyers, and a value scores
one more for every cut it exceeds (``below(v) >= c`` exactly when ``v`` exceeds the c-th
smallest key, :class:`stream.core.scores.Thresholds`). Each cut keeps its key with the rank
range the key spans, ``lo = below(key)`` and ``hi = below(key + 1)``, counted up and down as
buyers move, so checking all fifteen after a move is arithmetic, not a search.

Stability: a cut keeps its key while the buyers it scores wrongly, those whose value lies
between it and the exact key, number at most ``margin * N``; past that it resets to the exact
key, and every one of them is collected for re-scoring at once (:func:`check`). With a margin
of 0 the keys are always exact. A buyer's own move re-scores them against the cuts as they are after
the move, so equal values always score alike.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from stream.core.kernels import ranks
from stream.core.segments import TIER_PERCENTS

RECENCY, FREQUENCY, MONETARY = range(3)
QUINTILES = 4
TIERS = len(TIER_PERCENTS)
FIRST_TIER = 3 * QUINTILES

LAST_RECENCY = (1 << 36) - 1
LAST_FREQUENCY = (1 << 24) - 1
LAST_MONETARY = (1 << 44) - 1
EVERYTHING = 1 << 62


def _layout() -> tuple[list[int], list[int], list[int]]:
    dims, nums, dens = [], [], []
    for d in range(3):
        for k in range(1, QUINTILES + 1):
            dims.append(d)
            nums.append(k)
            dens.append(5)
    # Ascending, like the quintiles: ordinary (80%), major (95%), vip (99%).
    for _, percent in reversed(TIER_PERCENTS):
        dims.append(MONETARY)
        nums.append(percent)
        dens.append(100)
    return dims, nums, dens


class Cuts(NamedTuple):
    dim: np.ndarray
    num: np.ndarray
    den: np.ndarray
    key: np.ndarray
    """int64: the cut's key, -1 while unset (no buyers yet)."""
    lo: np.ndarray
    hi: np.ndarray
    margin: np.ndarray
    """float64 (1,): the stability margin as a share of the buyers."""
    stamp: np.ndarray
    """int64 (1,): the mark of the last collection (rows' ``stamp``)."""

    @classmethod
    def empty(cls, margin: float) -> Cuts:
        dims, nums, dens = _layout()
        n = len(dims)
        return cls(
            np.array(dims, np.int64),
            np.array(nums, np.int64),
            np.array(dens, np.int64),
            np.full(n, -1, np.int64),
            np.zeros(n, np.int64),
            np.zeros(n, np.int64),
            np.array([margin]),
            np.zeros(1, np.int64),
        )


@njit(cache=True)
def py_round(x: float) -> int:
    """``round(x)`` to an integer as CPython does: half to even."""
    f = np.floor(x)
    d = x - f
    if d > 0.5 or (d == 0.5 and f % 2.0 == 1.0):
        f += 1.0
    return int(f)


@njit(cache=True)
def keys_of(c, i: int) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """``stream.core.scores.rfm_keys`` of a buyer: whole seconds of the last purchase, the
    purchase count and spend in cents, held inside the ranks' ranges."""
    last = int(c.last_purchase_ts[i])
    last = 0 if last < 0 else (LAST_RECENCY if last > LAST_RECENCY else last)
    cents = py_round(c.monetary[i] * 100.0)
    cents = 0 if cents < 0 else (LAST_MONETARY if cents > LAST_MONETARY else cents)
    frequency = c.frequency[i]
    return last, (frequency if frequency < LAST_FREQUENCY else LAST_FREQUENCY), cents


@njit(cache=True)
def _count(cuts: Cuts, d: int, key: int, delta: int) -> None:
    for j in range(len(cuts.key)):
        if cuts.dim[j] == d and cuts.key[j] >= 0:
            if key < cuts.key[j]:
                cuts.lo[j] += delta
                cuts.hi[j] += delta
            elif key == cuts.key[j]:
                cuts.hi[j] += delta


@njit(cache=True)
def _move(cuts: Cuts, tree, d: int, old: int, new: int, i: int) -> bool:  # type: ignore[no-untyped-def]
    if new == old:
        return False
    if old >= 0:
        ranks.remove(tree, old, i)
        _count(cuts, d, old, -1)
    ranks.insert(tree, new, i)
    _count(cuts, d, new, 1)
    return True


@njit(cache=True)
def place(cuts: Cuts, recency, frequency, monetary, c, i: int) -> bool:  # type: ignore[no-untyped-def]
    """Move row ``i`` in the population to its current keys (a buyer: counted); True if any
    key moved. The ranks must have room for one more entry each."""
    if np.isnan(c.last_purchase_ts[i]):
        return False
    r, f, m = keys_of(c, i)
    moved = _move(cuts, recency, RECENCY, c.r_key[i], r, i)
    moved |= _move(cuts, frequency, FREQUENCY, c.f_key[i], f, i)
    moved |= _move(cuts, monetary, MONETARY, c.m_key[i], m, i)
    c.r_key[i], c.f_key[i], c.m_key[i] = r, f, m
    return moved


@njit(cache=True)
def check(cuts: Cuts, recency, frequency, monetary, c, work):  # type: ignore[no-untyped-def]
    """Reset the cuts that drifted past the margin; (work, count): the rows whose value lies
    between a cut's old and new key, each once, apart from rows already stamped with
    ``cuts.stamp[0]`` (the caller's own row)."""
    n = ranks.size(recency)
    collected = 0
    if n == 0:
        return work, 0
    slack = cuts.margin[0] * n
    for j in range(len(cuts.key)):
        num, den = cuts.num[j], cuts.den[j]
        target = (num * n + den - 1) // den
        key = cuts.key[j]
        lo, hi = cuts.lo[j], cuts.hi[j]
        if key >= 0 and lo < target <= hi:
            continue
        d = cuts.dim[j]
        tree = recency if d == RECENCY else (frequency if d == FREQUENCY else monetary)
        exact = ranks.kth(tree, target)
        if key >= 0 and slack > 0:
            # The rows a kept cut scores wrongly: those between it and the exact one, a whole
            # run of equal values included.
            wrong = (
                ranks.below(tree, exact + 1) - hi
                if target > hi
                else hi - ranks.below(tree, exact + 1)
            )
            if wrong <= slack:
                continue
        if key < 0:
            low, high = -1, EVERYTHING
        else:
            low, high = (key, exact) if key < exact else (exact, key)
        cuts.key[j] = exact
        cuts.lo[j] = ranks.below(tree, exact)
        cuts.hi[j] = ranks.below(tree, exact + 1)
        if low == high:
            continue
        found = ranks.slots_in(tree, low, high, work[collected:])
        if collected + found > len(work):
            bigger = np.empty(2 * (collected + found), np.int32)
            bigger[:collected] = work[:collected]
            work = bigger
            ranks.slots_in(tree, low, high, work[collected:])
        stamp = cuts.stamp[0]
        for k in range(collected, collected + found):
            row = work[k]
            if c.stamp[row] != stamp:
                c.stamp[row] = stamp
                work[collected] = row
                collected += 1
    return work, collected


@njit(cache=True)
def score(cuts: Cuts, r: int, f: int, m: int) -> tuple[int, int, int, int]:
    """(R, F, M, tier level): each score one plus the cuts its value exceeds; the level is
    how many tier cuts the spend exceeds (0 small ... 3 vip)."""
    key = cuts.key
    rs = fs = ms = 1
    for j in range(QUINTILES):
        rs += r > key[j]
        fs += f > key[QUINTILES + j]
        ms += m > key[2 * QUINTILES + j]
    level = 0
    for j in range(FIRST_TIER, FIRST_TIER + TIERS):
        level += m > key[j]
    return rs, fs, ms, level
