"""Reading the population topic on the embedded broker, as a starting worker does."""

import asyncio

from stream.core.config import EngineConfig
from stream.core.engine import Engine
from stream.worker.sharing import Sharing
from tests.integration.harness import deployment
from tests.unit.events import EMITTED, purchase


def test_a_starting_worker_reads_only_each_partitions_last_snapshot(broker, tmp_path):
    shop = deployment(broker, tmp_path)
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    publisher = Sharing(shop.settings, shop.settings.partitions)
    records = []
    for day in range(40):  # forty versions of partition 2, as a busy worker publishes them
        engine.process(purchase(f"c{day}", day, 10 + day), 2, EMITTED)
        records += publisher.snapshots(engine, held={2})
    assert len(records) == 40
    shop.produce((shop.topics.population, key, value) for key, value in records)

    async def follow() -> tuple[int, int, Sharing]:
        reader = Sharing(shop.settings, shop.settings.partitions)
        received, changes = [], []
        keep = reader.receive
        reader.receive = lambda value: received.append(value) or keep(value)  # type: ignore[method-assign]
        task = asyncio.create_task(reader.follow(lambda: changes.append(1)))
        await asyncio.wait_for(reader.caught_up.wait(), 30)
        task.cancel()
        return len(received), len(changes), reader

    received, changes, reader = asyncio.run(follow())
    # Validated once, counted once: not forty intermediate populations, each forcing sweeps.
    assert (received, changes) == (1, 1)
    shared = reader.elsewhere(held=set(), clock=engine.clock(2).now)
    assert shared is not None and shared.total == 40
