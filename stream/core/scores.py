"""RFM quintile scores and the value tier against the live population of buyers.

DOMAIN.md: with ``cdf(v)`` the share of buyers whose value is strictly below ``v``,
F = 1 + floor(5 cdf(F)), M = 1 + floor(5 cdf(M)), capped at 5; R = 1 + floor(5 * share with
strictly greater recency). Strictly greater recency means a strictly earlier last purchase, so
R ranks last-purchase times and does not move with the clock itself.

The population is three :class:`CountTree` s keyed exactly: last purchase in whole seconds,
frequency, and spend in cents. A purchase moves one buyer's keys (remove, add) and scoring one
buyer costs O(log range); nothing is ever sorted. Re-scoring many silent buyers at once uses
:class:`Thresholds`, the same definition turned into cut points, so each costs a few compares.

With several workers, the buyers the others hold are added as the bucket counts they share
(:mod:`stream.core.shared`), so every worker scores against the whole shop.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from stream.core.counts import CountTree
from stream.core.segments import TIER_PERCENTS
from stream.core.shared import SharedCounts


class RfmKeys(NamedTuple):
    """A buyer's position in the population: what the three trees count."""

    last_purchase_s: int
    frequency: int
    monetary_cents: int


class Cuts(NamedTuple):
    """Cut points of the three scores and of the value tiers, in key units."""

    recency: tuple[int, ...]
    frequency: tuple[int, ...]
    monetary: tuple[int, ...]
    tiers: tuple[int, ...]


class Scores(NamedTuple):
    r: int
    f: int
    m: int
    tier: str


# Building the named tuples the way ``_make`` does, without their Python-level ``__new__``:
# keys and scores are made hundreds of thousands of times.
_new_keys: Callable[[type[RfmKeys], tuple[int, int, int]], RfmKeys] = tuple.__new__
_new_scores: Callable[[type[Scores], tuple[int, int, int, str]], Scores] = tuple.__new__

_RECENCY_BITS, _FREQUENCY_BITS, _MONETARY_BITS = 36, 24, 44
_LAST_RECENCY = (1 << _RECENCY_BITS) - 1
_LAST_FREQUENCY = (1 << _FREQUENCY_BITS) - 1
_LAST_MONETARY = (1 << _MONETARY_BITS) - 1


def rfm_keys(last_purchase_ts: float, frequency: int, monetary: float) -> RfmKeys:
    """Exact keys, held inside the trees' ranges (before 1970 counts as 1970).

    Whole seconds of the last purchase: ``int`` truncates towards zero, which is the floor
    for every time that is not clamped to 0 anyway.
    """
    last = int(last_purchase_ts)
    if not 0 <= last <= _LAST_RECENCY:
        last = 0 if last < 0 else _LAST_RECENCY
    cents = round(monetary * 100)
    if not 0 <= cents <= _LAST_MONETARY:
        cents = 0 if cents < 0 else _LAST_MONETARY
    return _new_keys(RfmKeys, (last, min(frequency, _LAST_FREQUENCY), cents))


def _quintile(below: int, total: int) -> int:
    return min(5, 1 + (5 * below) // total)


def _tier(below: int, total: int) -> str:
    for tier, percent in TIER_PERCENTS:
        if 100 * below >= percent * total:
            return tier
    return "small"


def _at_least(percent: int, total: int) -> int:
    """Smallest whole count c with 100 c >= percent * total."""
    return -(-percent * total // 100)


class Population:
    """Buyers' last purchase, frequency and spend, scored as the domain defines."""

    __slots__ = ("_recency", "_frequency", "_monetary", "_thresholds", "shared")

    def __init__(self) -> None:
        self._recency = CountTree(_RECENCY_BITS)
        self._frequency = CountTree(_FREQUENCY_BITS)
        self._monetary = CountTree(_MONETARY_BITS)
        self._thresholds: Thresholds | None = None
        """The cut points of the population as it is now, until a buyer moves."""
        self.shared: SharedCounts | None = None
        """The buyers other workers hold; None: this population is the whole shop."""

    def __len__(self) -> int:
        """Buyers counted, here and elsewhere."""
        shared = self.shared
        return self._frequency.total + (shared.total if shared is not None else 0)

    def share(self, shared: SharedCounts | None) -> bool:
        """Count the buyers other workers hold as ``shared``; True if that changed them."""
        if shared == self.shared:
            return False
        self.shared = shared
        self._thresholds = None
        return True

    def replace(self, old: RfmKeys | None, new: RfmKeys | None) -> None:
        """Move one buyer from ``old`` keys to ``new`` (None: not counted)."""
        if old == new:
            return
        self._thresholds = None
        trees = (self._recency, self._frequency, self._monetary)
        if old is None:
            assert new is not None
            for tree, key in zip(trees, new, strict=True):
                tree.add(key, 1)
        elif new is None:
            for tree, key in zip(trees, old, strict=True):
                tree.add(key, -1)
        else:
            # A purchase rarely moves all three keys (a refund keeps the last purchase and
            # the count); a tree whose key stays put is left alone.
            for tree, old_key, new_key in zip(trees, old, new, strict=True):
                if old_key != new_key:
                    tree.move(old_key, new_key)

    def score(self, keys: RfmKeys) -> Scores:
        """Scores of a buyer who is counted in this population (from the cut points when
        they are at hand: the same scores, see :class:`Thresholds`)."""
        if self._thresholds is not None:
            return self._thresholds.score(keys)
        below_r = self._recency.below(keys.last_purchase_s)
        below_f = self._frequency.below(keys.frequency)
        below_m = self._monetary.below(keys.monetary_cents)
        shared = self.shared
        if shared is not None:
            below_r += shared.below(0, keys.last_purchase_s, self._recency)
            below_f += shared.below(1, keys.frequency, self._frequency)
            below_m += shared.below(2, keys.monetary_cents, self._monetary)
        total = len(self)
        return Scores(
            _quintile(below_r, total),
            _quintile(below_f, total),
            _quintile(below_m, total),
            _tier(below_m, total),
        )

    def thresholds(self) -> Thresholds:
        if self._thresholds is None:
            self._thresholds = Thresholds(self)
        return self._thresholds


class Thresholds:
    """Cut points equivalent to :meth:`Population.score` for the population as it is now.

    ``below(v) >= c`` holds exactly when ``v`` exceeds the c-th smallest value, so a score is
    one plus the number of cut points the value exceeds.
    """

    __slots__ = ("_recency", "_frequency", "_monetary", "_tiers")

    def __init__(self, population: Population) -> None:
        total = len(population)
        quintiles = [-(-k * total // 5) for k in range(1, 5)]
        shared = population.shared
        trees = (population._recency, population._frequency, population._monetary)
        elsewhere = [
            None if shared is None else partial(shared.below, d, local=tree)
            for d, tree in enumerate(trees)
        ]
        self._recency, self._frequency, self._monetary = (
            [tree.kth(c, others) for c in quintiles]
            for tree, others in zip(trees, elsewhere, strict=True)
        )
        self._tiers = [
            (tier, trees[2].kth(_at_least(percent, total), elsewhere[2]))
            for tier, percent in TIER_PERCENTS
        ]

    def cuts(self) -> Cuts:
        return Cuts(
            tuple(self._recency),
            tuple(self._frequency),
            tuple(self._monetary),
            tuple(cut for _, cut in self._tiers),
        )

    def score(self, keys: RfmKeys) -> Scores:
        last_purchase_s, frequency, monetary = keys
        tier = "small"
        for name, cut in self._tiers:
            if monetary > cut:
                tier = name
                break
        # Cut points ascend, so the number a value exceeds is where it would be inserted.
        return _new_scores(
            Scores,
            (
                1 + bisect_left(self._recency, last_purchase_s),
                1 + bisect_left(self._frequency, frequency),
                1 + bisect_left(self._monetary, monetary),
                tier,
            ),
        )
