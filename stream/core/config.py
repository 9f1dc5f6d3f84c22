"""Engine thresholds, with the defaults the README documents.

Every field can be set from the environment as ``STREAM_ENGINE_<FIELD>`` (upper case), for
example ``STREAM_ENGINE_CHURN_HORIZON_DAYS=60``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

DAY = 86_400.0


class EngineConfigError(ValueError):
    """A threshold is malformed; the message names the environment variable."""


@dataclass(frozen=True)
class EngineConfig:
    # The clock
    allowed_lateness_s: float = 3600.0
    """How far behind the partition's newest event time an event may arrive and still count."""
    reevaluation_interval_s: float = DAY
    """Every customer is re-scored at least this often (event time), even with no input."""

    # RFM
    window_days: float = 0.0
    """Rolling window for frequency and monetary; 0 means lifetime."""

    # Lifecycle
    churn_horizon_days: float = 90.0
    """Silence longer than this makes a customer `churned` (and is the churn-risk horizon)."""
    growing_tenure_days: float = 180.0
    """Repeat buyers with less tenure than this are `growing`."""
    prior_gap_days: float = 30.0
    """Population prior for the gap between purchases, used while a customer has few."""
    prior_weight: float = 2.0
    """How many gaps the prior counts for when blended with the customer's own gaps."""
    declining_overdue_ratio: float = 2.0
    """`declining` once the silence exceeds this many times the customer's usual gap."""
    declining_spend_ratio: float = 0.5
    """`declining` when recent orders' value falls below this share of the customer's usual
    order value and engagement falls too (or there is no engagement to judge by)."""
    growing_rate_ratio: float = 2.0
    """`growing` when the recent purchase rate is this many times the customer's usual rate."""

    # Churn risk
    churn_step: float = 0.1
    """A churn-risk event is emitted when the probability moves by more than this."""
    churn_hysteresis: float = 0.03
    """A band changes only once the probability is this far past the boundary."""

    # Deduplication and inputs
    dedup_ids_per_customer: int = 64
    """How many recent event ids per customer are remembered to drop replays."""
    extra_interaction_types: str = ""
    """Comma-separated interaction types to accept besides the built-in ones."""

    def __post_init__(self) -> None:
        for name in ("reevaluation_interval_s", "churn_horizon_days", "prior_gap_days"):
            if getattr(self, name) <= 0:
                raise EngineConfigError(f"STREAM_ENGINE_{name.upper()} must be above 0")
        if self.dedup_ids_per_customer < 1:
            raise EngineConfigError("STREAM_ENGINE_DEDUP_IDS_PER_CUSTOMER must be at least 1")
        if not 0 < self.churn_hysteresis < 0.33:
            raise EngineConfigError("STREAM_ENGINE_CHURN_HYSTERESIS must be in (0, 0.33)")

    @property
    def churn_horizon_s(self) -> float:
        return self.churn_horizon_days * DAY

    @property
    def window_s(self) -> float | None:
        return self.window_days * DAY if self.window_days > 0 else None

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> EngineConfig:
        """Build from ``{"churn_horizon_days": "60", ...}`` as read from the environment."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, object] = {}
        for key, raw in values.items():
            if key not in known:
                raise EngineConfigError(
                    f"STREAM_ENGINE_{key.upper()} is not a setting; "
                    f"known: {', '.join(sorted(known))}"
                )
            kind: type = type(known[key].default)
            try:
                kwargs[key] = kind(raw)
            except ValueError:
                raise EngineConfigError(
                    f"STREAM_ENGINE_{key.upper()}={raw!r} is not a {kind.__name__}"
                ) from None
        return cls(**kwargs)  # type: ignore[arg-type]
