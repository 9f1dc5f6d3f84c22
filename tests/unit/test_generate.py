"""The synthetic workload: reproducible, exact in size, valid, and faithful to its personas."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas.inputs import parse_input
from stream.cli import main
from stream.config import Topics
from stream.tools.generate import PERSONAS, generate, topic_for

DAYS = 365


@pytest.fixture(scope="module")
def workload():
    return generate(customers=600, events=9000, days=DAYS, seed=3)


@pytest.fixture(scope="module")
def by_customer(workload):
    events = defaultdict(list)
    for event in workload.events:
        events[event["customer_id"]].append(event)
    return events


def _when(event) -> datetime:
    return datetime.fromisoformat(event["ts"])


def _of(workload, persona):
    return [c for c, p in workload.personas.items() if p == persona]


def _purchases(events):
    return [e for e in events if e["event_type"] == "purchase"]


def test_same_seed_same_events_other_seed_other_events():
    first = generate(customers=50, events=700, days=90, seed=1)
    again = generate(customers=50, events=700, days=90, seed=1)
    other = generate(customers=50, events=700, days=90, seed=2)
    assert first.events == again.events and first.personas == again.personas
    assert first.events != other.events


@pytest.mark.parametrize(("customers", "events"), [(1, 5), (7, 100), (300, 2345)])
def test_exactly_the_requested_number_of_events(customers, events):
    assert len(generate(customers=customers, events=events, days=30).events) == events


def test_too_few_events_for_the_personas_is_refused():
    with pytest.raises(ValueError, match="too few"):
        generate(customers=100, events=100)


def test_every_event_is_valid_unique_in_time_order_and_inside_the_period(workload):
    for event in workload.events:
        parsed = parse_input(event["event_type"], orjson.dumps(event), max_bytes=10_000)
        assert parsed.event_type == event["event_type"]
        assert event["schema_version"] == 1
        if event["event_type"] == "purchase":
            assert event["currency"] == "EUR"
    times = [_when(e) for e in workload.events]
    assert times == sorted(times)
    assert workload.start <= times[0] and times[-1] < workload.end
    assert workload.end - workload.start == timedelta(days=DAYS)
    assert times[0].tzinfo is not None
    assert len({e["event_id"] for e in workload.events}) == len(workload.events)


def test_persona_mix_follows_the_shares(workload):
    counts = workload.persona_counts()
    assert sum(counts.values()) == 600
    for name, persona in PERSONAS.items():
        assert counts[name] == round(600 * persona.share)


def test_one_off_customers_buy_exactly_once_and_prospects_never(workload, by_customer):
    assert all(len(_purchases(by_customer[c])) == 1 for c in _of(workload, "one_off"))
    assert all(not _purchases(by_customer[c]) for c in _of(workload, "prospect"))


def test_fading_customers_buy_regularly_then_go_silent(workload, by_customer):
    silent_after = workload.start + timedelta(days=0.6 * DAYS)
    for customer in _of(workload, "fading"):
        assert len(_purchases(by_customer[customer])) >= 3
        assert _when(by_customer[customer][-1]) < silent_after


def test_loyal_customers_keep_buying_until_late_in_the_period(workload, by_customer):
    late = workload.start + timedelta(days=0.6 * DAYS)
    for customer in _of(workload, "loyal"):
        purchases = _purchases(by_customer[customer])
        assert len(purchases) >= 2 and _when(purchases[-1]) > late


def test_detractors_complain_and_score_low(workload, by_customer):
    for customer in _of(workload, "detractor"):
        events = by_customer[customer]
        surveys = [e for e in events if e["event_type"] == "survey"]
        assert surveys and _purchases(events)
        assert all(s.get("nps", 0) <= 6 and s.get("csat", 1) <= 2 for s in surveys)
        assert any(
            e.get("type") in {"complaint", "support_ticket", "return_request"} for e in events
        )
    others = [c for c, p in workload.personas.items() if p != "detractor"]
    assert all(
        e.get("nps", 10) >= 7 for c in others for e in by_customer[c] if e["event_type"] == "survey"
    )


def test_bargain_hunters_buy_small_baskets_after_much_browsing(workload, by_customer):
    def median_basket(persona):
        amounts = sorted(
            e["amount"] for c in _of(workload, persona) for e in _purchases(by_customer[c])
        )
        return amounts[len(amounts) // 2]

    assert median_basket("bargain_hunter") < median_basket("loyal") / 2
    hunters = [e for c in _of(workload, "bargain_hunter") for e in by_customer[c]]
    carts = sum(e.get("type") in {"add_to_cart", "product_view", "wishlist_add"} for e in hunters)
    assert carts > 2 * len(_purchases(hunters))


def test_topic_follows_event_type():
    topics = Topics()
    assert topic_for({"event_type": "purchase"}, topics) == topics.purchases
    assert topic_for({"event_type": "interaction"}, topics) == topics.interactions
    assert topic_for({"event_type": "survey"}, topics) == topics.surveys


def test_cli_writes_events_and_truth(tmp_path):
    out, truth = tmp_path / "events.jsonl", tmp_path / "truth.csv"
    args = ["generate", "--customers", "40", "--events", "500", "--days", "30", "--seed", "9"]
    code = main([*args, "--start", "2025-03-01", "--out", str(out), "--truth", str(truth)])

    assert code == 0
    lines = out.read_bytes().splitlines()
    expected = generate(40, 500, 30, 9, datetime(2025, 3, 1, tzinfo=UTC))
    assert [orjson.loads(line) for line in lines] == expected.events
    with truth.open() as rows:
        assert {r["customer_id"]: r["persona"] for r in csv.DictReader(rows)} == expected.personas


def test_cli_refuses_an_impossible_workload(capsys):
    assert main(["generate", "--customers", "100", "--events", "10", "--out", "-"]) == 2
    assert "too few" in capsys.readouterr().err


def test_purchases_are_in_the_engines_base_currency(tmp_path, monkeypatch):
    # Otherwise a shop with a base currency and no EUR rate dead-letters the whole demo.
    monkeypatch.setenv("STREAM_ENGINE_CURRENCY", "usd")
    out = tmp_path / "events.jsonl"
    args = ["generate", "--customers", "40", "--events", "500", "--out", str(out)]
    assert main(args) == 0
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert {e["currency"] for e in events if e["event_type"] == "purchase"} == {"USD"}
