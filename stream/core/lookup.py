"""A customer's profile as of now: what ``GET /customers/{id}`` and ``customer.profiles`` show.

Scores are computed at read time against the live population, so a lookup is exact even
between the sweeps that re-score silent customers.
"""

from __future__ import annotations

from datetime import datetime

from schemas.profile import CustomerProfile
from stream.core import rfm
from stream.core.changes import event_time
from stream.core.engine import Engine
from stream.core.profile import Profile
from stream.core.segments import rfm_segment


def current_profile(engine: Engine, profile: Profile, partition: int) -> CustomerProfile:
    now = engine.clock(partition).now
    keys = rfm.keys(profile)
    scores = engine.population.score(keys) if keys is not None else None
    as_of = now if now > float("-inf") else profile.last_event_ts
    return CustomerProfile(
        customer_id=profile.customer_id,
        as_of=event_time(as_of),
        first_seen=event_time(profile.first_seen_ts),
        last_event=event_time(profile.last_event_ts),
        first_purchase=_time(profile.first_purchase_ts),
        last_purchase=_time(profile.last_purchase_ts),
        recency_days=rfm.recency_days(profile, as_of),
        frequency=profile.frequency,
        monetary=round(rfm.spend(profile), 2),
        r_score=scores.r if scores else None,
        f_score=scores.f if scores else None,
        m_score=scores.m if scores else None,
        rfm_segment=rfm_segment(scores.r, scores.f) if scores else None,
        value_tier=scores.tier if scores else None,
        lifecycle_stage=profile.lifecycle_stage,
        satisfaction=profile.satisfaction,
        nps=profile.nps,
        csat=profile.csat,
        interactions=dict(profile.interactions),
        complaints=profile.complaints,
        churn_probability=profile.churn_probability,
        churn_band=profile.churn_band,
    )


def _time(ts: float | None) -> datetime | None:
    return event_time(ts) if ts is not None else None
