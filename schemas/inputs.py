"""Input event contracts for the three input topics (DOMAIN.md, "Inputs").

Unknown fields are kept (``extra="allow"``), timestamps must carry a timezone, and every
event carries ``schema_version``. Types are strict: ``"12.5"`` or ``true`` is not an amount,
``true`` is not an NPS, and a number is not a timestamp, so a producer's bug is dead-lettered
instead of being read as data. ``parse_input`` is the one door through which bytes from a
topic or a file become a validated event; anything it refuses becomes a dead letter with the
reason it raises.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

SCHEMA_VERSION: Literal[1] = 1

MAX_AMOUNT = 1e12
"""No single order is worth more, in any currency: a larger amount is a producer's bug (and
sums of amounts near the float limit would overflow the scores)."""
MAX_CLOCK_SKEW_S = 86_400.0
"""How far past the wall clock an event time may be. A later one is a producer's bug: let in,
it would move its partition's clock years ahead and churn every customer on it."""

EARLIEST_TS = 0.0
"""No event time comes before 1970-01-01 UTC: an older one is an export's placeholder for "no
date" (0001-01-01, 1899-12-30, 1900-01-01), and at year 1 a timezone offset even takes it
out of the range of dates."""

CURRENCY_CODE = r"^[A-Za-z]{3}$"
"""An ISO 4217 code as a purchase carries it: three letters, read in upper case (some payment
APIs send ``usd``)."""

Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")]

INTERACTION_TYPES = frozenset(
    {
        "page_view",
        "product_view",
        "search",
        "add_to_cart",
        "remove_from_cart",
        "checkout_start",
        "wishlist_add",
        "email_open",
        "email_click",
        "push_open",
        "sms_click",
        "app_open",
        "login",
        "review",
        "return_request",
        "unsubscribe",
        "support_ticket",
        "complaint",
    }
)
"""Known interaction types; others are rejected so a typo never becomes a silent new type.
Teams add their own with ``STREAM_ENGINE_EXTRA_INTERACTION_TYPES``."""


class InputEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Identifier
    customer_id: Identifier
    ts: AwareDatetime = Field(description="Event time, RFC 3339 with a timezone")

    @field_validator("schema_version", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # A literal compares by equality, and True == 1.
        if isinstance(value, bool):
            raise ValueError("schema_version must be the number 1")
        return value


class Purchase(InputEvent):
    """A completed order (or, with ``refund``, money given back for one)."""

    event_type: Literal["purchase"] = "purchase"
    order_id: Identifier
    amount: float = Field(
        ge=0, le=MAX_AMOUNT, description="Order value in `currency`, >= 0 and at most 10^12"
    )
    currency: str = Field(
        pattern=CURRENCY_CODE, description="ISO 4217 code, any case (read in upper case)"
    )
    refund: bool = Field(default=False, description="Money returned: lowers spend, not a purchase")
    items: int | None = Field(default=None, ge=0)
    channel: str | None = None
    region: str | None = None

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("amount must be a finite number")
        return value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class Interaction(InputEvent):
    """A behavioural signal: views, carts, email engagement, support contacts, complaints."""

    event_type: Literal["interaction"] = "interaction"
    type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
    channel: Identifier


class Survey(InputEvent):
    """A survey answer with an NPS (0-10) and/or CSAT (1-5) score."""

    event_type: Literal["survey"] = "survey"
    survey_id: Identifier
    nps: int | None = Field(default=None, ge=0, le=10)
    csat: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _has_a_score(self) -> Survey:
        if self.nps is None and self.csat is None:
            raise ValueError("a survey needs at least one of nps (0-10) or csat (1-5)")
        return self


AnyInput = Purchase | Interaction | Survey

INPUT_MODELS: dict[str, type[InputEvent]] = {
    "purchase": Purchase,
    "interaction": Interaction,
    "survey": Survey,
}


class InvalidInput(ValueError):
    """Input that cannot be processed; ``str(exc)`` is the readable dead-letter reason.

    ``category`` is one of ``json``, ``validation``, ``too_large``, ``unknown_type``,
    ``unknown_currency``, ``future``.
    """

    def __init__(self, reason: str, category: str = "validation") -> None:
        super().__init__(reason)
        self.category = category


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


@dataclass(frozen=True)
class InputRules:
    """What the engine's settings accept beyond what the models check."""

    interaction_types: frozenset[str] = INTERACTION_TYPES
    currencies: frozenset[str] | None = None
    """Purchase currencies with a rate to the base currency; None: any."""


def parse_input(
    kind: str,
    raw: bytes | str,
    *,
    max_bytes: int,
    rules: InputRules = InputRules(),
    now: float | None = None,
) -> AnyInput:
    """Validate one raw JSON value as an event of ``kind`` or raise :class:`InvalidInput`.

    ``now`` is the wall clock (epoch seconds) that event times may run ahead of by at most
    :data:`MAX_CLOCK_SKEW_S`; ``time.time()`` when not given. A caller that validates a batch
    passes one reading for all of it, so that every record is held to the same clock.
    """
    if len(raw) > max_bytes:
        raise InvalidInput(
            f"payload of {len(raw)} bytes exceeds the {max_bytes}-byte limit", "too_large"
        )
    model = INPUT_MODELS[kind]
    try:
        event = model.model_validate_json(raw)
    except ValidationError as exc:
        if exc.errors()[0]["type"] == "json_invalid":
            raise InvalidInput(f"not valid JSON: {exc.errors()[0]['msg']}", "json") from None
        raise InvalidInput(f"invalid {kind}: {_reason(exc)}") from None
    if isinstance(event, Interaction) and event.type not in rules.interaction_types:
        raise InvalidInput(
            f"unknown interaction type {event.type!r}; "
            "add it to STREAM_ENGINE_EXTRA_INTERACTION_TYPES to accept it",
            "unknown_type",
        )
    if (
        isinstance(event, Purchase)
        and rules.currencies is not None
        and event.currency not in rules.currencies
    ):
        raise InvalidInput(
            f"currency {event.currency} is neither STREAM_ENGINE_CURRENCY nor in "
            "STREAM_ENGINE_FX_RATES; add its rate there to count its purchases",
            "unknown_currency",
        )
    if event.ts.timestamp() < EARLIEST_TS:
        raise InvalidInput(
            "ts is before 1970: a placeholder date such as 0001-01-01 or 1900-01-01? No "
            "customer event is that old",
        )
    if event.ts.timestamp() > (time.time() if now is None else now) + MAX_CLOCK_SKEW_S:
        # The same words for every such event, so that counts by reason (stream replay) add
        # them up; the dead letter keeps the original bytes, ts included.
        raise InvalidInput(
            "ts is more than a day ahead of the wall clock; check the producer's clock and "
            "time zone",
            "future",
        )
    return event  # type: ignore[return-value]
