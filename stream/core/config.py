"""Engine thresholds, with the defaults the README documents.

Every field can be set from the environment as ``STREAM_ENGINE_<FIELD>`` (upper case), for
example ``STREAM_ENGINE_CHURN_HORIZON_DAYS=60``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TypeVar

from stream.core.currency import CODE, exchange_rates

DAY = 86_400.0

N = TypeVar("N", int, float)


class EngineConfigError(ValueError):
    """A threshold is malformed; the message names the field, or the ``STREAM_ENGINE_*``
    variable when the value came from the environment."""


class BadValue(EngineConfigError):
    """A field's value the engine cannot run with; ``from_mapping`` renames it to its
    variable."""

    def __init__(self, field: str, value: object, violation: str) -> None:
        super().__init__(f"{field}={value!r} {violation}")
        self.field = field
        self.violation = violation


def parse_number(raw: str, kind: type[N]) -> N:
    """``raw`` as ``kind``; the ValueError says what was expected, for the caller to prefix
    with the setting's name."""
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"is not {'a whole number' if kind is int else 'a number'}") from None


@dataclass(frozen=True)
class Bounds:
    """The values a number setting accepts: never nan or infinite, whatever the bounds."""

    low: float
    high: float = math.inf
    low_open: bool = False
    """Whether ``low`` itself is excluded."""
    high_open: bool = True

    def check(self, value: float) -> None:
        """Raise a ValueError saying what is wrong with ``value``, for the caller to prefix
        with the setting's name."""
        if not math.isfinite(value):
            raise ValueError("is not a finite number")
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        if not (above and below):
            raise ValueError(f"must be {self}")

    def __str__(self) -> str:
        if self.high == math.inf:
            return f"{'above' if self.low_open else 'at least'} {self.low}"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"in {left}{self.low}, {self.high}{right}"


@dataclass(frozen=True)
class EngineConfig:
    # The clock
    allowed_lateness_s: float = 3600.0
    """How far behind the partition's newest event time an event may arrive and still count."""
    reevaluation_interval_s: float = DAY
    """The least spacing of a silent customer's churn re-checks (event time); due times are
    kept to 1/24 of it."""
    score_sweep_s: float = 3600.0
    """How often (event time) silent buyers' scores are brought back to the exact definition
    against the population: between sweeps only buyers are re-scored, and one purchase can
    move a cut point across a whole group of tied customers."""

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
    order value and engagement falls too (judged from ``declining_min_interactions`` on)."""
    declining_min_interactions: int = 10
    """Interactions a customer needs before their engagement can be said to fall: with fewer
    there is no trend, so smaller orders alone never make them `declining`."""
    growing_rate_ratio: float = 2.0
    """`growing` when the recent purchase rate is this many times the customer's usual rate."""

    # Churn risk
    churn_step: float = 0.1
    """A churn-risk event is emitted when the probability moves by more than this."""
    churn_hysteresis: float = 0.03
    """A band changes only once the probability is this far past the boundary."""

    # Deduplication and inputs
    dedup_ids_per_customer: int = 64
    """How many recent event ids per customer are remembered to drop replays, of purchases
    and of other events each."""
    stability_margin: float = 0.005
    """How far past a score or tier cut a customer's share must be before their score changes,
    as a share of the buyers (DOMAIN.md, Stability); 0 is the exact definition."""
    dedup_window_ids: int = 1_000_000
    """How many of the latest event ids are remembered to drop replays (24 bytes each)."""
    extra_interaction_types: str = ""
    """Comma-separated interaction types to accept besides the built-in ones."""

    # Spend
    currency: str = ""
    """The currency spend is counted in (ISO 4217); empty: amounts count as they come."""
    fx_rates: str = ""
    """``USD=0.92,GBP=1.17``: what one unit of each other accepted currency is worth in
    ``currency``; purchases in a currency without a rate are rejected."""

    def __post_init__(self) -> None:
        # The one check: direct construction, dataclasses.replace and from_mapping all pass
        # here, so a value the engine cannot run with never reaches it.
        for name, bounds in BOUNDS.items():
            value = getattr(self, name)
            try:
                bounds.check(value)
            except ValueError as exc:
                raise BadValue(name, value, str(exc)) from None
        if self.currency and not CODE.fullmatch(self.currency):
            raise BadValue(
                "currency", self.currency, "is not a three-letter ISO 4217 code such as EUR"
            )
        try:
            exchange_rates(self.currency, self.fx_rates)
        except ValueError as exc:
            raise BadValue("fx_rates", self.fx_rates, str(exc)) from None

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
                    f"STREAM_ENGINE_{key.upper()} is not a setting; known: "
                    + ", ".join(f"STREAM_ENGINE_{name.upper()}" for name in sorted(known))
                )
            kind: type = type(known[key].default)
            try:
                kwargs[key] = raw if kind is str else parse_number(raw, kind)
            except ValueError as exc:
                raise EngineConfigError(f"STREAM_ENGINE_{key.upper()}={raw!r} {exc}") from None
        try:
            return cls(**kwargs)  # type: ignore[arg-type]
        except BadValue as exc:
            raise EngineConfigError(
                f"STREAM_ENGINE_{exc.field.upper()}={values[exc.field]!r} {exc.violation}"
            ) from None


BOUNDS: dict[str, Bounds] = {
    "allowed_lateness_s": Bounds(0),
    "reevaluation_interval_s": Bounds(0, low_open=True),
    "score_sweep_s": Bounds(0, low_open=True),
    "window_days": Bounds(0),  # 0 is lifetime
    "churn_horizon_days": Bounds(0, low_open=True),
    "growing_tenure_days": Bounds(0),  # 0: only a rising rate makes a buyer `growing`
    "prior_gap_days": Bounds(0, low_open=True),
    # The usual gap divides by the weight plus the customer's gaps, none at a first purchase.
    "prior_weight": Bounds(0, low_open=True),
    # Overdue means past the usual gap, falling spend below the usual value, a rising rate
    # above the usual rate (DOMAIN.md): a ratio on the wrong side of 1 inverts the stage.
    "declining_overdue_ratio": Bounds(1),
    "declining_spend_ratio": Bounds(0, 1, low_open=True, high_open=False),
    "declining_min_interactions": Bounds(1),
    "growing_rate_ratio": Bounds(1),
    # Below 0 a re-score emits an event for a risk that did not move (DOMAIN.md forbids it)
    # and 0 one for every rounding-sized move; from 1 on no move counts (10 means 10%?).
    "churn_step": Bounds(0, 1, low_open=True),
    # 0 lets a customer on a band boundary flap; from 0.33 on, `medium` never drops to `low`.
    "churn_hysteresis": Bounds(0, 0.33, low_open=True),
    "dedup_ids_per_customer": Bounds(1),
    "dedup_window_ids": Bounds(1),
    # From a fifth on a cut could lag past the next one.
    "stability_margin": Bounds(0, 0.2),
}
"""What each number field accepts; EngineConfig checks every value against it."""
