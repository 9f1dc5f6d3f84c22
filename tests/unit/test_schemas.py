"""Contracts: committed JSON Schemas match the models, and bad input gets a readable reason."""

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError

import schemas
from schemas.inputs import InvalidInput, parse_input
from schemas.outputs import SegmentChange
from stream.cli import main
from stream.config import Topics
from tests.contracts import validator

GOOD = {
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


def test_committed_json_schemas_match_the_models():
    committed = {p.name: p.read_text() for p in schemas.COMMITTED_DIR.glob("*.json")}
    assert committed == schemas.json_schemas(), "run `make schemas` and commit schemas/json"


def test_export_command_writes_one_file_per_topic(tmp_path):
    assert main(["schemas", "export", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"{t}.schema.json" for t in schemas.TOPIC_MODELS)
    for path in tmp_path.iterdir():
        assert json.loads(path.read_text())["x-topic"] in schemas.TOPIC_MODELS


def test_export_names_files_after_the_topics_as_configured(tmp_path, monkeypatch):
    for f in fields(Topics):
        monkeypatch.setenv(f"STREAM_TOPIC_{f.name.upper()}", f"tenant-a.{f.default}")
    assert main(["schemas", "export", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"tenant-a.{t}.schema.json" for t in schemas.TOPIC_MODELS)
    exported = json.loads((tmp_path / "tenant-a.customer.purchases.schema.json").read_text())
    assert exported["x-topic"] == "tenant-a.customer.purchases"
    assert exported["$id"] == "tenant-a.customer.purchases.schema.json"


@pytest.mark.parametrize("kind", GOOD)
def test_valid_events_parse_and_keep_unknown_fields(kind):
    event = parse_input(kind, orjson.dumps({**GOOD[kind], "note": "kept"}), max_bytes=10_000)
    assert event.model_extra == {"note": "kept"}
    assert event.schema_version == 1


def _bad(kind, **changes):
    body = {**GOOD[kind], **changes}
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


BAD = [
    ("purchase", b"{not json", "not valid JSON"),
    ("purchase", b"[1, 2]", "invalid purchase"),
    ("purchase", _bad("purchase", amount=-1), "amount"),
    ("purchase", _bad("purchase", amount="ten"), "amount"),
    ("purchase", _bad("purchase", ts="2026-03-01T10:00:00"), "ts"),
    ("purchase", _bad("purchase", ts="yesterday"), "ts"),
    ("purchase", _bad("purchase", customer_id=None), "customer_id"),
    ("purchase", _bad("purchase", customer_id=""), "customer_id"),
    ("purchase", _bad("purchase", currency="euro"), "currency"),
    ("purchase", _bad("purchase", event_type="survey"), "event_type"),
    ("purchase", _bad("purchase", schema_version=2), "schema_version"),
    ("interaction", _bad("interaction", type="teleport"), "unknown interaction type"),
    ("survey", _bad("survey", nps=None), "at least one of nps"),
    ("survey", _bad("survey", nps=11), "nps"),
    ("survey", _bad("survey", csat=0), "csat"),
    ("purchase", b'{"amount": 1e400}', "invalid purchase"),
    # A value that validates but breaks arithmetic downstream, and wrong types that a lax
    # parser would coerce into data.
    ("purchase", _bad("purchase", amount=1e308), "amount"),
    ("purchase", _bad("purchase", amount=True), "amount"),
    ("purchase", _bad("purchase", amount="12.5"), "amount"),
    ("purchase", _bad("purchase", ts=1_772_355_600), "ts"),
    ("purchase", _bad("purchase", refund="yes"), "refund"),
    ("purchase", _bad("purchase", schema_version=True), "schema_version"),
    ("survey", _bad("survey", nps=True), "nps"),
    ("survey", _bad("survey", nps="9"), "nps"),
    ("purchase", _bad("purchase", ts="2031-01-01T00:00:00Z"), "ahead of the wall clock"),
    ("purchase", _bad("purchase", ts="9999-12-31T23:59:59Z"), "ahead of the wall clock"),
    # Exports' placeholders for "no date"; at year 1 an offset leaves the range of dates.
    ("purchase", _bad("purchase", ts="1899-12-30T00:00:00Z"), "before 1970"),
    ("purchase", _bad("purchase", ts="0001-01-01T00:00:00+01:00"), "before 1970"),
]


@pytest.mark.parametrize(("kind", "raw", "reason"), BAD)
def test_bad_input_is_refused_with_a_reason(kind, raw, reason):
    with pytest.raises(InvalidInput, match=reason):
        parse_input(kind, raw, max_bytes=10_000)


def test_events_ahead_of_the_wall_clock_share_one_reason():
    reasons = set()
    for ts in ("2031-01-01T00:00:00Z", "2031-01-01T00:00:01Z", "9999-12-31T23:59:59Z"):
        with pytest.raises(InvalidInput) as refused:
            parse_input("purchase", _bad("purchase", ts=ts), max_bytes=10_000)
        reasons.add(str(refused.value))
    assert reasons == {
        "ts is more than a day ahead of the wall clock; check the producer's clock and time zone"
    }


def test_huge_payload_is_refused_before_parsing():
    with pytest.raises(InvalidInput, match="exceeds"):
        parse_input("purchase", b"x" * 2_000_001, max_bytes=1_000_000)


def test_an_event_a_few_hours_ahead_of_the_wall_clock_is_a_clock_skew_not_an_error():
    soon = datetime.now(UTC) + timedelta(hours=3)
    event = parse_input("purchase", _bad("purchase", ts=soon.isoformat()), max_bytes=10_000)
    assert event.ts == soon


def test_the_wall_clock_can_be_given():
    """A batch is held to one reading of the clock: ``now`` replaces ``time.time()``."""
    raw = _bad("purchase", ts="2030-01-02T00:00:00Z")
    day_before = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    assert parse_input("purchase", raw, max_bytes=10_000, now=day_before).amount == 12.5
    with pytest.raises(InvalidInput, match="ahead of the wall clock"):
        parse_input("purchase", raw, max_bytes=10_000, now=day_before - 1)


def test_a_segment_change_takes_only_the_values_of_its_dimension():
    """Triggers match on ``to``: a value of another dimension (a tier named as a lifecycle
    stage) is refused by the model and by the committed JSON Schema alike."""
    change = {
        "event_id": "x",
        "customer_id": "c1",
        "ts": "2024-05-01T00:00:00Z",
        "emitted_at": "2024-05-01T00:00:01Z",
        "dimension": "lifecycle_stage",
        "from": "mature",
        "to": "declining",
        "recency_days": 40.0,
        "frequency": 3,
        "monetary": 90.0,
        "r_score": 2,
        "f_score": 3,
        "m_score": 3,
        "reason": "no purchase for 40 days",
    }
    topic = Topics().segment_changes
    checks = validator(topic)
    SegmentChange.model_validate(change)
    checks.validate(change)
    for wrong in ({"to": "vip"}, {"from": "champions"}, {"to": "declned"}, {"ts": "yesterday"}):
        with pytest.raises(ValidationError):
            SegmentChange.model_validate({**change, **wrong})
        assert not checks.is_valid({**change, **wrong}), wrong
