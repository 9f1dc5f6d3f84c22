"""Lifecycle stages, driven by each customer's own purchase cadence (DOMAIN.md).

The usual gap between purchases blends the customer's own gaps with a population prior, so a
customer with few purchases is judged by the prior and one with many by themselves:

    usual_gap = (prior_gap * prior_weight + (last - first)) / (prior_weight + purchases - 1)

``declining`` once the silence exceeds ``declining_overdue_ratio`` usual gaps (or spend and
engagement fall: only for a customer with enough interactions to show a trend, since without
them nothing says engagement fell), ``churned`` past the churn horizon, ``reactivated`` on the
first purchase after ``churned``. :func:`assess` also says when the stage would next change with
no input, so the engine can schedule the customer exactly then: overdue, churned, out of the
growing tenure, or a fast buyer's decayed purchase rate falling back to their usual one. The one
exception is the engagement half of "spend and engagement falling", which fades continuously; it
is judged whenever the customer is evaluated, and :func:`reads_engagement` tells the engine when
an interaction can move the stage at all.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from stream.core.config import DAY, EngineConfig
from stream.core.profile import Profile, decayed_value

RECENT_TAU_S = 30 * DAY
"""Time constant of the decayed spend, purchase and engagement sums ("the last 30 days")."""


class Stage(NamedTuple):
    stage: str
    changes_at: float
    """Event time at which, with no new input, the stage would change (inf: never)."""
    why: str
    """The reason as a format string over ``facts``: most assessments confirm the stage
    the customer already has, so the text is only built when someone reads it."""
    facts: tuple[object, ...] = ()

    @property
    def reason(self) -> str:
        return self.why.format(*self.facts)


def usual_gap_s(profile: Profile, config: EngineConfig) -> float:
    first, last = profile.first_purchase_ts, profile.last_purchase_ts
    own_span = last - first if first is not None and last is not None else 0.0
    gaps = profile.purchases - 1 if profile.purchases > 1 else 0
    prior = config.prior_gap_days * DAY * config.prior_weight
    return (prior + own_span) / (config.prior_weight + gaps)


def _spend_share(profile: Profile, config: EngineConfig) -> float | None:
    """Recent order value as a share of the usual one, when it fell below the threshold.

    Order values, not spend per day: silence is already judged by the cadence, and a slow
    buyer's spend per day is too noisy to call a trend. Both sums decay alike, so the share
    does not move with the clock, only with purchases.
    """
    if profile.frequency < 4 or profile.purchases_recent < 0.5 or profile.monetary <= 0:
        return None
    # Refunds of older orders can take recent net spend below nothing.
    recent_order = max(0.0, profile.spend_recent) / profile.purchases_recent
    share = recent_order / (profile.monetary / profile.frequency)
    return share if share < config.declining_spend_ratio else None


def reads_engagement(profile: Profile, config: EngineConfig) -> bool:
    """Whether an interaction (already counted) can move the stage: only while recent orders
    are small enough for the spend-and-engagement rule to ask about engagement, and there are
    enough interactions for it to judge."""
    return (
        profile.last_purchase_ts is not None
        and _spend_share(profile, config) is not None
        and _engagement_judged(profile, config)
    )


def _engagement_judged(profile: Profile, config: EngineConfig) -> bool:
    return sum(profile.interactions.values()) >= config.declining_min_interactions


def _spend_falling(profile: Profile, now: float, config: EngineConfig) -> float | None:
    """The recent order share when spend and engagement are both falling."""
    share = _spend_share(profile, config)
    if share is None:
        return None
    if not _engagement_judged(profile, config):
        return None
    recent = decayed_value(profile.engagement_recent, profile.engagement_at, now, RECENT_TAU_S)
    usual = sum(profile.interactions.values()) / max(now - profile.first_seen_ts, RECENT_TAU_S)
    if recent / RECENT_TAU_S >= config.declining_spend_ratio * usual:
        return None
    return share


def assess(profile: Profile, now: float, config: EngineConfig) -> Stage:
    """The stage of ``profile`` at event time ``now`` (its stored stage is the previous one)."""
    last = profile.last_purchase_ts
    if last is None:
        return Stage("prospect", math.inf, "no purchase yet")
    first = profile.first_purchase_ts
    assert first is not None
    silence = now - last if now > last else 0.0
    horizon = config.churn_horizon_s
    if silence >= horizon:
        return Stage(
            "churned",
            math.inf,
            "no purchase for {0:.0f} days; churn horizon {1:.0f} days",
            (silence / DAY, horizon / DAY),
        )
    churn_at = last + horizon
    gap = usual_gap_s(profile, config)
    overdue_after = config.declining_overdue_ratio * gap
    if silence >= overdue_after:
        return Stage(
            "declining",
            churn_at,
            "no purchase for {0:.0f} days; usual gap {1:.0f} days",
            (silence / DAY, gap / DAY),
        )
    overdue_at = last + overdue_after
    changes_at = churn_at if churn_at < overdue_at else overdue_at
    # Coming back is news of its own, whatever the size of the order that brought them back:
    # the spend-and-engagement rule judges them from their next order on.
    previous = profile.previous_purchase_ts
    if previous is not None and last - previous >= horizon:
        return Stage("reactivated", changes_at, "bought again after being churned")
    share = _spend_falling(profile, now, config)
    if share is not None:
        return Stage(
            "declining",
            changes_at,
            "recent orders at {0:.0%} of the usual value, engagement falling",
            (share,),
        )
    frequency = profile.purchases
    if frequency == 1:
        return Stage("new", changes_at, "first purchase {0:.0f} days ago", (silence / DAY,))
    tenure = now - first
    growing_s = config.growing_tenure_days * DAY
    if tenure < growing_s:
        grown_at = first + growing_s
        return Stage(
            "growing",
            changes_at if changes_at < grown_at else grown_at,
            "{0} purchases in {1:.0f} days",
            # The clock lags the event by the allowed lateness: a first purchase just made
            # would read as -0 days.
            (frequency, max(tenure, 0.0) / DAY),
        )
    recent = decayed_value(profile.purchases_recent, profile.recent_at, now, RECENT_TAU_S)
    fast = RECENT_TAU_S * config.growing_rate_ratio / gap
    if recent > fast:
        # With no purchase the decayed count falls below ``fast`` at this time, and the
        # customer matures then.
        slowed_at = profile.recent_at + RECENT_TAU_S * math.log(profile.purchases_recent / fast)
        return Stage(
            "growing",
            changes_at if changes_at < slowed_at else slowed_at,
            "buying faster than the usual gap of {0:.0f} days",
            (gap / DAY,),
        )
    return Stage(
        "mature",
        changes_at,
        "{0} purchases, usual gap {1:.0f} days, last {2:.0f} days ago",
        (frequency, gap / DAY, silence / DAY),
    )
