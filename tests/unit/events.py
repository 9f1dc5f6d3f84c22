"""Building validated input events for core tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import orjson

from schemas.inputs import AnyInput, parse_input

START = datetime(2024, 1, 1, tzinfo=UTC)
EMITTED = datetime(2026, 11, 1, tzinfo=UTC)
_ids = itertools.count()


def at(days: float) -> datetime:
    return START + timedelta(days=days)


def _parse(kind: str, body: dict[str, object]) -> AnyInput:
    body.setdefault("event_id", f"e{next(_ids)}")
    if isinstance(body["ts"], datetime):
        body["ts"] = body["ts"].isoformat()
    return parse_input(kind, orjson.dumps(body), max_bytes=100_000)


def purchase(customer: str, day: float, amount: float = 20.0, **extra: object) -> AnyInput:
    body = {"customer_id": customer, "ts": at(day), "order_id": f"o{next(_ids)}"}
    return _parse("purchase", {**body, "amount": amount, "currency": "EUR", **extra})


def interaction(customer: str, day: float, type_: str = "page_view", **extra: object) -> AnyInput:
    body = {"customer_id": customer, "ts": at(day), "type": type_, "channel": "web"}
    return _parse("interaction", {**body, **extra})


def survey(customer: str, day: float, **scores: object) -> AnyInput:
    return _parse("survey", {"customer_id": customer, "ts": at(day), "survey_id": "s1", **scores})
