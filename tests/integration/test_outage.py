"""A broker outage in the middle of a stream: the worker waits it out and loses nothing.

The embedded broker keeps its topics in memory, so the outage is simulated as the developers'
guide says: the broker process is paused (it stops answering, connections stay open) for
longer than the consumer group's session, then resumed.
"""

from __future__ import annotations

import time
from datetime import datetime

import orjson

from stream.kafka.broker import EmbeddedBroker
from stream.tools.generate import generate
from tests.integration.harness import deployment
from tests.reference import exact_rfm

OUTAGE_S = 25  # over the tests' 10 s session timeout: the group has to be joined again


def test_a_worker_rides_out_a_broker_outage_without_losing_events(tmp_path):
    workload = generate(customers=400, events=8000, days=120, seed=23)
    before, after = workload.events[:6000], workload.events[6000:]
    with EmbeddedBroker(log_dir=tmp_path / "broker") as embedded:
        shop = deployment(embedded.bootstrap_servers, tmp_path)
        shop.produce_events(before)
        with shop.worker() as worker:
            # Mid-stream: outputs and commits are in flight when the broker stops answering.
            worker.wait_for("segmentation_processed_events_total", 500, timeout=60)
            embedded.pause()
            time.sleep(OUTAGE_S)
            embedded.resume()
            shop.produce_events(after)
            worker.wait_for("segmentation_processed_events_total", len(workload.events))
            assert worker.process is not None and worker.process.poll() is None
            metrics = worker.metrics()
            assert metrics.get("segmentation_processed_events_total") == len(workload.events)
            assert sum(v for k, v in metrics.items() if k.startswith("segmentation_dead")) == 0
            purchases = [
                (e["customer_id"], datetime.fromisoformat(e["ts"]), e["amount"])
                for e in workload.events
                if e["event_type"] == "purchase"
            ]
            exact = exact_rfm(purchases)
            agree = 0
            for customer, want in exact.items():
                got = orjson.loads(worker.get(f"/customers/{customer}"))
                agree += (got["r_score"], got["f_score"], got["m_score"]) == (
                    want.r,
                    want.f,
                    want.m,
                )
            assert agree >= 0.97 * len(exact), f"{agree}/{len(exact)} agree with the batch"
        # No change was lost: each customer's chain of changes, repeats aside, is unbroken.
        changes = {c["event_id"]: c for c in shop.read_json(shop.topics.segment_changes)}
        last: dict[tuple[str, str], str | None] = {}
        for change in changes.values():
            key = change["customer_id"], change["dimension"]
            assert change["from"] == last.get(key), key
            last[key] = change["to"]
