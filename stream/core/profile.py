"""The per-customer profile: what the engine remembers about one customer between events.

Everything here is updated incrementally and in a way that does not depend on arrival order
within the allowed lateness: counts and sums add up, first/last are min/max, and recent
activity is an exponentially decayed sum that a late event can still join exactly.
"""

from __future__ import annotations

import math
from typing import Any

SLOTS = (
    "customer_id",
    "first_seen_ts",
    "last_event_ts",
    # Purchases
    "first_purchase_ts",
    "last_purchase_ts",
    "previous_purchase_ts",
    "frequency",
    "purchases",
    "monetary",
    "window",
    "spend_recent",
    "purchases_recent",
    "recent_at",
    # Interactions and surveys
    "interactions",
    "complaints",
    "engagement_recent",
    "engagement_at",
    "nps",
    "csat",
    "survey_ts",
    # Derived dimensions (the last values emitted)
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "value_tier",
    "lifecycle_stage",
    "satisfaction",
    "churn_probability",
    "churn_band",
    # Bookkeeping
    "evaluated_at",
    "next_due",
    "recent_ids",
    "purchase_ids",
)


class Profile:
    """One customer's incremental state. Plain attributes, serialised as a dict."""

    __slots__ = SLOTS

    customer_id: str
    first_seen_ts: float
    last_event_ts: float
    first_purchase_ts: float | None
    last_purchase_ts: float | None
    previous_purchase_ts: float | None
    """The latest purchase time before the last one (whatever the arrival order): a gap of
    the churn horizon between the two makes the customer reactivated."""
    frequency: int
    purchases: int
    """Purchases ever made, refunds not counted: the cadence reads these, so a rolling window
    that trims ``frequency`` does not make a one-time buyer look like a new one again."""
    monetary: float
    """Spend less refunds: over a lifetime the true sum, below zero while a refund is ahead of
    its order (read it through ``rfm.spend``); in a rolling window each order's own, at least
    nothing."""
    window: dict[str, list[float]] | None
    """With a rolling window: per order id, [time, spend less refunds, purchases]."""
    spend_recent: float
    purchases_recent: float
    recent_at: float
    interactions: dict[str, int]
    complaints: int
    engagement_recent: float
    engagement_at: float
    nps: int | None
    csat: int | None
    survey_ts: float | None
    r_score: int | None
    f_score: int | None
    m_score: int | None
    rfm_segment: str | None
    value_tier: str | None
    lifecycle_stage: str | None
    satisfaction: str | None
    churn_probability: float | None
    churn_band: str | None
    evaluated_at: float
    """When the lifecycle stage and churn risk were last assessed together; the churn risk's
    re-check counts from here."""
    next_due: float | None
    """When the customer must next be re-evaluated with no input (None: only on input)."""
    recent_ids: list[str]
    """The latest event ids of interactions and surveys."""
    purchase_ids: list[str]
    """The latest event ids of purchases and refunds, apart so that a burst of page views does
    not push them out: a replayed purchase would count twice."""

    def __init__(self, customer_id: str, first_seen_ts: float) -> None:
        self.customer_id = customer_id
        self.first_seen_ts = first_seen_ts
        self.last_event_ts = first_seen_ts
        self.first_purchase_ts = None
        self.last_purchase_ts = None
        self.previous_purchase_ts = None
        self.frequency = 0
        self.purchases = 0
        self.monetary = 0.0
        self.window = None
        self.spend_recent = 0.0
        self.purchases_recent = 0.0
        self.recent_at = first_seen_ts
        self.interactions = {}
        self.complaints = 0
        self.engagement_recent = 0.0
        self.engagement_at = first_seen_ts
        self.nps = None
        self.csat = None
        self.survey_ts = None
        self.r_score = None
        self.f_score = None
        self.m_score = None
        self.rfm_segment = None
        self.value_tier = None
        self.lifecycle_stage = None
        self.satisfaction = None
        self.churn_probability = None
        self.churn_band = None
        self.evaluated_at = first_seen_ts
        self.next_due = None
        self.recent_ids = []
        self.purchase_ids = []

    @property
    def is_buyer(self) -> bool:
        return self.frequency > 0 or self.last_purchase_ts is not None

    def to_state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SLOTS}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Profile:
        if "purchases" not in state:  # saved before it was kept; right without a window
            state = {**state, "purchases": state["frequency"]}
        if "previous_purchase_ts" not in state:
            state = {**state, "previous_purchase_ts": _previous_purchase(state)}
        if "purchase_ids" not in state:  # saved when one list held every kind
            state = {**state, "purchase_ids": []}
        if isinstance(state["window"], list):
            # Saved as one entry per event, before refunds were filed under their order. The
            # keys cannot clash with an order id, which never starts with a space.
            window = {f" {i}": entry for i, entry in enumerate(state["window"])}
            state = {**state, "window": window}
        profile = cls.__new__(cls)
        for name in SLOTS:
            setattr(profile, name, state[name])
        return profile

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Profile) and self.to_state() == other.to_state()

    def __repr__(self) -> str:
        return (
            f"Profile({self.customer_id!r}, rfm={self.rfm_segment}, stage={self.lifecycle_stage})"
        )


def _previous_purchase(state: dict[str, Any]) -> float | None:
    """For a profile saved with the time it was reactivated instead: a previous purchase that
    keeps its stage (the first, a horizon or more before a reactivating last; none known
    otherwise, until the next purchase or a late one)."""
    last: float | None = state["last_purchase_ts"]
    if last is None or state.get("reactivated_ts") != last:
        return None
    first: float = state["first_purchase_ts"]
    return first


def decayed_add(
    value: float, at: float, amount: float, ts: float, tau_s: float
) -> tuple[float, float]:
    """Add ``amount`` at ``ts`` to a sum decayed with time constant ``tau_s``, held as of ``at``.

    The result is the same whatever order the amounts arrive in (a late one is discounted to
    ``at``; a newer one moves ``at`` forward), which keeps the profile order-independent.
    """
    if ts <= at:
        return value + amount * math.exp((ts - at) / tau_s), at
    return value * math.exp((at - ts) / tau_s) + amount, ts


def decayed_value(value: float, at: float, now: float, tau_s: float) -> float:
    """The decayed sum as seen at ``now``."""
    return value * math.exp((at - now) / tau_s) if now > at else value
