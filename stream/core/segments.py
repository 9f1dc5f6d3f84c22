"""The RFM segment grid and the value pyramid (DOMAIN.md, "Per-customer profile").

>>> rfm_segment(5, 5), rfm_segment(1, 1), rfm_segment(2, 5), rfm_segment(4, 2)
('champions', 'lost', 'cant_lose_them', 'potential_loyalist')
"""

from __future__ import annotations

# (R range, F range, segment): the first match wins, and the rules cover the whole 5x5 grid.
_RULES = (
    ((1, 1), (1, 1), "lost"),
    ((1, 2), (1, 2), "hibernating"),
    ((1, 2), (3, 4), "at_risk"),
    ((1, 2), (5, 5), "cant_lose_them"),
    ((3, 3), (1, 2), "about_to_sleep"),
    ((3, 3), (3, 3), "need_attention"),
    ((3, 4), (4, 5), "loyal"),
    ((4, 4), (1, 1), "promising"),
    ((5, 5), (1, 1), "new_customers"),
    ((4, 5), (2, 3), "potential_loyalist"),
    ((5, 5), (4, 5), "champions"),
)


def _first_match(r: int, f: int) -> str:
    for (r_lo, r_hi), (f_lo, f_hi), segment in _RULES:
        if r_lo <= r <= r_hi and f_lo <= f <= f_hi:
            return segment
    raise AssertionError(f"the RFM grid has no segment for R={r} F={f}")


_GRID = {(r, f): _first_match(r, f) for r in range(1, 6) for f in range(1, 6)}

TIER_PERCENTS = (("vip", 99), ("major", 95), ("ordinary", 80))
"""Value pyramid by cdf(M) in percent: top 1% vip, next 4% major, next 15% ordinary, the rest
small. Compared in whole numbers so that a share of exactly 0.99 is never lost to rounding."""


def rfm_segment(r_score: int, f_score: int) -> str:
    return _GRID[r_score, f_score]
