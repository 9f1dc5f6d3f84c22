"""Coarse buckets of a buyer's keys: an hour of last purchase, the purchase count, 1% of spend.

The crossing index files customers by them (:mod:`stream.core.crossings`), and workers share
their buyers as counts per bucket (:mod:`stream.core.shared`). ``POSITIONS`` place a key
(:class:`stream.core.scores.RfmKeys` units) on its dimension's scale; the bucket is the whole
part, and the fraction says how far into its bucket the key lies.

>>> [int(position(key)) for position, key in zip(POSITIONS, (7300, 4, 1000))]
[2, 4, 690]
"""

from __future__ import annotations

import math


def _hour(last_purchase_s: int) -> float:
    return last_purchase_s / 3600


def _frequency(frequency: int) -> float:
    return frequency


def _spend(monetary_cents: int) -> float:
    return math.log1p(monetary_cents) * 100


POSITIONS = (_hour, _frequency, _spend)

BucketCounts = tuple[dict[int, int], dict[int, int], dict[int, int]]
"""Buyers per bucket, for each dimension."""
