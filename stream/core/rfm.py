"""Recency, frequency and monetary values of one customer, updated purchase by purchase.

Lifetime by default; with a rolling window (``window_days``) frequency and spend count only
the orders inside the window, which :func:`expire` trims as the clock moves on. A refund
lowers spend and is not a purchase. In the window it is filed under the order it names, so the
two leave together, and an order counts its spend less its refunds but never below nothing: a
refund of an order the window does not hold (yet) takes nothing off the others. The lifetime
total keeps no orders, so it is the true sum of purchases less refunds, which does not depend
on arrival order: a refund that arrives before its order takes it below zero until the order
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


def apply_purchase(
    profile: Profile,
    purchase: Purchase,
    rate: float,
    ts: float,
    now: float,
    window_s: float | None,
) -> None:
    """Count the purchase (or refund), its amount times ``rate`` into the base currency."""
    amount = purchase.amount * rate
    if purchase.refund:
        amount = -amount
    if window_s is not None:
        _file(profile, purchase.order_id, ts, amount, purchase.refund)
        # Orders due to leave before the customer's due time (a late one already outside)
        # must not count in the scores this purchase announces.
        if not expire(profile, now, window_s):
            _recount(profile)
    else:
        profile.monetary += amount
        if not purchase.refund:
            profile.frequency += 1
    # Recent spend is net of refunds, each counted at its own time as orders are: returning
    # the latest orders is spend falling too.
    profile.spend_recent, _ = decayed_add(
        profile.spend_recent, profile.recent_at, amount, ts, RECENT_TAU_S
    )
    profile.purchases_recent, profile.recent_at = decayed_add(
        profile.purchases_recent,
        profile.recent_at,
        0.0 if purchase.refund else 1.0,
        ts,
        RECENT_TAU_S,
    )
    if purchase.refund:
        return
    profile.purchases += 1
    if profile.first_purchase_ts is None or ts < profile.first_purchase_ts:
        profile.first_purchase_ts = ts
    last = profile.last_purchase_ts
    if last is None or ts > last:
        profile.previous_purchase_ts = last
        profile.last_purchase_ts = ts
    elif ts < last and (profile.previous_purchase_ts is None or ts > profile.previous_purchase_ts):
        # Of the times before the last: two orders the day a customer came back (a history
        # with dates only) still leave the silence before them.
        profile.previous_purchase_ts = ts


def expire(profile: Profile, now: float, window_s: float | None) -> bool:
    """Drop orders that left the rolling window; True if frequency or spend changed."""
    if window_s is None or not profile.window:
        return False
    start = now - window_s
    kept = {order: entry for order, entry in profile.window.items() if entry[0] > start}
    if len(kept) == len(profile.window):
        return False
    profile.window = kept
    _recount(profile)
    return True


def next_expiry(profile: Profile, window_s: float | None) -> float:
    """When the oldest order leaves the rolling window (inf: never)."""
    if window_s is None or not profile.window:
        return math.inf
    return min(entry[0] for entry in profile.window.values()) + window_s


def _file(profile: Profile, order_id: str, ts: float, amount: float, refund: bool) -> None:
    """Add a purchase or refund to its order's entry in the window.

    The entry is timed by the order's earliest purchase, or by its earliest refund while no
    purchase of it has arrived: the same time whatever order they arrive in, and a refund
    that arrived first moves to its order's time when the order comes.
    """
    if profile.window is None:
        profile.window = {}
    entry = profile.window.get(order_id)
    if entry is None:
        profile.window[order_id] = [ts, amount, 0.0 if refund else 1.0]
        return
    if refund:
        if entry[2] == 0.0 and ts < entry[0]:
            entry[0] = ts
    else:
        if entry[2] == 0.0 or ts < entry[0]:
            entry[0] = ts
        entry[2] += 1.0
    entry[1] += amount


def _recount(profile: Profile) -> None:
    assert profile.window is not None
    entries = profile.window.values()
    profile.frequency = int(sum(entry[2] for entry in entries))
    profile.monetary = sum(entry[1] for entry in entries if entry[2] and entry[1] > 0.0)
