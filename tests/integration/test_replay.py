"""``stream replay`` into the embedded broker: each valid line on its topic, keyed by
customer, in event-time order, with the same ids on a second replay; rejects never sent."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from stream.cli import main
from stream.tools.history import NOT_A_TIME
from tests.integration.harness import deployment


@pytest.fixture
def shop(broker, tmp_path, monkeypatch):
    deployed = deployment(broker, tmp_path, partitions=2)
    for name, value in deployed.env.items():
        monkeypatch.setenv(name, value)
    return deployed


def test_a_csv_history_lands_on_the_purchases_topic(shop, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer,day,total\n"
        "c1,2024-01-05,10.5\n"
        "c2,2024-01-02,99\n"
        "c1,2024-01-01T12:00:00+02:00,3\n"
        "c3,yesterday,4\n"
        "c3,2024-01-03,-1\n"
    )
    args = ["replay", str(path), "--customer-col", "customer", "--time-col", "day"]
    assert main([*args, "--amount-col", "total", "--currency", "USD"]) == 0
    err = capsys.readouterr().err
    assert "5 lines, 3 events to send, 2 rejected" in err
    assert f"1 x day {NOT_A_TIME} (first at line 5)" in err
    assert "produced 3 events" in err

    records = shop.read(shop.topics.purchases)
    events = [orjson.loads(value) for _, value in records]
    ids = [e.pop("event_id") for e in events]
    assert [e.pop("order_id") for e in events] == ids and len(set(ids)) == 3
    assert sorted(events, key=lambda e: e["amount"]) == [
        {
            "event_type": "purchase",
            "schema_version": 1,
            "customer_id": customer,
            "ts": ts,
            "amount": amount,
            "currency": "USD",
        }
        for customer, ts, amount in [
            ("c1", "2024-01-01T12:00:00+02:00", 3.0),
            ("c1", "2024-01-05T00:00:00+00:00", 10.5),
            ("c2", "2024-01-02T00:00:00+00:00", 99.0),
        ]
    ]
    assert all(key == orjson.loads(value)["customer_id"].encode() for key, value in records)
    c1 = [e["amount"] for e in events if e["customer_id"] == "c1"]
    assert c1 == [3.0, 10.5]  # event-time order, not file order


def test_jsonl_lines_go_to_their_topics_and_a_second_replay_repeats_the_ids(shop, tmp_path, capsys):
    lines = [
        {"event_type": "purchase", "customer_id": "c1", "ts": "2024-02-01T10:00:00Z",
         "order_id": "o1", "amount": 20, "currency": "EUR"},
        {"event_type": "interaction", "event_id": "i-1", "customer_id": "c2",
         "ts": "2024-02-01T09:00:00Z", "type": "page_view", "channel": "web"},
        {"event_type": "survey", "customer_id": "c1", "ts": "2024-02-03",
         "survey_id": "nps", "nps": 10},
        {"event_type": "interaction", "customer_id": "c2", "ts": "2024-02-02T00:00:00Z",
         "type": "teleport", "channel": "web"},
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    for _ in range(2):
        assert main(["replay", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.count('1 x unknown interaction type "teleport"') == 2

    purchases = shop.read_json(shop.topics.purchases)
    interactions = shop.read_json(shop.topics.interactions)
    surveys = shop.read_json(shop.topics.surveys)
    assert [e["event_id"] for e in interactions] == ["i-1"] * 2
    assert datetime.fromisoformat(surveys[0]["ts"]).isoformat() == "2024-02-03T00:00:00+00:00"
    assert purchases[0] == purchases[1] and surveys[0] == surveys[1]
