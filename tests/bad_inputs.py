"""The dead-letter test corpus: one record of every kind of input the worker rejects.

Each record says what its dead-letter reason must contain and, when the committed JSON Schema
of its topic accepts its value all the same, why that is allowed: a producer validating
against our schemas passes every other one of these as invalid too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

KEY = b"c1"
"""The key of a well-keyed record: the customer_id of the events below."""

GOOD: dict[str, dict[str, Any]] = {
    "purchase": {
        "event_id": "e1",
        "customer_id": "c1",
        "ts": "2026-03-01T10:00:00+01:00",
        "order_id": "o1",
        "amount": 12.5,
        "currency": "EUR",
    },
    "interaction": {
        "event_id": "e2",
        "customer_id": "c1",
        "ts": "2026-03-01T10:00:00Z",
        "type": "email_open",
        "channel": "email",
    },
    "survey": {
        "event_id": "e3",
        "customer_id": "c1",
        "ts": "2026-03-01T10:00:00Z",
        "survey_id": "s1",
        "nps": 6,
    },
}

WALL_CLOCK = (
    "a bound relative to the wall clock, which a JSON Schema cannot state: its description does"
)
NOT_IN_THE_VALUE = "the message key is not in the value, which is all a JSON Schema sees"


def event(kind: str, **changes: Any) -> bytes:
    """A valid event of ``kind`` with ``changes``; a change to None leaves the field out."""
    body = {**GOOD[kind], **changes}
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


def _amount(literal: bytes) -> bytes:
    """A purchase whose amount is ``literal``, as a lax JSON writer writes NaN or Infinity."""
    return event("purchase", amount=0).replace(b'"amount":0', b'"amount":' + literal)


def _in_a_month() -> str:
    return (datetime.now(UTC) + timedelta(days=30)).isoformat()


@dataclass(frozen=True)
class BadInput:
    name: str
    kind: str
    value: bytes | None
    reason: str
    """What the dead-letter reason contains."""
    key: bytes | None = KEY
    schema_allows: str | None = None
    """Why the committed JSON Schema accepts the value, or None: it refuses it."""

    @property
    def in_the_value(self) -> bool:
        """Whether the value alone is wrong (and ``parse_input`` sees it), not the record."""
        return self.value is not None and self.key == KEY


CORPUS = [
    BadInput("not json", "purchase", b"{not json", "not valid JSON"),
    BadInput("an array", "purchase", b"[1, 2]", "the value is an array, not a JSON object"),
    BadInput("null", "purchase", b"null", "the value is null, not a JSON object"),
    BadInput("negative amount", "purchase", event("purchase", amount=-1), "amount -1 is below 0"),
    BadInput(
        "amount in words",
        "purchase",
        event("purchase", amount="ten"),
        'amount "ten" is not a number',
    ),
    BadInput(
        "amount as a string",
        "purchase",
        event("purchase", amount="12.5"),
        'amount "12.5" is not a number',
    ),
    BadInput(
        "amount true", "purchase", event("purchase", amount=True), "amount true is not a number"
    ),
    BadInput(
        "huge amount",
        "purchase",
        event("purchase", amount=1e308),
        "amount 1e+308 is above 1,000,000,000,000",
    ),
    BadInput(
        "NaN amount",
        "purchase",
        _amount(b"NaN"),
        "amount NaN is not a finite number",
        schema_allows="NaN is no JSON value (RFC 8259), yet Python's json reads it, and a JSON "
        "Schema cannot refuse it: NaN compares false with every bound",
    ),
    BadInput(
        "infinite amount", "purchase", _amount(b"1e400"), "amount Infinity is not a finite number"
    ),
    BadInput(
        "ts without timezone",
        "purchase",
        event("purchase", ts="2026-03-01T10:00:00"),
        'ts "2026-03-01T10:00:00" has no timezone',
    ),
    BadInput(
        "ts in words",
        "purchase",
        event("purchase", ts="yesterday"),
        'ts "yesterday" is not an RFC 3339 date-time',
    ),
    BadInput(
        "ts as a number",
        "purchase",
        event("purchase", ts=1_772_355_600),
        "ts 1772355600 is not an RFC 3339 date-time string",
    ),
    BadInput(
        "ts before 1970",
        "purchase",
        event("purchase", ts="1899-12-30T00:00:00Z"),
        'ts "1899-12-30T00:00:00+00:00" is before 1970',
    ),
    BadInput(
        "ts in year 1",
        "purchase",
        event("purchase", ts="0001-01-01T00:00:00+01:00"),
        'ts "0001-01-01T00:00:00+01:00" is before 1970',
    ),
    BadInput(
        "ts before 1970 in UTC",
        "purchase",
        event("purchase", ts="1970-01-01T00:30:00+01:00"),
        'ts "1970-01-01T00:30:00+01:00" is before 1970',
        schema_allows="a JSON Schema can check the year of a time, not the instant it names",
    ),
    BadInput(
        "ts next month",
        "purchase",
        event("purchase", ts=_in_a_month()),
        "is more than a day ahead of the wall clock",
        schema_allows=WALL_CLOCK,
    ),
    BadInput(
        "ts in 9999",
        "purchase",
        event("purchase", ts="9999-12-31T23:59:59Z"),
        'ts "9999-12-31T23:59:59+00:00" is more than a day ahead',
        schema_allows=WALL_CLOCK,
    ),
    BadInput(
        "no customer_id", "purchase", event("purchase", customer_id=None), "customer_id is missing"
    ),
    BadInput(
        "empty customer_id",
        "purchase",
        event("purchase", customer_id=""),
        'customer_id "" is empty',
    ),
    BadInput(
        "currency in words",
        "purchase",
        event("purchase", currency="euro"),
        'currency "euro" is not a three-letter ISO 4217 code',
    ),
    BadInput(
        "on the wrong topic",
        "purchase",
        event("purchase", event_type="survey"),
        'event_type "survey" is not "purchase"',
    ),
    BadInput(
        "schema_version 2",
        "purchase",
        event("purchase", schema_version=2),
        "schema_version 2 is not 1",
    ),
    BadInput(
        "schema_version true",
        "purchase",
        event("purchase", schema_version=True),
        "schema_version true is not 1",
    ),
    BadInput(
        "refund in words",
        "purchase",
        event("purchase", refund="yes"),
        'refund "yes" is not true or false',
    ),
    BadInput(
        "unknown interaction type",
        "interaction",
        event("interaction", type="teleport"),
        'unknown interaction type "teleport"',
    ),
    BadInput(
        "survey without a score",
        "survey",
        event("survey", nps=None),
        "a survey needs at least one of nps (0-10) or csat (1-5)",
    ),
    BadInput("nps 11", "survey", event("survey", nps=11), "nps 11 is above 10"),
    BadInput("csat 0", "survey", event("survey", csat=0), "csat 0 is below 1"),
    BadInput("nps true", "survey", event("survey", nps=True), "nps true is not a whole number"),
    BadInput(
        "nps as a string", "survey", event("survey", nps="9"), 'nps "9" is not a whole number'
    ),
    BadInput(
        "too large",
        "purchase",
        event("purchase", note="x" * 1_000_000),
        "exceeds the 1000000-byte limit",
        schema_allows="a limit on the encoded bytes (STREAM_MAX_PAYLOAD_BYTES), which a JSON "
        "Schema does not see",
    ),
    BadInput("empty value", "purchase", b"", "the value is empty (0 bytes)"),
    BadInput("tombstone", "purchase", None, "the message is a tombstone (a key and no value)"),
    BadInput(
        "no key",
        "purchase",
        event("purchase"),
        'the message has no key; key every event by its customer_id, here "c1"',
        key=None,
        schema_allows=NOT_IN_THE_VALUE,
    ),
    BadInput(
        "another customer's key",
        "purchase",
        event("purchase"),
        'message key "someone-else" is not the customer_id "c1"',
        key=b"someone-else",
        schema_allows=NOT_IN_THE_VALUE,
    ),
    BadInput(
        "key not UTF-8",
        "purchase",
        event("purchase"),
        "message key of 2 bytes that are not UTF-8 (hex fffe)",
        key=b"\xff\xfe",
        schema_allows=NOT_IN_THE_VALUE,
    ),
]

NOT_PLAIN = ("b'", 'b"', "None", "Traceback", "Input should", "String should", "Field required")
"""What no reason shows: Python reprs, pydantic's own words, tracebacks."""
