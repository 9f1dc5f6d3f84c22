"""The churn model's features of one customer, compiled (see :mod:`stream.core.features`,
which says why each is bounded or logarithmic); :func:`churn_features` writes them into a row
of a float array in ``FEATURE_NAMES`` order."""

from __future__ import annotations

import math

from numba import njit

from stream.core.kernels.lifecycle import DAY, decayed, usual_gap_s
from stream.core.kernels.params import RECENT_TAU_S, Params

NEUTRAL_NPS = 7.0
NEUTRAL_CSAT = 3.0


@njit(cache=True)
def churn_features(c, i: int, now: float, p: Params, out) -> None:  # type: ignore[no-untyped-def]
    """Features of row ``i`` (a buyer) at event time ``now``, into ``out`` (16 floats)."""
    last = c.last_purchase_ts[i]
    first = c.first_purchase_ts[i]
    silence = now - last if now > last else 0.0
    gap = usual_gap_s(first, last, c.purchases[i], p)
    purchases = c.purchases[i] if c.purchases[i] > 1 else 1
    span = last - first if last > first else 0.0
    # Spend and purchase counts share one time base, so one decay factor serves both.
    recent_at = c.recent_at[i]
    fade = math.exp((recent_at - now) / RECENT_TAU_S) if now > recent_at else 1.0
    spend_recent = c.spend_recent[i] * fade
    engagement = decayed(c.engagement_recent[i], c.engagement_at[i], now)
    monetary = c.monetary[i]
    nps, csat = c.nps[i], c.csat[i]
    out[0] = math.log1p(silence / DAY)
    out[1] = math.log1p(silence / gap)
    out[2] = purchases * math.log1p(silence / (p.prior_gap_s + span))
    out[3] = math.log(purchases)
    out[4] = math.log1p(monetary if monetary > 0.0 else 0.0)
    out[5] = math.log(gap / DAY)
    out[6] = math.log1p(spend_recent if spend_recent > 0.0 else 0.0)
    out[7] = c.purchases_recent[i] * fade
    out[8] = math.log1p(engagement if engagement > 0.0 else 0.0)
    out[9] = math.log1p(c.interactions[i])
    out[10] = NEUTRAL_NPS if nps < 0 else float(nps)
    out[11] = 1.0 if nps < 0 else 0.0
    out[12] = NEUTRAL_CSAT if csat < 0 else float(csat)
    out[13] = 1.0 if csat < 0 else 0.0
    out[14] = math.log1p(c.complaints[i])
    out[15] = 1.0 if (0 <= nps <= 6) or (0 <= csat <= 2) else 0.0
