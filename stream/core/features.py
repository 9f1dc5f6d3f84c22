"""The churn model's view of a customer: a small dict of numbers read off the profile.

It runs on every scoring, so it only reads stored fields and decays three sums; nothing here
walks the purchase history.

The model is asked about every buyer, including customers silent for years, but learns from
labels that are at most H days old, so it sees long silences and long tenures less often than
it is asked about them. A linear model extrapolates a raw count of days linearly, and a weight
learnt on short silences (tenure, say) can then rank a long-lapsed one-time buyer as safe. So
every feature is bounded or grows like a logarithm, and silence enters through features that
only rise with it:

- ``recency_log`` and ``overdue_log``: the silence in days, and in usual gaps;
- ``dropout_evidence``: how unlikely the silence is for a buyer who is still active, as in
  BG/NBD (Fader, Hardie and Lee, 2005), whose odds of having dropped out grow like
  ``((alpha + T) / (alpha + t_x)) ** (r + x)``; with the population's prior gap as ``alpha``
  and the purchase count for ``r + x``, this is that exponent's log.

Skewed amounts are taken as ``log1p`` so one large order does not dominate. A missing survey
answer is imputed with a middling score and flagged, so the model can learn what "never
answered" means on its own.

>>> from stream.core.config import DAY, EngineConfig
>>> from stream.core.profile import Profile
>>> profile = Profile("c1", 0.0)
>>> profile.first_purchase_ts = profile.last_purchase_ts = 0.0
>>> profile.frequency, profile.purchases, profile.monetary = 1, 1, 99.0
>>> features = churn_features(profile, 60 * DAY, EngineConfig())
>>> features["recency_log"] == math.log1p(60), features["overdue_log"] == math.log1p(2.0)
(True, True)
>>> features["dropout_evidence"] == math.log1p(2.0), features["usual_gap_log"] == math.log(30)
(True, True)
>>> features["nps_missing"], features["monetary_log"] == math.log1p(99.0)
(1.0, True)
"""

from __future__ import annotations

import math

from stream.core.config import DAY, EngineConfig
from stream.core.lifecycle import RECENT_TAU_S, usual_gap_s
from stream.core.profile import Profile, decayed_value
from stream.core.rfm import spend

NEUTRAL_NPS = 7.0
NEUTRAL_CSAT = 3.0

FEATURE_NAMES = (
    "recency_log",
    "overdue_log",
    "dropout_evidence",
    "frequency_log",
    "monetary_log",
    "usual_gap_log",
    "spend_recent_log",
    "purchases_recent",
    "engagement_log",
    "interactions_log",
    "nps",
    "nps_missing",
    "csat",
    "csat_missing",
    "complaints_log",
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
    purchases = profile.purchases if profile.purchases > 1 else 1
    alpha = config.prior_gap_days * DAY
    span = last - first if last > first else 0.0
    # Spend and purchase counts share one time base, so one decay factor serves both.
    recent_at = profile.recent_at
    fade = math.exp((recent_at - now) / RECENT_TAU_S) if now > recent_at else 1.0
    spend_recent = profile.spend_recent * fade
    engagement = decayed_value(profile.engagement_recent, profile.engagement_at, now, RECENT_TAU_S)
    nps, csat = profile.nps, profile.csat
    detractor = (nps is not None and nps <= 6) or (csat is not None and csat <= 2)
    return {
        "recency_log": math.log1p(silence / DAY),
        "overdue_log": math.log1p(silence / gap),
        "dropout_evidence": purchases * math.log1p(silence / (alpha + span)),
        "frequency_log": math.log(purchases),
        "monetary_log": math.log1p(spend(profile)),
        "usual_gap_log": math.log(gap / DAY),
        "spend_recent_log": math.log1p(spend_recent if spend_recent > 0.0 else 0.0),
        "purchases_recent": profile.purchases_recent * fade,
        "engagement_log": math.log1p(engagement if engagement > 0.0 else 0.0),
        "interactions_log": math.log1p(sum(profile.interactions.values())),
        "nps": NEUTRAL_NPS if nps is None else float(nps),
        "nps_missing": 1.0 if nps is None else 0.0,
        "csat": NEUTRAL_CSAT if csat is None else float(csat),
        "csat_missing": 1.0 if csat is None else 0.0,
        "complaints_log": math.log1p(profile.complaints),
        "is_detractor": 1.0 if detractor else 0.0,
    }
