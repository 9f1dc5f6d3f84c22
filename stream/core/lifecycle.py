"""Lifecycle stages, driven by each customer's own purchase cadence (DOMAIN.md).

The usual gap between purchases blends the customer's own gaps with a population prior, so a
customer with few purchases is judged by the prior and one with many by themselves:

    usual_gap = (prior_gap * prior_weight + (last - first)) / (prior_weight + purchases - 1)

``declining`` once the silence exceeds ``declining_overdue_ratio`` usual gaps (or spend and
engagement fall), ``churned`` past the churn horizon, ``reactivated`` on the first purchase
after ``churned``. :func:`assess` also says when the stage would next change with no input, so
the engine can schedule the customer exactly then.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from stream.core.config import DAY, EngineConfig
from stream.core.profile import Profile, decayed_value

RECENT_TAU_S = 30 * DAY
"""Time constant of the decayed spend, purchase and engagement sums ("the last 30 days")."""

_MIN_INTERACTIONS_FOR_TREND = 10


class Stage(NamedTuple):
    stage: str
    reason: str
    changes_at: float
    """Event time at which, with no new input, the stage would change (inf: never)."""


def usual_gap_s(profile: Profile, config: EngineConfig) -> float:
    own_span = 0.0
    if profile.first_purchase_ts is not None and profile.last_purchase_ts is not None:
        own_span = profile.last_purchase_ts - profile.first_purchase_ts
    gaps = max(0, profile.frequency - 1)
    prior = config.prior_gap_days * DAY * config.prior_weight
    return (prior + own_span) / (config.prior_weight + gaps)


def _days(seconds: float) -> str:
    return f"{seconds / DAY:.0f}"


def _spend_falling(profile: Profile, now: float, config: EngineConfig) -> float | None:
    """Recent order value as a share of the usual one, when it fell below the threshold.

    Order values, not spend per day: silence is already judged by the cadence, and a slow
    buyer's spend per day is too noisy to call a trend.
    """
    if profile.frequency < 4 or profile.purchases_recent < 0.5 or profile.monetary <= 0:
        return None
    recent_order = profile.spend_recent / profile.purchases_recent
    share = recent_order / (profile.monetary / profile.frequency)
    if share >= config.declining_spend_ratio:
        return None
    engaged = sum(profile.interactions.values())
    if engaged >= _MIN_INTERACTIONS_FOR_TREND:
        recent = decayed_value(profile.engagement_recent, profile.engagement_at, now, RECENT_TAU_S)
        usual = engaged / max(now - profile.first_seen_ts, RECENT_TAU_S)
        if recent / RECENT_TAU_S >= config.declining_spend_ratio * usual:
            return None
    return share


def assess(profile: Profile, now: float, config: EngineConfig) -> Stage:
    """The stage of ``profile`` at event time ``now`` (its stored stage is the previous one)."""
    last = profile.last_purchase_ts
    if last is None:
        return Stage("prospect", "no purchase yet", math.inf)
    assert profile.first_purchase_ts is not None
    silence = max(0.0, now - last)
    horizon = config.churn_horizon_s
    if silence >= horizon:
        return Stage(
            "churned",
            f"no purchase for {_days(silence)} days; churn horizon {_days(horizon)} days",
            math.inf,
        )
    churn_at = last + horizon
    gap = usual_gap_s(profile, config)
    overdue_after = config.declining_overdue_ratio * gap
    if silence >= overdue_after:
        return Stage(
            "declining",
            f"no purchase for {_days(silence)} days; usual gap {_days(gap)} days",
            churn_at,
        )
    changes_at = min(churn_at, last + overdue_after)
    share = _spend_falling(profile, now, config)
    if share is not None:
        return Stage(
            "declining",
            f"recent orders at {share:.0%} of the usual value, engagement falling",
            changes_at,
        )
    if profile.reactivated_ts is not None and profile.reactivated_ts == last:
        return Stage("reactivated", "bought again after being churned", changes_at)
    if profile.frequency == 1:
        return Stage("new", f"first purchase {_days(silence)} days ago", changes_at)
    tenure = now - profile.first_purchase_ts
    grown_at = profile.first_purchase_ts + config.growing_tenure_days * DAY
    if tenure < config.growing_tenure_days * DAY:
        return Stage(
            "growing",
            f"{profile.frequency} purchases in {_days(tenure)} days",
            min(changes_at, grown_at),
        )
    recent_rate = (
        decayed_value(profile.purchases_recent, profile.recent_at, now, RECENT_TAU_S) / RECENT_TAU_S
    )
    if recent_rate > config.growing_rate_ratio / gap:
        return Stage(
            "growing",
            f"buying faster than the usual gap of {_days(gap)} days",
            changes_at,
        )
    return Stage(
        "mature",
        f"{profile.frequency} purchases, usual gap {_days(gap)} days, "
        f"last {_days(silence)} days ago",
        changes_at,
    )
