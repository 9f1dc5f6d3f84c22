"""Coarse buckets of a buyer's keys: an hour of last purchase, the purchase count, 1% of spend.

The crossing index files customers by them (:mod:`stream.core.crossings`), and workers share
their buyers as counts per bucket (:mod:`stream.core.shared`). ``POSITIONS`` place a key
(:class:`stream.core.scores.RfmKeys` units) on its dimension's scale; the bucket is the whole
part, and the fraction says how far into its bucket the key lies.

>>> [int(position(key)) for position, key in zip(POSITIONS, (7300, 4, 1000))]
[2, 4, 690]
>>> [first(bucket) for first, bucket in zip(FIRST_KEYS, (2, 4, 690))]
[7200, 4, 992]
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


def _first_hour(bucket: int) -> int:
    return bucket * 3600


def _first_frequency(bucket: int) -> int:
    return bucket


def _first_spend(bucket: int) -> int:
    cents = max(0, math.ceil(math.expm1(bucket / 100)))
    # The logarithm's rounding may put the estimate a cent off either way.
    while cents > 0 and int(_spend(cents - 1)) >= bucket:
        cents -= 1
    while int(_spend(cents)) < bucket:
        cents += 1
    return cents


FIRST_KEYS = (_first_hour, _first_frequency, _first_spend)
"""The smallest key of a bucket, for each dimension: a bucket holds the keys from its first
to the next one's first."""

BucketCounts = tuple[dict[int, int], dict[int, int], dict[int, int]]
"""Buyers per bucket, for each dimension."""
