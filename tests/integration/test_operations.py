"""Operating the worker: metrics as scraped, consumer lag through a stop and past transaction
markers, profile lookup."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml

from stream.cli import main
from stream.tools.generate import generate
from tests.integration import stuck_worker
from tests.integration.harness import deployment, owned, ready
from tests.reference import exact_rfm

ROOT = Path(__file__).resolve().parents[2]
STUCK_WORKER = (sys.executable, stuck_worker.__file__)


@pytest.fixture
def shop(broker, tmp_path):
    return deployment(broker, tmp_path)


def _series_names(metrics: dict[str, float]) -> set[str]:
    return {name.split("{")[0] for name in metrics}


def test_metrics_match_what_was_produced_and_deploy_files_use_only_scraped_names(shop):
    workload = generate(customers=600, events=6000, days=120, seed=3)
    shop.produce_events(workload.events)
    per_topic = Counter(e["event_type"] for e in workload.events)
    with shop.worker() as worker:
        worker.wait_for("segmentation_processed_events_total", len(workload.events))
        time.sleep(6)  # one refresh of the state gauges
        scraped = worker.metrics()
    topics = shop.topics
    for kind, topic in (
        ("purchase", topics.purchases),
        ("interaction", topics.interactions),
        ("survey", topics.surveys),
    ):
        assert scraped[f'segmentation_input_events_total{{topic="{topic}"}}'] == per_topic[kind]
    changes = Counter(c["dimension"] for c in shop.read_json(topics.segment_changes))
    for dimension, count in changes.items():
        key = (
            f'segmentation_output_events_total{{dimension="{dimension}",'
            f'topic="{topics.segment_changes}"}}'
        )
        assert scraped[key] == count
    customers = len(workload.personas)
    assert scraped["segmentation_profiles"] == customers
    stages = {
        k: v for k, v in scraped.items() if k.startswith("segmentation_customers_by_lifecycle")
    }
    assert sum(stages.values()) == customers
    lag = {k: v for k, v in scraped.items() if k.startswith("segmentation_consumer_lag_messages")}
    assert len(lag) == 3 * shop.settings.partitions and set(lag.values()) == {0.0}
    assert scraped['segmentation_processing_seconds_count{operation="event"}'] > 0

    names = _series_names(scraped)
    alerts = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    dashboard = json.loads(
        (ROOT / "deploy" / "grafana" / "dashboards" / "segmentation.json").read_text()
    )
    expressions = [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    expressions += [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    used = set(re.findall(r"\bsegmentation_\w+", "\n".join(expressions)))
    assert used and used <= names, f"not exported by a live worker: {sorted(used - names)}"


def _lag(shop) -> tuple[int, dict]:
    env = {**os.environ, **shop.env, "STREAM_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "stream", "lag", "--json", "--window", "4", "--interval", "1"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.stdout, done.stderr.decode()
    return done.returncode, json.loads(done.stdout)


def test_a_worker_stopped_mid_backlog_exits_0_and_a_restart_recovers_its_table(shop):
    # A clock tick waiting for a batch to finish ran on once shutdown had begun and sent to a
    # closed producer: exit 1 after a crash, sometimes with the table's changelog left ending
    # in a batch the embedded broker under-reports, so the next start crashed in recovery.
    # A backlog the first worker is stopped in the middle of: its records go only once every
    # partition's have arrived, so a short one is handled whole before the first progress.
    workload = generate(customers=2000, events=60_000, seed=11)
    shop.produce_events(workload.events)
    with shop.worker("first") as worker:
        read = worker.wait_for("segmentation_processed_events_total", 1)
        assert read < len(workload.events), "no backlog left to stop in: make it longer"
        assert worker.stop() == 0, (shop.tmp / "first.log").read_text()[-3000:]
    # A worker that fails table recovery exits before it is ready, which fails the start. The
    # first may have read every event: the second stops wherever it is, once ready.
    with shop.worker("second") as worker:
        assert worker.stop() == 0, (shop.tmp / "second.log").read_text()[-3000:]
    with shop.worker("last") as worker:
        worker.wait_for("segmentation_profiles", 2000, timeout=300)  # slow when loaded
        _wait_caught_up(worker)
    # Every event reached a profile. Once, a fetch that raced Faust's seek after table recovery
    # had its records acked unprocessed, and whole partition tails were committed unread.
    published = {p["customer_id"]: p for p in shop.read_json(shop.topics.profiles)}
    last_event: dict[str, str] = {}
    interactions: Counter[str] = Counter()
    for event in workload.events:
        customer = event["customer_id"]
        last_event[customer] = max(last_event.get(customer, ""), event["ts"])
        interactions[customer] += event["event_type"] == "interaction"
    behind = [
        c
        for c, ts in last_event.items()
        if c not in published
        or datetime.fromisoformat(published[c]["last_event"]) != datetime.fromisoformat(ts)
        or sum(published[c]["interactions"].values()) < interactions[c]
    ]
    assert not behind, f"{len(behind)} customers miss events, e.g. {behind[:5]}"


def _wait_caught_up(worker, timeout: float = 120.0) -> None:
    """Until nothing is left to read or held back, in two metric refreshes in a row."""
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 2:
        assert time.monotonic() < deadline, "the worker never caught up"
        time.sleep(5)  # a metrics refresh
        scraped = worker.metrics()
        left = scraped.get("segmentation_held_events", 0) + sum(
            v for k, v in scraped.items() if k.startswith("segmentation_consumer_lag_messages")
        )
        quiet = quiet + 1 if left == 0 else 0


def test_lag_is_ok_while_running_turns_bad_when_stopped_and_recovers(shop):
    workload = generate(customers=300, events=3000, days=60, seed=5)
    first, rest = workload.events[:1500], workload.events[1500:]
    shop.produce_events(first)
    with shop.worker("worker-a") as worker:
        worker.wait_for("segmentation_processed_events_total", len(first))
        time.sleep(4)  # a commit interval
        code, report = _lag(shop)
        assert (code, report["status"]) == (0, "OK"), report

    shop.produce_events(rest[:700])
    code, stopped = _lag(shop)
    shop.produce_events(rest[700:])
    code_later, later = _lag(shop)
    assert stopped["status"] in ("WARN", "STOP") and code == 1, stopped
    assert later["status"] in ("WARN", "STOP") and code_later == 1, later
    total = sum(p["lag"] for p in stopped["partitions"])
    assert sum(p["lag"] for p in later["partitions"]) > total > 0

    with shop.worker("worker-b") as worker:
        worker.wait_for("segmentation_processed_events_total", len(rest))
        time.sleep(4)
        code, report = _lag(shop)
        assert (code, report["status"]) == (0, "OK"), report
        assert sum(p["lag"] for p in report["partitions"]) == 0


def test_a_partition_ending_in_a_transaction_marker_holds_nothing_back_and_reads_caught_up(
    broker, tmp_path
):
    # A transactional producer's commit appends a marker: an offset that holds no record.
    shop = deployment(broker, tmp_path, partitions=1)
    day = datetime(2025, 3, 1, tzinfo=UTC)
    base = {"customer_id": "c1", "event_type": "purchase", "order_id": "o1"}
    purchase = base | {"event_id": "p1", "ts": day.isoformat(), "amount": 30, "currency": "EUR"}
    shop.produce_events([purchase])
    shop.produce_commit_marker(shop.topics.purchases)
    with shop.worker() as worker:
        worker.wait_for("segmentation_processed_events_total", 1)
        views = [
            {
                "event_type": "interaction",
                "event_id": f"v{i}",
                "customer_id": "c1",
                "ts": (day + timedelta(hours=i + 1)).isoformat(),
                "type": "page_view",
                "channel": "web",
            }
            for i in range(5)
        ]
        shop.produce_events(views)
        worker.wait_for("segmentation_processed_events_total", 6)
        time.sleep(6)  # a commit interval and a refresh of the state gauges
        scraped = worker.metrics()
        code, report = _lag(shop)
    # Taken for unread, the marker held every page view back for 10 s, then let it go unaligned.
    assert scraped["segmentation_unaligned_events_total"] == 0
    lag = {k: v for k, v in scraped.items() if k.startswith("segmentation_consumer_lag_messages")}
    assert set(lag.values()) == {0.0}, lag
    # The committed offset passes the marker too: a lag of 1 for ever read as a stalled group.
    assert (code, report["status"]) == (0, "OK"), report
    assert sum(p["lag"] for p in report["partitions"]) == 0


def test_a_worker_that_stopped_fetching_reports_the_lag_producers_add_meanwhile(broker, tmp_path):
    shop = deployment(broker, tmp_path, partitions=1)
    topics = shop.topics
    day = datetime(2025, 3, 1, tzinfo=UTC)
    purchases = [
        {
            "event_type": "purchase",
            "event_id": f"p{i}",
            "customer_id": "c1",
            "order_id": f"o{i}",
            "ts": (day + timedelta(hours=i)).isoformat(),
            "amount": 30,
            "currency": "EUR",
        }
        for i in range(11)
    ]
    lag = f'segmentation_consumer_lag_messages{{partition="0",topic="{topics.purchases}"}}'
    with shop.worker(command=STUCK_WORKER) as worker:
        shop.produce_events(purchases[:1])
        deadline = time.monotonic() + 60
        while stuck_worker.STUCK not in worker.log_path.read_text():
            assert time.monotonic() < deadline, f"the handler got nothing; see {worker.log_path}"
            time.sleep(0.2)
        # Nothing is fetched any more but what the consumer buffers, once per partition: the
        # next five may reach its fetched log end, the five after them only the broker's.
        # One record batch each: the embedded broker lists a partition's end as the offset
        # after the first record of its last batch.
        shop.produce_events(purchases[1:6], alone=True)
        assert worker.wait_for(lag, 5, timeout=30) == 5
        shop.produce_events(purchases[6:], alone=True)
        assert worker.wait_for(lag, 10, timeout=30) == 10
        scraped = worker.metrics()
    # Nothing processed since the start: the messages waiting take for ever.
    assert scraped[lag.replace("_messages", "_seconds")] == float("inf")
    quiet = {k: v for k, v in scraped.items() if "_lag_" in k and topics.purchases not in k}
    assert len(quiet) == 4 and set(quiet.values()) == {0.0}, quiet  # the other two topics


def test_profile_lookup_answers_on_any_worker_while_two_share_the_group(shop, capsys):
    workload = generate(customers=400, events=4000, days=90, seed=9)
    shop.produce_events(workload.events)
    purchases = [
        (e["customer_id"], datetime.fromisoformat(e["ts"]), e["amount"])
        for e in workload.events
        if e["event_type"] == "purchase"
    ]
    exact = exact_rfm(purchases)
    buyers = len(exact)
    with (
        shop.worker("worker-1", STREAM_SHARE_S="1", STREAM_DATA_DIR=str(shop.tmp / "1")) as one,
        shop.worker("worker-2", STREAM_SHARE_S="1", STREAM_DATA_DIR=str(shop.tmp / "2")) as two,
    ):
        # The second worker's join rebalances the group: wait until both own partitions (the
        # partitions a worker reports are refreshed by a timer, so wait for them too), and
        # until each counts the other's buyers from the counts they share.
        everything = set(range(shop.settings.partitions))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            scraped = [w.metrics() for w in (one, two)]
            held = [m.get("segmentation_profiles", 0) for m in scraped]
            assigned = [owned(m, shop.topics.purchases) for m in scraped]
            elsewhere = [m.get("segmentation_buyers_elsewhere", 0) for m in scraped]
            split = (
                all(assigned)
                and not assigned[0] & assigned[1]
                and assigned[0] | assigned[1] == everything
            )
            if (
                all(held)
                and sum(held) == len(workload.personas)
                and split
                and all(map(ready, (one, two)))
                and sum(elsewhere) == buyers
            ):
                break
            time.sleep(1)
        assert all(held), f"profiles held per worker: {held}"
        assert split, f"partitions owned per worker: {assigned}"
        assert sum(elsewhere) == buyers, f"buyers counted from the other worker: {elsewhere}"
        # Each worker holds a hash sample of the shop but, counting the other's buyers too,
        # ranks against all of them, as one batch over the whole shop does. The next tick
        # re-scores whom the shared counts moved.
        time.sleep(2)
        agree = 0
        for customer, want in exact.items():
            answers = [orjson.loads(w.get(f"/customers/{customer}")) for w in (one, two)]
            assert answers[0] == answers[1]
            got = answers[0]
            agree += (got["r_score"], got["f_score"], got["m_score"]) == (want.r, want.f, want.m)
        assert agree >= 0.97 * len(exact), f"{agree}/{len(exact)} agree with the batch"
        # The segments the workers announced (a sweep re-scores whom the shared counts moved)
        # end where the batch puts them.
        announced = {}
        for change in shop.read_json(shop.topics.segment_changes):
            if change["dimension"] == "rfm_segment":
                announced[change["customer_id"]] = change["to"]
        agree = sum(announced.get(c) == want.segment for c, want in exact.items())
        assert agree >= 0.97 * len(exact), f"{agree}/{len(exact)} segments agree"
        # `stream profile ID` prints the same profile, asking either worker.
        customer = next(iter(exact))
        capsys.readouterr()
        assert main(["profile", customer, "--url", two.url]) == 0
        assert orjson.loads(capsys.readouterr().out) == orjson.loads(
            one.get(f"/customers/{customer}")
        )
        assert main(["profile", "nobody-at-all", "--url", one.url]) == 1
