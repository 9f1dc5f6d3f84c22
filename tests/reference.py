"""Exact batch RFM, straight from DOMAIN.md's definitions: the oracle for the streaming engine.

Deliberately naive (it compares every buyer with every other through sorting), so that it is
obviously the definition and shares no code with the engine.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

SEGMENTS = {}
for _r in range(1, 6):
    for _f in range(1, 6):
        if _r == 1 and _f == 1:
            _s = "lost"
        elif _r <= 2 and _f <= 2:
            _s = "hibernating"
        elif _r <= 2 and _f <= 4:
            _s = "at_risk"
        elif _r <= 2:
            _s = "cant_lose_them"
        elif _r == 3 and _f <= 2:
            _s = "about_to_sleep"
        elif _r == 3 and _f == 3:
            _s = "need_attention"
        elif _r in (3, 4) and _f >= 4:
            _s = "loyal"
        elif _r == 4 and _f == 1:
            _s = "promising"
        elif _r == 5 and _f == 1:
            _s = "new_customers"
        elif _f in (2, 3):
            _s = "potential_loyalist"
        else:
            _s = "champions"
        SEGMENTS[_r, _f] = _s


@dataclass(frozen=True)
class Exact:
    r: int
    f: int
    m: int
    segment: str
    tier: str


def exact_rfm(purchases: Iterable[tuple[str, datetime | float, float]]) -> dict[str, Exact]:
    """``(customer_id, ts, amount)`` rows of (non-refund) purchases -> exact lifetime scores."""
    last: dict[str, float] = {}
    count: dict[str, int] = {}
    spend: dict[str, float] = {}
    for customer, ts, amount in purchases:
        t = ts.timestamp() if isinstance(ts, datetime) else ts
        last[customer] = max(last.get(customer, t), t)
        count[customer] = count.get(customer, 0) + 1
        spend[customer] = spend.get(customer, 0.0) + amount
    n = len(last)
    lasts = sorted(int(v // 1) for v in last.values())
    counts = sorted(count.values())
    cents = sorted(round(v * 100) for v in spend.values())

    def below(sorted_values: list[int], value: int) -> int:
        return bisect.bisect_left(sorted_values, value)

    out = {}
    for customer in last:
        r = min(5, 1 + 5 * below(lasts, int(last[customer] // 1)) // n)
        f = min(5, 1 + 5 * below(counts, count[customer]) // n)
        share = below(cents, round(spend[customer] * 100)) / n
        m = min(5, 1 + int(5 * share + 1e-12))
        tier = (
            "vip"
            if share >= 0.99
            else "major"
            if share >= 0.95
            else "ordinary"
            if share >= 0.80
            else "small"
        )
        out[customer] = Exact(r, f, m, SEGMENTS[r, f], tier)
    return out
