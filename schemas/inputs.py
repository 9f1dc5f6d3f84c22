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
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.reasons import plain_reasons, shown

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

IDENTIFIER = r"^\S(.*\S)?$"
INTERACTION_TYPE = r"^[a-z][a-z0-9_]*$"

PATTERN_WORDS = {
    IDENTIFIER: "starts or ends with a space, or holds a line break",
    CURRENCY_CODE: "is not a three-letter ISO 4217 code such as EUR",
    INTERACTION_TYPE: "is not lower-case letters, digits and _, starting with a letter",
}
"""What each pattern of the contracts asks for, in the words of a dead-letter reason."""

Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=IDENTIFIER)]

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


SINCE_1970 = r"^(19[7-9][0-9]|[2-9][0-9]{3})-"
"""A JSON Schema's approximation of ``EARLIEST_TS``: the year of an RFC 3339 time (which the
first hours of 1970-01-01 in a zone east of UTC pass, though they are before it in UTC)."""

BEYOND_THE_SCHEMA = (
    "Beyond what this schema states, the worker also dead-letters a record whose key is not "
    "the event's customer_id (or that has no key), a tombstone, a value over "
    "STREAM_MAX_PAYLOAD_BYTES (1,000,000 bytes by default), and a ts more than a day ahead of "
    "its wall clock."
)


def _beyond_the_schema(schema: dict[str, Any]) -> None:
    """In the JSON Schema too: what the worker refuses that a JSON Schema cannot state."""
    schema["description"] = f"{schema['description']} {BEYOND_THE_SCHEMA}"


class InputEvent(BaseModel):
    model_config = ConfigDict(
        extra="allow", frozen=True, strict=True, json_schema_extra=_beyond_the_schema
    )

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Identifier
    customer_id: Identifier
    ts: AwareDatetime = Field(
        description=(
            "Event time, RFC 3339 with a timezone, from 1970-01-01T00:00:00Z on (the pattern "
            "checks the year: the first hours of 1970 in a zone east of UTC are refused too) "
            "and at most a day ahead of the worker's wall clock (a bound relative to it, which "
            "a schema cannot state)"
        ),
        json_schema_extra={"pattern": SINCE_1970},
    )

    @field_validator("schema_version", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # A literal compares by equality, and True == 1.
        if isinstance(value, bool):
            raise ValueError("is not 1")
        return value


class Purchase(InputEvent):
    """A completed order (or, with ``refund``, money given back for one)."""

    event_type: Literal["purchase"] = "purchase"
    order_id: Identifier
    amount: float = Field(
        ge=0,
        le=MAX_AMOUNT,
        description=(
            "Order value in `currency`, >= 0 and at most 10^12: a finite number (NaN and "
            "Infinity, which are not JSON but which some writers emit, are refused too)"
        ),
    )
    currency: str = Field(
        pattern=CURRENCY_CODE,
        description=(
            "ISO 4217 code, any case (read in upper case); with STREAM_ENGINE_CURRENCY set, "
            "that one or one of STREAM_ENGINE_FX_RATES"
        ),
    )
    refund: bool = Field(default=False, description="Money returned: lowers spend, not a purchase")
    items: int | None = Field(default=None, ge=0)
    channel: str | None = None
    region: str | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _finite(cls, value: object) -> object:
        # Before the bounds, which NaN fails with a misleading "is above 10^12".
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("is not a finite number")
        return value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class Interaction(InputEvent):
    """A behavioural signal: views, carts, email engagement, support contacts, complaints."""

    event_type: Literal["interaction"] = "interaction"
    type: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=INTERACTION_TYPE,
            description=(
                "One of the known types, or of STREAM_ENGINE_EXTRA_INTERACTION_TYPES (which "
                "`stream schemas export` lists here when it is set)"
            ),
            json_schema_extra={"enum": sorted(INTERACTION_TYPES)},
        ),
    ]
    channel: Identifier


def _has_a_score(schema: dict[str, Any]) -> None:
    _beyond_the_schema(schema)
    schema["anyOf"] = [
        {"required": [score], "properties": {score: {"type": "integer"}}}
        for score in ("nps", "csat")
    ]


class Survey(InputEvent):
    """A survey answer with an NPS (0-10) and/or CSAT (1-5) score."""

    model_config = ConfigDict(json_schema_extra=_has_a_score)

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
    ``unknown_currency``, ``future``. ``summary`` is the reason without the values it names,
    to count rejections by (see ``schemas.reasons``); the reason itself by default.
    """

    def __init__(
        self, reason: str, category: str = "validation", summary: str | None = None
    ) -> None:
        super().__init__(reason)
        self.category = category
        self.summary = reason if summary is None else summary


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
            f"payload of {len(raw)} bytes exceeds the {max_bytes}-byte limit",
            "too_large",
            f"payload exceeds the {max_bytes}-byte limit",
        )
    if not raw:
        raise InvalidInput(f"the value is empty (0 bytes), not a JSON {kind}", "json")
    model = INPUT_MODELS[kind]
    try:
        event = model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise InvalidInput(f"not valid JSON: {first['ctx']['error']}", "json") from None
        reason, summary = plain_reasons(exc, PATTERN_WORDS)
        raise InvalidInput(
            f"invalid {kind}: {reason}", summary=f"invalid {kind}: {summary}"
        ) from None
    if isinstance(event, Interaction) and event.type not in rules.interaction_types:
        raise InvalidInput(
            f"unknown interaction type {shown(event.type)}; "
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
    ts = shown(event.ts.isoformat())
    if event.ts.timestamp() < EARLIEST_TS:
        why = (
            "is before 1970: a placeholder date such as 0001-01-01 or 1900-01-01? No customer "
            "event is that old"
        )
        raise InvalidInput(f"ts {ts} {why}", summary=f"ts {why}")
    if event.ts.timestamp() > (time.time() if now is None else now) + MAX_CLOCK_SKEW_S:
        why = "is more than a day ahead of the wall clock; check the producer's clock and time zone"
        raise InvalidInput(f"ts {ts} {why}", "future", f"ts {why}")
    return event  # type: ignore[return-value]
