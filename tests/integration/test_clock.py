"""The two shells agree, and silence is noticed on the wall clock in live mode."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from stream.cli import main
from stream.tools.generate import generate, write_jsonl
from tests.integration.harness import deployment


def _without_emitted_at(outputs):
    return sorted(
        orjson.dumps(
            {k: v for k, v in output.items() if k != "emitted_at"}, option=orjson.OPT_SORT_KEYS
        )
        for output in outputs
    )


@pytest.mark.parametrize(
    ("customers", "events", "days"),
    [
        (400, 6000, 120),
        # Several fetches per topic: the consumer reads the page views months ahead of the
        # purchases. Unmerged, 19,772 events came late and 117 prospects "churned" at once.
        (1500, 30_000, 365),
    ],
)
def test_live_worker_and_backtest_emit_the_same_changes(
    broker, tmp_path, monkeypatch, customers, events, days
):
    shop = deployment(broker, tmp_path, partitions=1)
    workload = generate(customers=customers, events=events, days=days, seed=21)
    history = tmp_path / "history.jsonl"
    with history.open("wb") as out:
        write_jsonl(workload.events, out)
    shop.produce_events(workload.events)
    with shop.worker() as worker:
        worker.wait_for("segmentation_processed_events_total", len(workload.events))
        assert worker.metrics()["segmentation_late_events_total"] == 0
    live = shop.read_json(shop.topics.segment_changes) + shop.read_json(shop.topics.churn_risk)

    cutoff = workload.end + timedelta(days=1)
    changes = tmp_path / "changes.jsonl"
    for key, value in shop.env.items():
        monkeypatch.setenv(key, value)
    code = main(
        ["backtest", str(history), "--cutoff", cutoff.isoformat(), "--changes-out", str(changes)]
    )
    assert code == 0
    replayed = [orjson.loads(line) for line in changes.read_bytes().splitlines()]
    # The backtest finally advances its clock to the cutoff; the worker never saw that time.
    replayed = [o for o in replayed if datetime.fromisoformat(o["ts"]) < cutoff]
    assert len(live) > 1000
    assert _without_emitted_at(live) == _without_emitted_at(replayed)


def test_a_new_group_on_several_partitions_merges_its_topics_from_the_first_fetch(broker, tmp_path):
    # A group with no committed offset has read nothing yet, which Faust records as no read
    # offset at all: taken for "read to the end", it let the page views of a partition run a
    # month ahead of purchases still unread (8,000 to 14,000 of these 40,000 came late).
    shop = deployment(broker, tmp_path, partitions=4)
    workload = generate(customers=2000, events=40_000, seed=7)
    shop.produce_events(workload.events)
    with shop.worker() as worker:
        worker.wait_for("segmentation_processed_events_total", len(workload.events))
        metrics = worker.metrics()
    assert metrics["segmentation_late_events_total"] == 0
    assert metrics["segmentation_unaligned_events_total"] == 0


def test_silent_customer_declines_within_one_interval_of_wall_time(broker, tmp_path):
    interval = 5.0
    shop = deployment(broker, tmp_path)
    settings = {
        "STREAM_CLOCK": "live",
        "STREAM_ENGINE_ALLOWED_LATENESS_S": "0",
        "STREAM_ENGINE_REEVALUATION_INTERVAL_S": str(interval),
        # A customer whose usual gap is 10 s is overdue after 20 s of silence.
        "STREAM_ENGINE_PRIOR_GAP_DAYS": str(10 / 86_400),
        "STREAM_ENGINE_PRIOR_WEIGHT": "1",
        "STREAM_ENGINE_CHURN_HORIZON_DAYS": str(600 / 86_400),
    }
    with shop.worker(**settings) as worker:
        now = datetime.now(UTC)
        purchases = [
            {
                "event_type": "purchase",
                "event_id": f"p{i}",
                "customer_id": "quiet",
                "ts": (now - timedelta(seconds=30 - 10 * i)).isoformat(),
                "order_id": f"o{i}",
                "amount": 20,
                "currency": "EUR",
            }
            for i in range(3)
        ]
        shop.produce_events(purchases)
        worker.wait_for("segmentation_processed_events_total", 3)
        due = now - timedelta(seconds=10) + timedelta(seconds=20)
        deadline = time.monotonic() + 60
        declined = []
        while not declined and time.monotonic() < deadline:
            time.sleep(1)
            declined = [
                c
                for c in shop.read_json(shop.topics.segment_changes)
                if c["dimension"] == "lifecycle_stage" and c["to"] == "declining"
            ]
    assert declined, "the silent customer never became declining"
    emitted = datetime.fromisoformat(declined[0]["emitted_at"])
    assert due <= emitted <= due + timedelta(seconds=interval), (due, emitted)
    assert "no purchase for" in declined[0]["reason"]
