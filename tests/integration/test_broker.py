"""The embedded broker, topic creation and the generator's producer, against real Tansu."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import fields

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.inputs import parse_input
from stream.config import Settings, Topics
from stream.kafka import BrokerUnavailable
from stream.kafka.broker import EmbeddedBroker, PortInUse, free_port
from stream.kafka.topics import admin_client, ensure_topics, topic_specs, wait_for_broker
from stream.tools.generate import generate, produce, topic_for


def _settings(prefix: str, partitions: int) -> Settings:
    """Topics of our own, so other tests on the session broker do not interfere."""
    topics = Topics(**{f.name: f"{prefix}.{f.default}" for f in fields(Topics)})
    return Settings(partitions=partitions, topics=topics)


def test_ensure_topics_creates_each_topic_once_with_the_configured_partitions(broker):
    settings = _settings("ensure", partitions=3)

    assert sorted(ensure_topics(broker, settings)) == sorted(settings.topics.all)
    assert ensure_topics(broker, settings) == []

    with admin_client(broker) as admin:
        described = admin.describe_topics(list(settings.topics.all))
    assert {t["name"]: len(t["partitions"]) for t in described} == dict.fromkeys(
        settings.topics.all, 3
    )
    # Tansu answers DescribeConfigs with nothing, so check what we ask it for instead.
    specs = topic_specs(settings)
    compacted = {settings.topics.profiles, settings.topics.population}
    for name in settings.topics.all:
        configs = specs[name].get("configs", {})
        assert (configs.get("cleanup.policy") == "compact") == (name in compacted), name
        # Compaction skips the segment being written: it must roll well before a week.
        assert name not in compacted or int(configs["segment.ms"]) <= 3_600_000, name


def test_generated_events_round_trip_through_the_broker(broker):
    settings = _settings("roundtrip", partitions=2)
    ensure_topics(broker, settings)
    events = generate(customers=20, events=300, days=60, seed=11).events

    sent = asyncio.run(produce(events, broker, settings.topics))
    received = asyncio.run(_read(broker, settings, len(events)))

    assert sent == len(events)
    assert sorted(r["event_id"] for r in received) == sorted(e["event_id"] for e in events)
    partitions = defaultdict(set)
    in_topic_order = defaultdict(list)
    for record in received:
        partitions[record["customer_id"], record["topic"]].add(record["partition"])
        in_topic_order[record["customer_id"], record["topic"]].append(record["event_id"])
    assert all(len(p) == 1 for p in partitions.values()), "a customer's key moved partition"
    expected = defaultdict(list)
    for event in events:
        expected[event["customer_id"], topic_for(event, settings.topics)].append(event["event_id"])
    assert in_topic_order == expected


async def _read(bootstrap: str, settings: Settings, count: int) -> list[dict]:
    """Every record of the input topics, validated, with where it was found."""
    kinds = {
        settings.topics.purchases: "purchase",
        settings.topics.interactions: "interaction",
        settings.topics.surveys: "survey",
    }
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(t, p) for t in kinds for p in range(settings.partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        received: list[dict] = []
        deadline = asyncio.get_running_loop().time() + 30
        while len(received) < count and asyncio.get_running_loop().time() < deadline:
            for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                for message in messages:
                    event = parse_input(kinds[tp.topic], message.value, max_bytes=100_000)
                    assert message.key == event.customer_id.encode()
                    received.append(
                        {
                            "event_id": event.event_id,
                            "customer_id": event.customer_id,
                            "topic": tp.topic,
                            "partition": tp.partition,
                        }
                    )
        return received
    finally:
        await consumer.stop()


def test_a_second_broker_on_a_taken_port_is_refused(broker):
    port = int(broker.rpartition(":")[2])
    with pytest.raises(PortInUse, match=str(port)):
        EmbeddedBroker(port).start()


def test_paused_broker_stops_answering_until_resumed(tmp_path):
    with EmbeddedBroker(log_dir=tmp_path) as embedded:
        embedded.pause()
        with pytest.raises(BrokerUnavailable, match=embedded.bootstrap_servers):
            wait_for_broker(embedded.bootstrap_servers, timeout=2)
        embedded.resume()
        wait_for_broker(embedded.bootstrap_servers, timeout=10)
    assert not embedded.running
    assert "listening on" in embedded.log_path.read_text()


def test_starting_a_broker_logs_no_connection_errors(tmp_path, caplog):
    # Refused connections while the broker starts are expected, not errors worth logging.
    with caplog.at_level("WARNING"), EmbeddedBroker(log_dir=tmp_path):
        pass
    # kafka-python's watchdog warns of any of its tasks slower than 0.1 s: on a loaded machine
    # that is the machine, not the broker start.
    logged = [r.getMessage() for r in caplog.records if r.levelno >= 30]
    assert [m for m in logged if "is blocking the event loop" not in m] == []


def test_waiting_for_a_broker_nobody_runs_names_the_address(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(BrokerUnavailable, match=address):
        wait_for_broker(address, timeout=1)
