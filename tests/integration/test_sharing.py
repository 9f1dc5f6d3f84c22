"""Reading the population topic on the embedded broker, as a starting worker does."""

import asyncio

from stream.cli import main
from stream.config import Settings
from stream.core.config import EngineConfig
from stream.core.engine import Engine
from stream.tools.processes import free_port
from stream.worker.app import input_partitions
from stream.worker.sharing import Sharing
from tests.integration.harness import deployment
from tests.unit.events import EMITTED, purchase


def test_a_starting_worker_reads_only_each_partitions_last_snapshot(broker, tmp_path):
    shop = deployment(broker, tmp_path)
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    publisher = Sharing(shop.settings, shop.settings.partitions)
    for hour in range(6000):  # a partition's worth of buyers: snapshots of some 25 kB
        engine.process(purchase(f"b{hour}", hour / 24, 10 + hour), 2, EMITTED)
    records = []
    for day in range(80):  # eighty versions of partition 2, as a busy worker publishes them,
        engine.process(purchase(f"c{day}", 300 + day, 10 + day), 2, EMITTED)
        records += publisher.snapshots(engine, held={2})
    # more than one fetch brings back (a partition's fetch stops at 1 MB).
    assert len(records) == 80 and sum(len(value) for _, value in records) > 1_500_000
    shop.produce((shop.topics.population, key, value) for key, value in records)

    reader = Sharing(shop.settings, shop.settings.partitions)
    received: list[bytes | None] = []
    changes: list[int] = []
    keep = reader.receive
    reader.receive = lambda value: received.append(value) or keep(value)  # type: ignore[method-assign]

    async def follow() -> None:
        """Read until the end, as one connection does, then drop the connection."""
        reached = asyncio.Event()
        task = asyncio.create_task(reader.follow(lambda: changes.append(1) or reached.set()))
        await asyncio.wait_for(reached.wait(), 30)
        task.cancel()

    asyncio.run(follow())
    # Validated once, counted once: not eighty intermediate populations, each forcing sweeps.
    assert (len(received), len(changes)) == (1, 1) and reader.caught_up.is_set()
    shared = reader.elsewhere(held=set(), clock=engine.clock(2).now)
    assert shared is not None and shared.total == 6080
    # A new connection reads from the start again, and again only each key's last snapshot.
    asyncio.run(follow())
    assert (len(received), len(changes)) == (2, 2)


def test_a_worker_refuses_to_start_without_the_population_topic(
    broker, tmp_path, monkeypatch, capsys
):
    shop = deployment(broker, tmp_path)
    for name, value in {**shop.env, "STREAM_TOPIC_POPULATION": "nowhere.population"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STREAM_WEB_PORT", str(free_port()))
    assert main(["worker", "--broker-timeout", "10"]) == 2
    # Other tests' logging setup may add log lines: the error is the line of its own.
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.startswith("stream: ")]
    assert line.startswith(
        f"stream: configuration error: topics missing on {broker}: nowhere.population ("
    )
    assert line.endswith("; or STREAM_SHARE_S=0 not to share)")
    # Not sharing, the worker does not need it.
    monkeypatch.setenv("STREAM_SHARE_S", "0")
    assert input_partitions(Settings.from_env()) == shop.settings.partitions
