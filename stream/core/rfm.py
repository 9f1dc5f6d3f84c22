"""Recency, frequency and monetary values of one customer, updated purchase by purchase.

Lifetime by default; with a rolling window (``window_days``) frequency and spend count only
the purchases inside the window, which :func:`expire` trims as the clock moves on. A refund
lowers spend and is not a purchase. Spend is kept as the true sum so that it does not depend on
arrival order: a refund that arrives before its order takes it below zero until the order
arrives. So it is clamped where it is read: :func:`spend` for what is shown, and the scoring
keys (``rfm_keys``) and churn features clamp it alike.
"""

from __future__ import annotations

import math

from schemas.inputs import Purchase
from stream.core.config import DAY
from stream.core.lifecycle import RECENT_TAU_S
from stream.core.profile import Profile, decayed_add
from stream.core.scores import RfmKeys, rfm_keys


def keys(profile: Profile) -> RfmKeys | None:
    """The customer's place in the population, or None before their first purchase."""
    if profile.last_purchase_ts is None:
        return None
    return rfm_keys(profile.last_purchase_ts, profile.frequency, profile.monetary)


def spend(profile: Profile) -> float:
    """Spend as shown: a refund that came before its order counts as nothing spent yet."""
    return profile.monetary if profile.monetary > 0.0 else 0.0


def recency_days(profile: Profile, now: float) -> float | None:
    if profile.last_purchase_ts is None:
        return None
    return round(max(0.0, now - profile.last_purchase_ts) / DAY, 3)


def apply_purchase(profile: Profile, purchase: Purchase, ts: float, window_s: float | None) -> None:
    amount = -purchase.amount if purchase.refund else purchase.amount
    if window_s is not None:
        if profile.window is None:
            profile.window = []
        profile.window.append([ts, amount, 0.0 if purchase.refund else 1.0])
        _recount(profile)
    else:
        profile.monetary += amount
        if not purchase.refund:
            profile.frequency += 1
    if purchase.refund:
        return
    profile.purchases += 1
    if profile.first_purchase_ts is None or ts < profile.first_purchase_ts:
        profile.first_purchase_ts = ts
    if profile.last_purchase_ts is None or ts > profile.last_purchase_ts:
        profile.last_purchase_ts = ts
    profile.spend_recent, _ = decayed_add(
        profile.spend_recent, profile.recent_at, amount, ts, RECENT_TAU_S
    )
    profile.purchases_recent, profile.recent_at = decayed_add(
        profile.purchases_recent, profile.recent_at, 1.0, ts, RECENT_TAU_S
    )


def expire(profile: Profile, now: float, window_s: float | None) -> bool:
    """Drop purchases that left the rolling window; True if frequency or spend changed."""
    if window_s is None or not profile.window:
        return False
    start = now - window_s
    kept = [entry for entry in profile.window if entry[0] > start]
    if len(kept) == len(profile.window):
        return False
    profile.window = kept
    _recount(profile)
    return True


def next_expiry(profile: Profile, window_s: float | None) -> float:
    """When the oldest purchase leaves the rolling window (inf: never)."""
    if window_s is None or not profile.window:
        return math.inf
    return min(entry[0] for entry in profile.window) + window_s


def _recount(profile: Profile) -> None:
    assert profile.window is not None
    profile.frequency = int(sum(entry[2] for entry in profile.window))
    profile.monetary = sum(entry[1] for entry in profile.window)
