"""``stream lag`` against the real broker, watching a plain aiokafka consumer group.

The group goes through three phases while a producer keeps writing: consuming (OK), stopped
(STOP, with lag and its age growing), restarted (caught up, OK). The command runs as a
subprocess, exactly as an operator would run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka.admin import NewTopic

from stream.kafka.lag import OffsetReader
from stream.kafka.topics import admin_client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

STREAM = Path(sys.executable).with_name("stream")
PARTITIONS = 2
# Four observations half a second apart: a 1.5 s window, far longer than the test consumer's
# commit interval (it commits after every batch).
SAMPLING = ("--window", "4", "--interval", "0.5")


def lag_env(broker: str, group: str, topics: list[str]) -> dict[str, str]:
    purchases, interactions, surveys = topics
    return os.environ | {
        "STREAM_BROKER": f"kafka://{broker}",
        "STREAM_APP_ID": group,
        "STREAM_TOPIC_PURCHASES": purchases,
        "STREAM_TOPIC_INTERACTIONS": interactions,
        "STREAM_TOPIC_SURVEYS": surveys,
        "STREAM_LOG_LEVEL": "WARNING",
    }


async def stream_lag(env: dict[str, str], *args: str) -> tuple[int, Any, str]:
    """Run ``stream lag --json`` without blocking the loop that runs the consumer."""
    process = await asyncio.create_subprocess_exec(
        str(STREAM), "lag", "--json", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    report = orjson.loads(out) if out.strip() else None
    assert process.returncode is not None
    return process.returncode, report, err.decode()


async def produce(broker: str, topics: list[str], stop: asyncio.Event) -> None:
    """A burst of one record per partition every 300 ms, so the consumer can catch up between."""
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        while not stop.is_set():
            for topic in topics:
                for partition in range(PARTITIONS):
                    await producer.send(topic, b'{"n": 1}', partition=partition)
            await producer.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.3)
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def consuming(broker: str, group: str, topics: list[str]) -> AsyncIterator[None]:
    """A group member that commits after every batch, for as long as the block runs."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=broker,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()

    async def loop() -> None:
        while True:
            if await consumer.getmany(timeout_ms=100):
                await consumer.commit()

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


async def wait_caught_up(broker: str, group: str, topics: list[str], timeout: float = 30) -> None:
    """Until every partition has data and the group has committed all of it."""

    def lagging() -> int:
        with OffsetReader(broker, group, topics) as reader:
            read = reader.read()
        return sum(
            1
            for key, end in read.end.items()
            if end == 0 or read.committed[key] is None or read.committed[key] < end
        )

    deadline = asyncio.get_running_loop().time() + timeout
    while await asyncio.to_thread(lagging):
        assert asyncio.get_running_loop().time() < deadline, "the consumer never caught up"
        await asyncio.sleep(0.2)


def by_partition(report: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(p["topic"], p["partition"]): p for p in report["partitions"]}


def fresh_topics(broker: str, prefix: str) -> tuple[list[str], str]:
    """Three new input topics and a group name of this run's own."""
    run_id = uuid.uuid4().hex[:8]
    topics = [f"{prefix}-{run_id}.{name}" for name in ("purchases", "interactions", "surveys")]
    with admin_client(broker) as admin:
        admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics])
    return topics, f"{prefix}-{run_id}"


def test_lag_follows_a_group_through_consume_stop_and_restart(broker: str) -> None:
    topics, group = fresh_topics(broker, "lag")
    env = lag_env(broker, group, topics)
    every_partition = {(t, p) for t in topics for p in range(PARTITIONS)}

    async def scenario() -> None:
        stop_producing = asyncio.Event()
        producer = asyncio.create_task(produce(broker, topics, stop_producing))
        try:
            async with consuming(broker, group, topics):
                await wait_caught_up(broker, group, topics)
                code, report, err = await stream_lag(env, *SAMPLING)
                assert (code, report["status"]) == (0, "OK"), (report, err)
                assert report["group"] == group
                assert set(by_partition(report)) == every_partition
                assert all(p["status"] == "OK" for p in report["partitions"])

            # The consumer is gone; the producer is not.
            code, report, err = await stream_lag(env, *SAMPLING)
            assert (code, report["status"]) == (1, "STOP"), (report, err)
            for row in report["partitions"]:
                assert row["status"] == "STOP"
                assert row["lag"] > 0
                assert row["lag"] == row["end"] - row["committed"]
                assert row["lag_seconds"] > 0
            first_stop = by_partition(report)
            await asyncio.sleep(1)
            code, report, err = await stream_lag(env, *SAMPLING)
            assert code == 1, (report, err)
            for key, row in by_partition(report).items():
                assert row["committed"] == first_stop[key]["committed"]
                assert row["lag"] > first_stop[key]["lag"]
                assert row["lag_seconds"] > first_stop[key]["lag_seconds"]

            async with consuming(broker, group, topics):
                stop_producing.set()
                await producer
                await wait_caught_up(broker, group, topics)
                code, report, err = await stream_lag(env, *SAMPLING)
                assert (code, report["status"]) == (0, "OK"), (report, err)
                for row in report["partitions"]:
                    assert (row["lag"], row["lag_seconds"]) == (0, 0.0)
                    assert (
                        row["committed"]
                        == row["end"]
                        > first_stop[(row["topic"], row["partition"])]["end"]
                    )
        finally:
            stop_producing.set()
            await producer

    asyncio.run(scenario())


def test_a_caught_up_group_is_observed_at_the_requested_interval(broker: str) -> None:
    # Tansu reports a partition's end as the start of its last batch, so a caught-up commit
    # is past it and every observation reads that batch: once read, nothing more is coming.
    topics, group = fresh_topics(broker, "lag-idle")

    async def scenario() -> tuple[int, Any, str]:
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        try:
            for _ in range(2):  # batches of five records: the reported ends fall short
                for topic in topics:
                    for partition in range(PARTITIONS):
                        for _ in range(5):
                            await producer.send(topic, b'{"n": 1}', partition=partition)
                await producer.flush()
        finally:
            await producer.stop()
        async with consuming(broker, group, topics):
            await wait_caught_up(broker, group, topics)
        return await stream_lag(
            lag_env(broker, group, topics), "--window", "3", "--interval", "0.1"
        )

    code, report, err = asyncio.run(scenario())
    assert (code, report["status"]) == (0, "OK"), (report, err)
    assert all(row["lag"] == 0 for row in report["partitions"])
    assert report["window_seconds"] < 2.0  # two intervals of 0.1 s, not two reads of 2 s


def test_one_reader_finds_the_true_ends_after_reading_record_times(broker: str) -> None:
    # ``stream lag --watch`` keeps one reader: an observation of a lagging group reads record
    # times, and the next one, with the group caught up past Tansu's reported ends, reads the
    # true ends with the same consumer. Both must see every partition, not just the first.
    topics, group = fresh_topics(broker, "lag-reuse")
    records = 40

    async def produce_batches() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        try:
            for _ in range(records // 10):  # several batches: the reported ends fall short
                for topic in topics:
                    for partition in range(PARTITIONS):
                        for _ in range(10):
                            await producer.send(topic, b'{"n": 1}' * 50, partition=partition)
                await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(produce_batches())
    with OffsetReader(broker, group, topics) as reader:
        reported = reader.read().end
        true_ends = dict.fromkeys(reported, records)
        assert all(end < records for end in reported.values()), reported
        for _ in range(2):
            assert set(reader.record_times(dict.fromkeys(reported, 0))) == set(reported)
            assert reader.readable_ends(reported, true_ends) == true_ends


def test_missing_input_topics_are_errors(broker: str) -> None:
    run_id = uuid.uuid4().hex[:8]
    topics = [f"lag-missing-{run_id}.{n}" for n in range(3)]
    env = lag_env(broker, f"lag-missing-{run_id}", topics)
    code, report, err = asyncio.run(stream_lag(env, *SAMPLING))
    assert (code, report["status"]) == (1, "ERR"), (report, err)
    assert {(p["topic"], p["status"]) for p in report["partitions"]} == {(t, "ERR") for t in topics}
    assert all(p["reason"] == "topic does not exist" for p in report["partitions"])


def test_a_group_the_broker_does_not_list_is_a_usage_error(broker: str) -> None:
    topics, group = fresh_topics(broker, "lag-group")
    env = lag_env(broker, f"{group}-app", topics)  # --group names another group than the app's

    async def scenario() -> tuple[tuple[int, Any, str], tuple[int, Any, str]]:
        unknown = await stream_lag(env, "--group", f"{group}-nosuch", *SAMPLING)
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        try:
            for topic in topics:
                for partition in range(PARTITIONS):
                    await producer.send(topic, b'{"n": 1}', partition=partition)
        finally:
            await producer.stop()
        async with consuming(broker, group, topics):
            await wait_caught_up(broker, group, topics)
        return unknown, await stream_lag(env, "--group", group, *SAMPLING)

    (code, report, err), (known_code, known, known_err) = asyncio.run(scenario())
    assert (code, report) == (2, None), err
    assert err.splitlines() == [
        f"stream: no consumer group '{group}-nosuch' on {broker} (the embedded broker lists a "
        "group only once it has committed offsets)"
    ]
    # A group with commits is reported on, whatever its health.
    assert known_code in (0, 1) and known["group"] == group, (known, known_err)
    assert {p["topic"] for p in known["partitions"]} == set(topics)


def test_unreachable_broker_exits_3_and_names_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but never listening: connections are refused
        address = f"127.0.0.1:{sock.getsockname()[1]}"
        env = lag_env(address, "lag-unreachable", ["a", "b", "c"])
        code, report, err = asyncio.run(stream_lag(env))
    assert code == 3
    assert report is None
    assert address in err
