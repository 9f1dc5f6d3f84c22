"""The buyers other workers hold, as the bucket counts each of them shares.

With several workers each engine holds only its partitions' buyers, a hash sample of the
shop, and a score against a sample is an estimate. So every worker shares each partition's
buyers as counts per bucket (:mod:`stream.core.buckets`: an hour of last purchase, the exact
purchase count, 1% of spend), and each engine scores against its
own buyers exactly plus everyone else's counts (:meth:`stream.core.scores.Population.share`).

Within a bucket the others' values are taken to be spread as this worker's own are, so
``below(d, key)`` is exact for frequency and off by at most part of one bucket's count for
recency and spend; it never decreases as ``key`` grows, so equal values still get equal
scores and the score cut points stay well defined.

>>> shared = SharedCounts([({10: 2}, {1: 1, 3: 1}, {500: 2})])
>>> shared.total, shared.below(1, 3), shared.below(1, 4)
(2, 1, 2)
>>> shared.below(0, 10 * 3600), shared.below(0, 10 * 3600 + 1800), shared.below(0, 11 * 3600)
(0, 1, 2)
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from itertools import accumulate

from stream.core.buckets import FIRST_KEYS, POSITIONS, BucketCounts
from stream.core.counts import CountTree


class _Dimension:
    __slots__ = ("buckets", "counts", "before")

    def __init__(self, counts: Counter[int]) -> None:
        self.buckets = sorted(counts)
        self.counts = [counts[b] for b in self.buckets]
        self.before = [0, *accumulate(self.counts)]
        """How many counted values lie in the buckets before each one."""


class SharedCounts:
    """Merged bucket counts of buyers held elsewhere, one set per partition."""

    __slots__ = ("total", "_dimensions", "_content")

    def __init__(self, partitions: Iterable[BucketCounts]) -> None:
        merged: tuple[Counter[int], ...] = (Counter(), Counter(), Counter())
        for counts in partitions:
            for total, dimension in zip(merged, counts, strict=True):
                total.update(dimension)
        self._content = tuple(frozenset(counter.items()) for counter in merged)
        self._dimensions = tuple(_Dimension(counter) for counter in merged)
        self.total = self._dimensions[1].before[-1]

    @property
    def digest(self) -> str:
        """Names these counts in output ids: the same counts, the same name."""
        text = repr([sorted(dimension) for dimension in self._content])
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SharedCounts) and self._content == other._content

    def __hash__(self) -> int:
        return hash(self._content)

    def below(self, dimension: int, key: int, local: CountTree | None = None) -> int:
        """About how many of these buyers have a key strictly below ``key`` on ``dimension``
        (0 last purchase, 1 frequency, 2 spend, in :class:`stream.core.scores.RfmKeys` units).

        Within ``key``'s bucket they are taken to be spread as the ``local`` buyers are, since
        every worker holds a hash sample of the same shop: where many buyers share one value
        (one product's price), the others are not counted below it either. Without local
        buyers in the bucket, they are taken as spread evenly along its scale.
        """
        counted = self._dimensions[dimension]
        position = POSITIONS[dimension](key)
        bucket = int(position)
        i = bisect_left(counted.buckets, bucket)
        found: float = counted.before[i]
        if i < len(counted.buckets) and counted.buckets[i] == bucket and position > bucket:
            share = position - bucket
            if local is not None:
                first = FIRST_KEYS[dimension]
                start = local.below(first(bucket))
                inside = local.below(first(bucket + 1)) - start
                below = local.below(key)
                # The buyer being scored is one of the local ones: leave one buyer of the
                # key's own value out of the sample, so that a buyer alone in their bucket is
                # not taken as lowest of it.
                here = local.below(key + 1) - below
                sample = inside - (here > 0)
                if sample:
                    share = (below - start) / sample
            found += counted.counts[i] * share
        return round(found)
