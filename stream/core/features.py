"""The churn model's view of a customer: a small dict of numbers read off the profile.

It runs on every scoring, so it only reads stored fields and decays three sums; nothing here
walks the purchase history. Skewed amounts are taken as ``log1p`` so one large order does not
dominate a linear model. A missing survey answer is imputed with a middling score and flagged,
so the model can learn what "never answered" means on its own.

>>> from stream.core.config import DAY, EngineConfig
>>> from stream.core.profile import Profile
>>> profile = Profile("c1", 0.0)
>>> profile.first_purchase_ts = profile.last_purchase_ts = 0.0
>>> profile.frequency, profile.monetary = 1, 99.0
>>> features = churn_features(profile, 45 * DAY, EngineConfig())
>>> features["recency_days"], features["usual_gap_days"], features["overdue_ratio"]
(45.0, 30.0, 1.5)
>>> features["nps_missing"], features["monetary_log"] == math.log1p(99.0)
(1.0, True)
"""

from __future__ import annotations

import math

from stream.core.config import DAY, EngineConfig
from stream.core.lifecycle import RECENT_TAU_S, usual_gap_s
from stream.core.profile import Profile, decayed_value

NEUTRAL_NPS = 7.0
NEUTRAL_CSAT = 3.0

FEATURE_NAMES = (
    "recency_days",
    "frequency",
    "monetary_log",
    "tenure_days",
    "usual_gap_days",
    "overdue_ratio",
    "spend_recent_log",
    "purchases_recent",
    "engagement_recent",
    "interactions_log",
    "nps",
    "nps_missing",
    "csat",
    "csat_missing",
    "complaints",
    "is_detractor",
)
"""The keys of :func:`churn_features`, in the order it returns them."""


def churn_features(profile: Profile, now: float, config: EngineConfig) -> dict[str, float]:
    """Features of a customer with at least one purchase, as seen at event time ``now``."""
    last = profile.last_purchase_ts
    first = profile.first_purchase_ts
    assert last is not None and first is not None, "churn features need a purchase"
    silence = now - last if now > last else 0.0
    gap = usual_gap_s(profile, config)
    # Spend and purchase counts share one time base, so one decay factor serves both.
    recent_at = profile.recent_at
    fade = math.exp((recent_at - now) / RECENT_TAU_S) if now > recent_at else 1.0
    spend_recent = profile.spend_recent * fade
    nps, csat = profile.nps, profile.csat
    detractor = (nps is not None and nps <= 6) or (csat is not None and csat <= 2)
    return {
        "recency_days": silence / DAY,
        "frequency": float(profile.frequency),
        "monetary_log": math.log1p(profile.monetary),
        "tenure_days": (now - first if now > first else 0.0) / DAY,
        "usual_gap_days": gap / DAY,
        "overdue_ratio": silence / gap,
        "spend_recent_log": math.log1p(spend_recent if spend_recent > 0.0 else 0.0),
        "purchases_recent": profile.purchases_recent * fade,
        "engagement_recent": decayed_value(
            profile.engagement_recent, profile.engagement_at, now, RECENT_TAU_S
        ),
        "interactions_log": math.log1p(sum(profile.interactions.values())),
        "nps": NEUTRAL_NPS if nps is None else float(nps),
        "nps_missing": 1.0 if nps is None else 0.0,
        "csat": NEUTRAL_CSAT if csat is None else float(csat),
        "csat_missing": 1.0 if csat is None else 0.0,
        "complaints": float(profile.complaints),
        "is_detractor": 1.0 if detractor else 0.0,
    }
