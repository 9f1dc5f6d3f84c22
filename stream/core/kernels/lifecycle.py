"""Lifecycle stages from each customer's own purchase cadence, compiled (DOMAIN.md).

The rules of :mod:`stream.core.lifecycle`, over one row of :class:`stream.core.columns.Columns`:
:func:`assess` gives the stage at event time ``now``, when it would next change with no input,
and the reason as a code into :data:`REASONS` with up to three numbers, so that the text is only
built for the stages that moved.
"""

from __future__ import annotations

import math

from numba import njit

from stream.core.kernels.params import RECENT_TAU_S, Params

DAY = 86_400.0

PROSPECT, NEW, GROWING, MATURE, DECLINING, CHURNED, REACTIVATED = range(7)
"""Stage codes: positions in ``schemas.outputs.VALUES["lifecycle_stage"]``."""

REASONS = (
    "no purchase yet",
    "no purchase for {0:.0f} days; churn horizon {1:.0f} days",
    "no purchase for {0:.0f} days; usual gap {1:.0f} days",
    "bought again after being churned",
    "recent orders at {0:.0%} of the usual value, engagement falling",
    "first purchase {0:.0f} days ago",
    "{0:.0f} purchases in {1:.0f} days",
    "buying faster than the usual gap of {0:.0f} days",
    "{0:.0f} purchases, usual gap {1:.0f} days, last {2:.0f} days ago",
)


@njit(cache=True)
def decayed(value: float, at: float, now: float) -> float:
    """A sum decayed with :data:`RECENT_TAU_S`, held as of ``at``, as seen at ``now``."""
    return value * math.exp((at - now) / RECENT_TAU_S) if now > at else value


@njit(cache=True)
def usual_gap_s(first: float, last: float, purchases: int, p: Params) -> float:
    """The usual gap between purchases: the customer's own, blended with the prior."""
    own_span = last - first if not (math.isnan(first) or math.isnan(last)) else 0.0
    gaps = purchases - 1 if purchases > 1 else 0
    return (p.prior_gap_s * p.prior_weight + own_span) / (p.prior_weight + gaps)


@njit(cache=True)
def spend_share(
    frequency: int, monetary: float, spend_recent: float, purchases_recent: float, p: Params
) -> float:
    """Recent order value as a share of the usual one when it fell below the threshold;
    -1 otherwise (see ``stream.core.lifecycle._spend_share``)."""
    if frequency < 4 or purchases_recent < 0.5 or monetary <= 0:
        return -1.0
    recent_order = max(0.0, spend_recent) / purchases_recent
    share = recent_order / (monetary / frequency)
    return share if share < p.declining_spend_ratio else -1.0


@njit(cache=True)
def assess(c, i: int, now: float, p: Params):  # type: ignore[no-untyped-def]
    """(stage, changes_at, reason, fact, fact, fact) of row ``i`` at ``now``."""
    last = c.last_purchase_ts[i]
    if math.isnan(last):
        return PROSPECT, math.inf, 0, 0.0, 0.0, 0.0
    first = c.first_purchase_ts[i]
    silence = now - last if now > last else 0.0
    horizon = p.churn_horizon_s
    if silence >= horizon:
        return CHURNED, math.inf, 1, silence / DAY, horizon / DAY, 0.0
    churn_at = last + horizon
    purchases = c.purchases[i]
    gap = usual_gap_s(first, last, purchases, p)
    overdue_after = p.declining_overdue_ratio * gap
    if silence >= overdue_after:
        return DECLINING, churn_at, 2, silence / DAY, gap / DAY, 0.0
    overdue_at = last + overdue_after
    changes_at = churn_at if churn_at < overdue_at else overdue_at
    previous = c.previous_purchase_ts[i]
    if not math.isnan(previous) and last - previous >= horizon:
        return REACTIVATED, changes_at, 3, 0.0, 0.0, 0.0
    share = spend_share(c.frequency[i], c.monetary[i], c.spend_recent[i], c.purchases_recent[i], p)
    if share >= 0.0 and c.interactions[i] >= p.declining_min_interactions:
        recent = decayed(c.engagement_recent[i], c.engagement_at[i], now)
        usual = c.interactions[i] / max(now - c.first_seen_ts[i], RECENT_TAU_S)
        if not recent / RECENT_TAU_S >= p.declining_spend_ratio * usual:
            return DECLINING, changes_at, 4, share, 0.0, 0.0
    if purchases == 1:
        return NEW, changes_at, 5, silence / DAY, 0.0, 0.0
    tenure = now - first
    if tenure < p.growing_tenure_s:
        grown_at = first + p.growing_tenure_s
        at = changes_at if changes_at < grown_at else grown_at
        # The clock lags the event by the allowed lateness: a first purchase just made
        # would read as -0 days.
        return GROWING, at, 6, float(purchases), max(tenure, 0.0) / DAY, 0.0
    recent = decayed(c.purchases_recent[i], c.recent_at[i], now)
    fast = RECENT_TAU_S * p.growing_rate_ratio / gap
    if recent > fast:
        # With no purchase the decayed count falls below ``fast`` then, and they mature.
        slowed_at = c.recent_at[i] + RECENT_TAU_S * math.log(c.purchases_recent[i] / fast)
        at = changes_at if changes_at < slowed_at else slowed_at
        return GROWING, at, 7, gap / DAY, 0.0, 0.0
    return MATURE, changes_at, 8, float(purchases), gap / DAY, silence / DAY
