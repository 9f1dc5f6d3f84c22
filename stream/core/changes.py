"""Turning a profile's moved dimensions into output events with deterministic ids.

The id hashes the customer, the cause (an input ``event_id``, or the clock time of a tick)
and what changed, so replaying the same input history yields the same ids and a consumer
can de-duplicate after a restart.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from schemas.outputs import SegmentChange
from stream.core.profile import Profile
from stream.core.rfm import recency_days


def output_id(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def event_time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def segment_change(
    profile: Profile,
    dimension: str,
    old: str | None,
    new: str | None,
    reason: str,
    *,
    now: float,
    cause_id: str,
    cause_ts: float,
    emitted_at: datetime,
) -> SegmentChange:
    return SegmentChange(
        event_id=output_id(profile.customer_id, cause_id, dimension, str(old), str(new)),
        customer_id=profile.customer_id,
        ts=event_time(cause_ts),
        emitted_at=emitted_at,
        dimension=dimension,
        from_=old,
        to=new,
        recency_days=recency_days(profile, now),
        frequency=profile.frequency,
        monetary=round(profile.monetary, 2),
        r_score=profile.r_score,
        f_score=profile.f_score,
        m_score=profile.m_score,
        reason=reason,
    )
