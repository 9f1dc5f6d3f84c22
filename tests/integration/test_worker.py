"""The worker end to end on the real embedded broker, against the exact batch computation."""

from __future__ import annotations

import base64
import time
from collections import defaultdict
from datetime import datetime

import orjson
import pytest

from schemas.profile import CustomerProfile
from stream.core.segments import rfm_segment
from stream.tools.generate import generate
from tests.bad_inputs import CORPUS, NOT_PLAIN
from tests.integration.harness import deployment
from tests.reference import exact_rfm


@pytest.fixture
def shop(broker, tmp_path):
    return deployment(broker, tmp_path)


def test_final_scores_match_the_batch_and_every_change_is_real(shop):
    workload = generate(customers=1500, events=15_000, days=200, seed=11)
    shop.produce_events(workload.events)
    with shop.worker() as worker:
        worker.wait_for("segmentation_processed_events_total", len(workload.events))
        purchases = [
            (e["customer_id"], datetime.fromisoformat(e["ts"]), e["amount"])
            for e in workload.events
            if e["event_type"] == "purchase"
        ]
        exact = exact_rfm(purchases)
        agree, worst = 0, 0
        looked_up = {}
        for customer, want in exact.items():
            got = looked_up[customer] = orjson.loads(worker.get(f"/customers/{customer}"))
            scores = (got["r_score"], got["f_score"], got["m_score"])
            agree += scores == (want.r, want.f, want.m) and got["value_tier"] == want.tier
            worst = max(
                worst, *(abs(a - b) for a, b in zip(scores, (want.r, want.f, want.m), strict=False))
            )
            assert got["rfm_segment"] == rfm_segment(got["r_score"], got["f_score"])
        assert agree >= 0.97 * len(exact), f"{agree}/{len(exact)} agree with the batch"
        assert worst <= 1
        prospects = [c for c, p in workload.personas.items() if p == "prospect"]
        got = orjson.loads(worker.get(f"/customers/{prospects[0]}"))
        assert got["r_score"] is None and got["lifecycle_stage"] == "prospect"

    # The compacted profiles topic carries every customer's latest profile.
    published = {}
    for key, value in shop.read(shop.topics.profiles):
        published[key.decode()] = CustomerProfile.model_validate_json(value)
    assert set(published) == set(workload.personas)
    same = sum(
        (p.r_score, p.f_score, p.m_score, p.lifecycle_stage)
        == tuple(looked_up[c][k] for k in ("r_score", "f_score", "m_score", "lifecycle_stage"))
        for c, p in published.items()
        if c in looked_up
    )
    assert same >= 0.99 * len(looked_up)

    changes = shop.read_json(shop.topics.segment_changes)
    assert {c["dimension"] for c in changes} >= {"rfm_segment", "value_tier", "lifecycle_stage"}
    chains = defaultdict(list)
    for change in changes:
        chains[change["customer_id"], change["dimension"]].append(change)
        assert change["from"] != change["to"]
        if change["dimension"] == "rfm_segment":
            assert change["to"] == rfm_segment(change["r_score"], change["f_score"])
    for (customer, dimension), chain in chains.items():
        # Partition order is event order: each change starts where the previous one ended.
        assert chain[0]["from"] is None, (customer, dimension)
        for before, after in zip(chain, chain[1:], strict=False):
            assert after["from"] == before["to"], (customer, dimension)
    assert len({c["event_id"] for c in changes}) == len(changes)
    fading = [c for c, p in workload.personas.items() if p == "fading"]
    stages = {c: chains[c, "lifecycle_stage"][-1]["to"] for c in fading}
    assert sum(s in ("declining", "churned") for s in stages.values()) >= 0.8 * len(fading)


def test_bad_input_is_dead_lettered_and_counted(shop):
    topics = shop.topics
    good = {
        "event_id": "g1",
        "customer_id": "c1",
        "ts": "2026-01-01T00:00:00Z",
        "order_id": "o1",
        "amount": 10,
        "currency": "EUR",
    }

    def body(**changes):
        return orjson.dumps({**good, **changes})

    kinds = {"purchase": topics.purchases, "interaction": topics.interactions}
    bad = [(kinds.get(b.kind, topics.surveys), b.key, b.value) for b in CORPUS]
    valid = [
        (topics.purchases, b"c1", body()),
        (topics.purchases, b"c2", body(event_id="g2", customer_id="c2")),
    ]
    duplicates = [(topics.purchases, b"c1", body()), (topics.purchases, b"c1", body())]
    sent = shop.produce(valid + bad + duplicates)
    with shop.worker() as worker:
        metrics = worker.wait_for("segmentation_processed_events_total", len(valid))
        deadline = time.monotonic() + 60
        while True:  # the dead letters may come in a fetch of their own
            values = worker.metrics()
            inputs = sum(v for k, v in values.items() if k.startswith("segmentation_input_events"))
            if inputs >= sent or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        dead = sum(v for k, v in values.items() if k.startswith("segmentation_dead_letters_total"))
        assert inputs == sent
        assert values["segmentation_processed_events_total"] == len(valid) == metrics
        assert values["segmentation_duplicate_events_total"] == len(duplicates)
        assert inputs == values["segmentation_processed_events_total"] + dead + len(duplicates)
        assert worker.get("/healthz")
    records = shop.read(topics.dead_letter)
    letters = [orjson.loads(value) for _, value in records]
    assert len(letters) == len(bad)
    # Keyed as their input was: the keyless one has no key, not an empty one.
    keys = [(key, orjson.loads(value)["original_key"]) for key, value in records]
    assert all(key == (None if k is None else k.encode()) for key, k in keys)
    assert (None, None) in keys
    originals = {base64.b64decode(letter["original_base64"]) for letter in letters}
    assert originals == {value or b"" for _, _, value in bad}
    reasons = [letter["reason"] for letter in letters]
    for each in CORPUS:
        assert any(each.reason in reason for reason in reasons), each.name
    for reason in reasons:
        assert not any(words in reason for words in NOT_PLAIN), reason
    assert all(letter["source"]["topic"] in topics.inputs for letter in letters)
    assert all(letter["source"]["offset"] is not None for letter in letters)


def test_the_log_is_one_json_object_per_line_with_stdout_and_stderr_merged(shop):
    # As the demo's worker.log and a container's log hold it: one stream, and no terminal.
    with shop.worker(STREAM_LOG_FORMAT="json") as worker:
        pass
    lines = worker.log_path.read_bytes().splitlines()
    assert lines
    for line in lines:
        assert line.startswith(b"{") and isinstance(orjson.loads(line), dict), line
