"""Contracts: committed JSON Schemas match the models, and bad input gets a readable reason."""

import json
import re
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import orjson
import pytest
from pydantic import ValidationError

import schemas
from schemas.inputs import InvalidInput, parse_input
from schemas.outputs import SegmentChange
from stream.cli import main
from stream.config import Topics
from tests.bad_inputs import CORPUS, GOOD, NOT_PLAIN, event
from tests.contracts import validator

README = Path(__file__).resolve().parents[2] / "README.md"
INPUTS = set(Topics().inputs)


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


_bad = event


@pytest.mark.parametrize("bad", [b for b in CORPUS if b.in_the_value], ids=lambda b: b.name)
def test_bad_input_is_refused_with_a_reason_in_plain_words(bad):
    with pytest.raises(InvalidInput) as refused:
        parse_input(bad.kind, bad.value, max_bytes=1_000_000)
    reason = str(refused.value)
    assert bad.reason in reason
    assert not any(words in reason for words in NOT_PLAIN), reason


def test_the_committed_schemas_refuse_every_bad_input_they_can_see():
    """A producer validating against our schemas meets the worker's rules: of the corpus's bad
    inputs, a schema accepts only those it cannot tell from good ones, for the reason listed."""
    topics = Topics()
    schema_of = {
        "purchase": validator(topics.purchases),
        "interaction": validator(topics.interactions),
        "survey": validator(topics.surveys),
    }
    accepted = {}
    for bad in CORPUS:
        if bad.value is None:
            continue  # a tombstone: no value to validate
        try:
            value = json.loads(bad.value)  # as Python's json reads it, NaN and Infinity too
        except ValueError:
            continue  # not JSON: no schema accepts it
        if schema_of[bad.kind].is_valid(value):
            accepted[bad.name] = bad.schema_allows
    assert accepted == {bad.name: bad.schema_allows for bad in CORPUS if bad.schema_allows}


def test_exported_schemas_accept_the_interaction_types_and_currencies_of_the_settings(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("STREAM_ENGINE_EXTRA_INTERACTION_TYPES", "teleport, beam_up")
    monkeypatch.setenv("STREAM_ENGINE_CURRENCY", "EUR")
    monkeypatch.setenv("STREAM_ENGINE_FX_RATES", "USD=0.92")
    assert main(["schemas", "export", str(tmp_path)]) == 0

    def checks(topic):
        schema = json.loads((tmp_path / f"{topic}.schema.json").read_text())
        return jsonschema.Draft202012Validator(schema)

    interactions, purchases = checks(Topics().interactions), checks(Topics().purchases)
    for kind, checked in (("interaction", interactions), ("purchase", purchases)):
        assert checked.is_valid(json.loads(event(kind)))
    assert interactions.is_valid(json.loads(event("interaction", type="teleport")))
    assert not interactions.is_valid(json.loads(event("interaction", type="warp")))
    for currency, accepted in (("usd", True), ("Eur", True), ("GBP", False)):
        assert purchases.is_valid(json.loads(event("purchase", currency=currency))) is accepted


def test_a_reason_names_the_value_and_its_summary_does_not():
    """So that ``stream replay`` counts a thousand negative amounts as one reason."""
    summaries = set()
    for amount in (-1, -2.5):
        with pytest.raises(InvalidInput) as refused:
            parse_input("purchase", _bad("purchase", amount=amount), max_bytes=10_000)
        assert str(refused.value) == f"invalid purchase: amount {amount} is below 0"
        summaries.add(refused.value.summary)
    assert summaries == {"invalid purchase: amount is below 0"}


def test_events_ahead_of_the_wall_clock_share_one_summary():
    summaries = set()
    for ts in ("2031-01-01T00:00:00Z", "2031-01-01T00:00:01Z", "9999-12-31T23:59:59Z"):
        with pytest.raises(InvalidInput) as refused:
            parse_input("purchase", _bad("purchase", ts=ts), max_bytes=10_000)
        assert str(refused.value).startswith(f'ts "{ts[:-1]}+00:00" is more than a day ahead')
        summaries.add(refused.value.summary)
    assert summaries == {
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


def _readme_section(start: str, end: str) -> str:
    text = README.read_text()
    return text[text.index(start) : text.index(end, text.index(start))]


def test_the_readmes_input_table_and_interaction_types_are_the_schemas():
    committed = {
        topic: json.loads((schemas.COMMITTED_DIR / f"{topic}.schema.json").read_text())
        for topic in schemas.TOPIC_MODELS
    }
    rows = _readme_section("| input topic |", "\n\n").splitlines()[2:]
    tabled = {}
    for row in rows:
        topic, _, fields = (cell.strip() for cell in row.strip("|").split("|"))
        tabled[topic.strip("`")] = re.findall(r"`(\w+)`", fields)
    for topic, fields in tabled.items():
        schema = committed[topic]
        either = [branch["required"][0] for branch in schema.get("anyOf", [])]
        assert fields == schema["required"] + either, topic
    assert set(tabled) == INPUTS

    outputs = _readme_section("| output topic |", "\n\n").splitlines()[2:]
    assert {re.findall(r"`([\w.-]+)`", row)[0] for row in outputs} == set(committed) - INPUTS

    listed = _readme_section("The accepted interaction `type`s", "and those of")
    types = re.findall(r"`(\w+)`", listed.split(":", 1)[1])
    schema = committed[Topics().interactions]
    assert types == schema["properties"]["type"]["enum"]
