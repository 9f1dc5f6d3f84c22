"""What a team's own producers and consumers meet: librdkafka clients (confluent-kafka) with
their default settings, against the embedded broker and two workers."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

import orjson
import pytest

from stream.config import Topics
from stream.kafka.partitioners import PARTITIONERS
from tests.bad_inputs import CORPUS, NOT_PLAIN
from tests.contracts import validator
from tests.integration import librdkafka
from tests.integration.harness import deployment, owned, ready

CUSTOMERS = [f"cust-{n:02d}" for n in range(40)]
DETRACTOR = CUSTOMERS[7]


@pytest.mark.parametrize(
    ("setting", "scheme"),
    [
        (None, "crc32"),  # librdkafka's default, consistent_random
        ("consistent", "crc32"),
        ("murmur2_random", "murmur2"),  # as Java clients, and our own outputs
        ("fnv1a_random", "fnv1a"),
    ],
)
def test_each_librdkafka_partitioner_is_one_stream_partitioner_names(
    broker, tmp_path, setting, scheme
):
    shop = deployment(broker, tmp_path, partitions=7)
    keys = [f"cust-{n}".encode() for n in range(200)] + ["é".encode(), b"\xff\xfe"]
    config = {} if setting is None else {"partitioner": setting}
    topic = shop.topics.purchases
    placed = librdkafka.produce(broker, ((topic, key, b"{}") for key in keys), **config)
    assert [placed[i] for i in range(len(keys))] == [PARTITIONERS[scheme](k, 7) for k in keys]


def _events() -> list[dict[str, Any]]:
    """Each customer's purchases and interactions over a quarter; one detractor's survey and
    a few promoters'."""
    events = []
    for n, customer in enumerate(CUSTOMERS):
        for order in range(1 + n % 3):
            events.append(
                {
                    "event_type": "purchase",
                    "event_id": f"{customer}-o{order}",
                    "customer_id": customer,
                    "ts": f"2025-0{1 + order}-{10 + n % 15}T12:00:00Z",
                    "order_id": f"{customer}-{order}",
                    "amount": 20.0 + n + 10 * order,
                    "currency": "EUR",
                }
            )
        for view, kind in enumerate(("page_view", "email_open", "add_to_cart")[: 1 + n % 3]):
            events.append(
                {
                    "event_type": "interaction",
                    "event_id": f"{customer}-i{view}",
                    "customer_id": customer,
                    "ts": f"2025-03-{10 + view}T09:00:00+01:00",
                    "type": kind,
                    "channel": "web",
                }
            )
        if customer == DETRACTOR or n % 10 == 0:
            events.append(
                {
                    "event_type": "survey",
                    "event_id": f"{customer}-s",
                    "customer_id": customer,
                    "ts": "2025-03-20T10:00:00Z",
                    "survey_id": "q1",
                    "nps": 2 if customer == DETRACTOR else 10,
                }
            )
    return events


def _sum(workers, prefix: str) -> float:
    return sum(v for w in workers for k, v in w.metrics().items() if k.startswith(prefix))


def test_a_librdkafka_team_produces_and_consumes_against_two_workers(broker, tmp_path):
    shop = deployment(broker, tmp_path)
    topics = shop.topics
    on_topic = {"purchase": topics.purchases, "interaction": topics.interactions}
    events = _events()
    with (
        shop.worker("worker-1", STREAM_SHARE_S="1", STREAM_DATA_DIR=str(tmp_path / "1")) as one,
        shop.worker("worker-2", STREAM_SHARE_S="1", STREAM_DATA_DIR=str(tmp_path / "2")) as two,
    ):
        workers = (one, two)
        # Produce once the second worker's join has split the partitions: each input is then
        # handled once, by the worker it stays with.
        everything = set(range(shop.settings.partitions))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            held = [owned(w.metrics(), topics.purchases) for w in workers]
            if all(held) and held[0] | held[1] == everything and all(map(ready, workers)):
                break
            time.sleep(1)
        assert all(held) and not held[0] & held[1], f"partitions per worker: {held}"

        good = [(on_topic.get(e["event_type"], topics.surveys), e) for e in events]
        librdkafka.produce(
            broker, ((t, e["customer_id"].encode(), orjson.dumps(e)) for t, e in good)
        )
        sized = [b for b in CORPUS if b.name == "too large"]
        # librdkafka refuses by default what the worker refuses: a message over 1,000,000
        # bytes (message.max.bytes), so this producer allows more to show the worker's part.
        librdkafka.produce(
            broker,
            ((topics.purchases, b.key, b.value) for b in sized),
            **{"message.max.bytes": 2_000_000},
        )
        bad = [b for b in CORPUS if b not in sized]
        librdkafka.produce(
            broker, ((on_topic.get(b.kind, topics.surveys), b.key, b.value) for b in bad)
        )

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            processed = _sum(workers, "segmentation_processed_events_total")
            dead = _sum(workers, "segmentation_dead_letters_total")
            if processed >= len(events) and dead >= len(CORPUS):
                break
            time.sleep(1)
        assert (processed, dead) == (len(events), len(CORPUS))

        # The producer's crc32 is not the murmur2 the workers expect by default: the records
        # keyed for another partition are counted, in the metrics and in /readyz.
        misplaced = _sum(workers, "segmentation_misplaced_events_total")
        assert 0 < misplaced <= len(events)
        details = [orjson.loads(w.get("/readyz"))["keys"] for w in workers]
        assert sum(d["misplaced_events"] for d in details) == misplaced
        assert {d["partitioner"] for d in details} == {"murmur2"}

        # Every customer is found on either worker, wherever their state lives.
        purchases = defaultdict(list)
        interactions: dict[str, Counter[str]] = defaultdict(Counter)
        for e in events:
            if e["event_type"] == "purchase":
                purchases[e["customer_id"]].append(e["amount"])
            elif e["event_type"] == "interaction":
                interactions[e["customer_id"]][e["type"]] += 1
        for customer in CUSTOMERS:
            answers = [orjson.loads(w.get(f"/customers/{customer}")) for w in workers]
            assert answers[0] == answers[1], customer
            got = answers[0]
            assert got["customer_id"] == customer
            assert got["frequency"] == len(purchases[customer])
            assert got["monetary"] == pytest.approx(sum(purchases[customer]))
            assert got["interactions"] == dict(interactions[customer])
        assert orjson.loads(one.get(f"/customers/{DETRACTOR}"))["satisfaction"] == "detractor"

    outputs = [topics.segment_changes, topics.churn_risk, topics.dead_letter, topics.profiles]
    outputs.append(topics.population)
    read = librdkafka.consume(broker, f"{shop.settings.app_id}-team", outputs)
    named = dict(zip(Topics().all, topics.all, strict=True))
    for default, topic in named.items():
        if topic in read:
            checks = validator(default)
            for _, value in read[topic]:
                checks.validate(orjson.loads(value))
    assert all(read[t] for t in outputs if t != topics.churn_risk), {t: len(read[t]) for t in read}

    # Each bad input is dead-lettered once, with a reason in plain words.
    letters = {}
    for _, value in read[topics.dead_letter]:
        letter = orjson.loads(value)
        letters[letter["event_id"]] = letter["reason"]
    assert len(letters) == len(CORPUS)
    for each in CORPUS:
        assert any(each.reason in reason for reason in letters.values()), each.name
    for reason in letters.values():
        assert not any(words in reason for words in NOT_PLAIN), reason

    changes = [orjson.loads(v) for _, v in read[topics.segment_changes]]
    assert {(c["customer_id"], c["to"]) for c in changes if c["dimension"] == "satisfaction"} >= {
        (DETRACTOR, "detractor")
    }
