"""The worker's batch handler on its own: what it does when the engine or its saved state
fails. No broker: the engine and the output side are replaced where a test says so."""

import asyncio
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

import orjson
import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry

from stream.config import Settings
from stream.core.churn import ChurnModel
from stream.core.config import EngineConfig
from stream.core.engine import Engine
from stream.worker import pipeline as pipeline_module
from stream.worker.metrics import Metrics
from stream.worker.pipeline import Pipeline, slices
from stream.worker.producing import Partitioner
from stream.worker.profiles import TableProfiles, encode
from tests.unit.events import EMITTED, at, purchase


def _pipeline(tmp_path):
    settings = replace(Settings(), data_dir=tmp_path)
    app = SimpleNamespace(
        consumer=SimpleNamespace(passed={}),  # no transaction markers
        assignor=SimpleNamespace(assigned_actives=set),
    )
    return Pipeline(app, settings, None, Metrics(CollectorRegistry()), partitions=4)


def test_a_damaged_saved_churn_model_is_kept_aside_and_learning_starts_again(tmp_path, caplog):
    pipeline = _pipeline(tmp_path)
    pipeline.churn_path.write_bytes(ChurnModel(EngineConfig()).to_bytes()[:40] + b"\x00garbage")
    with caplog.at_level(logging.ERROR):
        model = pipeline._load_churn()
    assert model.counts["labelled"] == 0
    assert not pipeline.churn_path.exists()
    assert pipeline.churn_path.with_suffix(".unreadable").exists()
    assert "churn model not restored" in caplog.text


def _purchase(offset, customer, ts, currency="EUR"):
    """A purchase as the consumer hands it over."""
    body = {
        "event_id": f"e{offset}",
        "customer_id": customer,
        "ts": ts,
        "order_id": f"o{offset}",
        "amount": 20.0,
        "currency": currency,
    }
    value = orjson.dumps(body)
    return SimpleNamespace(
        key=customer.encode(), value=value, partition=0, offset=offset, timestamp=None
    )


def _outputs_to(pipeline, emit, ack):
    """Outputs and dead letters go to ``emit``, acks to ``ack``, profiles nowhere."""

    async def nothing(at_once=False):
        pass

    pipeline._emit, pipeline._ack = emit, ack
    pipeline._persist = pipeline._publish_profiles = nothing


def _quiet_pipeline(tmp_path):
    """A pipeline with an engine whose outputs and acks go nowhere, with nothing more to read."""
    pipeline = _pipeline(tmp_path)
    pipeline.engine = Engine(EngineConfig(), {})

    async def nothing(*args):
        pass

    _outputs_to(pipeline, nothing, nothing)
    pipeline._behind = lambda topic, partition: False
    return pipeline


def test_history_replayed_into_a_wall_clock_worker_is_warned_about(tmp_path, caplog):
    pipeline = _quiet_pipeline(tmp_path)  # STREAM_CLOCK=live, the default
    topic = pipeline.settings.topics.purchases
    pipeline.engine.tick(0, datetime.now(UTC), wall_ts=time.time())
    with caplog.at_level(logging.WARNING):
        asyncio.run(pipeline.process({TP(topic, 0): [_purchase(0, "c1", "2024-01-05T10:00:00Z")]}))
    assert "replaying history? Run the workers with STREAM_CLOCK=event" in caplog.text


def test_spends_in_several_currencies_added_up_are_warned_about(tmp_path, caplog):
    pipeline = _quiet_pipeline(tmp_path)
    topic = pipeline.settings.topics.purchases
    records = [
        _purchase(0, "c1", "2024-01-05T10:00:00Z", "EUR"),
        _purchase(1, "c2", "2024-01-05T11:00:00Z", "usd"),
    ]
    with caplog.at_level(logging.WARNING):
        asyncio.run(pipeline.process({TP(topic, 0): records[:1]}))
        assert "currencies" not in caplog.text
        asyncio.run(pipeline.process({TP(topic, 0): records[1:]}))
    (warning,) = [r for r in caplog.records if "several currencies" in r.getMessage()]
    assert warning.currencies == ["EUR", "USD"]
    assert warning.new_currencies == 2 and not hasattr(warning, "events")


class _FailingEngine(Engine):
    """An engine with a bug that one customer's events run into."""

    def process(self, event, partition, emitted_at):
        if event.customer_id == "c-bug":
            raise ZeroDivisionError("float division by zero")
        return super().process(event, partition, emitted_at)


def test_an_event_the_engine_fails_on_is_dead_lettered_and_the_batch_goes_on(tmp_path):
    pipeline = _pipeline(tmp_path)
    topic = pipeline.settings.topics.purchases
    engine = _FailingEngine(EngineConfig(), {})
    pipeline.engine = engine
    written = {}

    async def emit(outputs, dead):
        written["outputs"], written["dead"] = outputs, dead

    async def ack(offsets):
        written["acked"] = sum(len(acked) for acked in offsets.values())

    _outputs_to(pipeline, emit, ack)
    pipeline._behind = lambda topic, partition: False  # no consumer: nothing more to read
    records = [
        _purchase(i, customer, f"2025-05-0{i + 1}T10:00:00Z")
        for i, customer in enumerate(("c-ok", "c-bug"))
    ]
    asyncio.run(pipeline.process({TP(topic, 0): records}))

    [dead] = written["dead"]
    assert dead.reason.startswith("engine failed on this event: ZeroDivisionError")
    assert dead.source.offset == 1
    assert "c-ok" in engine.profiles
    assert written["acked"] == 2
    sample = pipeline.metrics.registry.get_sample_value
    assert sample("segmentation_dead_letters_total", {"reason": "engine"}) == 1
    assert sample("segmentation_processed_events_total") == 1


def test_a_purchase_in_a_currency_without_a_rate_is_dead_lettered_by_the_worker(tmp_path):
    pipeline = _pipeline(tmp_path)
    topic = pipeline.settings.topics.purchases
    pipeline.engine = Engine(EngineConfig(currency="EUR", fx_rates="USD=0.5"), {})
    written = {}

    async def emit(outputs, dead):
        written["dead"] = dead

    async def nothing(*args):
        pass

    _outputs_to(pipeline, emit, nothing)
    pipeline._behind = lambda topic, partition: False
    records = [
        _purchase(0, "c1", "2025-05-01T10:00:00Z", "usd"),
        _purchase(1, "c2", "2025-05-02T10:00:00Z", "JPY"),
    ]
    asyncio.run(pipeline.process({TP(topic, 0): records}))
    [dead] = written["dead"]
    assert dead.source.offset == 1
    assert dead.reason.startswith("currency JPY is neither STREAM_ENGINE_CURRENCY")
    assert pipeline.engine.profiles["c1"].monetary == 10.0
    assert "c2" not in pipeline.engine.profiles
    sample = pipeline.metrics.registry.get_sample_value
    assert sample("segmentation_dead_letters_total", {"reason": "unknown_currency"}) == 1


class _CountingEngine(Engine):
    """An engine that counts the events it was given."""

    handled = 0

    def process(self, event, partition, emitted_at):
        self.handled += 1
        return super().process(event, partition, emitted_at)


def _fetch_of_a_backlog(pipeline, records):
    topic = pipeline.settings.topics.purchases
    events = [
        _purchase(i, f"c{i % 97}", f"2025-{1 + i // 200:02d}-{1 + i % 28:02d}T10:00:00Z")
        for i in range(records)
    ]
    return {TP(topic, 0): events}


def test_a_big_fetch_lets_the_event_loop_run_between_slices(tmp_path, monkeypatch):
    """HTTP requests (health checks, metrics, profile look-ups) are served by the same event
    loop: a fetch of a backlog handled whole kept them waiting for seconds."""
    monkeypatch.setattr(pipeline_module, "SLICE", 50)
    pipeline = _quiet_pipeline(tmp_path)
    engine = pipeline.engine = _CountingEngine(EngineConfig(), {})
    parsed = 0
    parse = pipeline._parse

    def counting_parse(*args):
        nonlocal parsed
        parsed += 1
        return parse(*args)

    pipeline._parse = counting_parse
    batch = _fetch_of_a_backlog(pipeline, 1000)

    async def scenario():
        fetch = asyncio.create_task(pipeline.process(batch))
        work_between_turns, last = [], 0
        while not fetch.done():  # another task on the loop, as a web request would be
            await asyncio.sleep(0)
            work = parsed + engine.handled
            work_between_turns.append(work - last)
            last = work
        await fetch
        return work_between_turns

    work_between_turns = asyncio.run(scenario())
    assert parsed == engine.handled == 1000
    assert max(work_between_turns) <= 50
    assert sum(work_between_turns) == 2000


def test_a_revocation_during_a_fetch_waits_until_it_is_handled_and_acked(tmp_path, monkeypatch):
    """Revoking drops the records waiting to be aligned and the engine's state: in the middle
    of a fetch it would lose or repeat some of it."""
    monkeypatch.setattr(pipeline_module, "SLICE", 50)
    pipeline = _quiet_pipeline(tmp_path)
    engine = pipeline.engine = _CountingEngine(EngineConfig(), {})
    acked = []

    async def ack(offsets):
        acked.extend(o for tp_offsets in offsets.values() for o in tp_offsets)

    _outputs_to(pipeline, pipeline._emit, ack)
    batch = _fetch_of_a_backlog(pipeline, 1000)
    [tp] = batch

    async def scenario():
        fetch = asyncio.create_task(pipeline.process(batch))
        while not engine.handled:
            await asyncio.sleep(0)
        handled_when_revoked = engine.handled
        await pipeline.on_revoked({tp})
        # The fetch's work was done and acked before the revocation went on (the task
        # itself ends a turn later, past the shield that lets a batch finish at shutdown).
        assert engine.handled == len(acked) == 1000
        await fetch
        return handled_when_revoked

    assert 0 < asyncio.run(scenario()) < 1000
    assert acked == list(range(1000))
    assert pipeline.engine is None and pipeline.aligner.held == 0


def test_slices_keep_each_partitions_order_and_size():
    records = {0: list(range(7)), 3: list(range(100, 103)), 5: [200]}
    pieces = list(slices(records, 4))
    assert [sum(map(len, piece.values())) for piece in pieces] == [4, 4, 3]
    joined: dict[int, list[int]] = {}
    for piece in pieces:
        for partition, items in piece.items():
            joined.setdefault(partition, []).extend(items)
    assert joined == records


@pytest.mark.parametrize("work", ["fetch", "tick"])
def test_work_cancelled_at_shutdown_still_ends_its_changelog_flush(tmp_path, work):
    """At shutdown Faust cancels the fetch loop and the timers. Cut off between a partition's
    changelog records and their end-of-flush marker, a fetch or a tick left a changelog the
    next start failed to recover; and nothing may be sent once stop() is done."""
    pipeline = _quiet_pipeline(tmp_path)
    sent = []

    async def persist():
        sent.append("changelog")
        await asyncio.sleep(0)
        sent.append("end of flush")

    pipeline._persist = persist
    topic = pipeline.settings.topics.purchases
    batch = {TP(topic, 0): [_purchase(0, "c1", "2025-05-01T10:00:00Z")]}

    def start():
        return pipeline.process(batch) if work == "fetch" else pipeline.tick(None)

    async def scenario():
        task = asyncio.create_task(start())
        while not sent:
            await asyncio.sleep(0)
        task.cancel()
        await pipeline.stop()
        assert sent == ["changelog", "end of flush"]
        await start()
        assert sent == ["changelog", "end of flush"]
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_a_revocation_leaves_no_figures_of_the_partitions_taken_away(tmp_path):
    """Until the engine is rebuilt the metrics timer refreshes nothing: the revoked
    partitions' lag would be counted twice, by this worker and their new owner, and the
    customers by stage would not add up to the profiles held."""
    pipeline = _quiet_pipeline(tmp_path)
    metrics, topics = pipeline.metrics, pipeline.settings.topics
    pipeline.app.assignor = SimpleNamespace(assigned_actives=set)
    pipeline.refresh_metrics()
    assert metrics.registry.get_sample_value("segmentation_ready") == 1
    metrics.set_lag({(topics.purchases, 0): (50, 2.0), (topics.purchases, 1): (7, 1.0)})
    metrics.set_watermark_delays({0: 10.0, 1: 20.0})
    metrics.set_lifecycle_counts({"mature": 6})
    metrics.profiles.set(6)

    asyncio.run(pipeline.on_revoked({TP(topics.purchases, 0), TP("elsewhere", 1)}))
    pipeline.refresh_metrics()  # not ready: nothing to refresh from

    value = metrics.registry.get_sample_value
    lag = "segmentation_consumer_lag_messages"
    assert value(lag, {"topic": topics.purchases, "partition": "0"}) is None
    assert value(lag, {"topic": topics.purchases, "partition": "1"}) == 7
    assert value("segmentation_watermark_delay_seconds", {"partition": "0"}) is None
    assert value("segmentation_watermark_delay_seconds", {"partition": "1"}) == 20
    assert value("segmentation_customers_by_lifecycle_stage", {"stage": "mature"}) == 0
    assert value("segmentation_profiles") == 0
    # What tells a worker stuck in a rebalance or recovery (WorkerNotReady), now that it
    # reports no lag until it is ready.
    assert value("segmentation_ready") == 0


def test_lag_in_seconds_is_the_time_to_catch_up_on_every_partition_drained_together(tmp_path):
    """At 100 events/s, 300 behind on one partition and 100 on another take 4 s to process
    whatever the order: neither is 3 s or 1 s away, as if it had the whole rate alone."""
    pipeline = _quiet_pipeline(tmp_path)
    topic = pipeline.settings.topics.purchases
    ends = {TP(topic, 0): 1300, TP(topic, 1): 600, TP(topic, 2): 50}
    pipeline.app.assignor = SimpleNamespace(assigned_actives=lambda: set(ends))
    pipeline.app.consumer.highwater = ends.get
    pipeline.app.consumer._read_offset = {TP(topic, 0): 1000, TP(topic, 1): 500, TP(topic, 2): 50}
    pipeline._rate_mark = (time.monotonic() - 10, 0)
    pipeline.totals["inputs"] = 1000  # in the last 10 s
    pipeline.refresh_metrics()

    def value(name, partition):
        labels = {"topic": topic, "partition": str(partition)}
        return pipeline.metrics.registry.get_sample_value(
            f"segmentation_consumer_lag_{name}", labels
        )

    assert [value("messages", p) for p in range(3)] == [300, 100, 0]
    assert [value("seconds", p) for p in range(3)] == [pytest.approx(4, rel=0.01)] * 2 + [0]


def test_rebuilding_the_engine_lets_the_event_loop_run_between_slices(tmp_path, monkeypatch):
    """After every rebalance the engine is rebuilt from each stored profile of the worker's
    partitions: built whole, tens of thousands kept the web server waiting for seconds."""
    monkeypatch.setattr(pipeline_module, "SLICE", 50)
    pipeline = _pipeline(tmp_path)
    profiles = {}
    built = Engine(EngineConfig(), profiles)
    for i in range(1000):
        built.process(purchase(f"c{i}", i / 100), 0, EMITTED)
    store = SimpleNamespace(data={}, _key_partition={})  # Faust's in-memory store
    for customer_id, profile in profiles.items():
        store.data[customer_id.encode()] = encode(profile)
        store._key_partition[customer_id.encode()] = 0
    pipeline.profiles = TableProfiles(SimpleNamespace(data=store))
    pipeline.app = SimpleNamespace(
        assignor=SimpleNamespace(
            assigned_actives=lambda: {TP(t, 0) for t in pipeline.settings.topics.inputs}
        ),
        tables=SimpleNamespace(recovery=SimpleNamespace(completed=asyncio.Event())),
        rebalancing=False,
    )
    pipeline.app.tables.recovery.completed.set()

    async def scenario():
        rebuild = asyncio.create_task(pipeline.prepare())
        turns = 0
        while not rebuild.done():  # another task on the loop, as a web request would be
            await asyncio.sleep(0)
            turns += 1
        await rebuild
        return turns

    assert asyncio.run(scenario()) >= 1000 / 50
    assert len(pipeline.engine.population) == 1000
    assert pipeline.metrics.registry.get_sample_value("segmentation_profiles") == 1000

    # Once stopped (Faust then closes the store) the engine timer builds nothing more.
    asyncio.run(pipeline.on_revoked(set()))
    asyncio.run(pipeline.stop())
    asyncio.run(pipeline.prepare())
    assert pipeline.engine is None


def test_a_tick_that_makes_many_customers_due_lets_the_event_loop_run_between_slices(
    tmp_path, monkeypatch
):
    """Live mode re-evaluates silent customers by wall time: after an outage a tick makes
    every customer due at once, and emitted whole their outputs kept the web server waiting."""
    monkeypatch.setattr(pipeline_module, "SLICE", 50)
    pipeline = _quiet_pipeline(tmp_path)
    for i in range(600):
        pipeline.engine.process(purchase(f"c{i}", i / 100), i % 2, EMITTED)
    emitted = 0

    async def emit(outputs, dead):
        nonlocal emitted
        emitted += len(outputs)

    async def nothing(*args):
        pass

    _outputs_to(pipeline, emit, nothing)

    async def scenario():
        tick = asyncio.create_task(pipeline.tick(at(400).timestamp()))
        emitted_between_turns, last = [], 0
        while not tick.done():  # another task on the loop, as a web request would be
            await asyncio.sleep(0)
            emitted_between_turns.append(emitted - last)
            last = emitted
        await tick
        return emitted_between_turns

    emitted_between_turns = asyncio.run(scenario())
    assert emitted >= 600  # every customer churned, at least
    assert max(emitted_between_turns) <= 50


def test_a_reading_worker_logs_its_progress_and_an_idle_one_stays_quiet(tmp_path, caplog):
    pipeline = _quiet_pipeline(tmp_path)
    topic = pipeline.settings.topics.purchases
    tp = TP(topic, 0)
    pipeline.app.assignor = SimpleNamespace(assigned_actives=lambda: {tp})
    pipeline.app.consumer.highwater = {tp: 1500}.get
    pipeline.app.consumer._read_offset = {tp: 1000}
    caplog.set_level(logging.INFO, logger=pipeline_module.__name__)

    def refresh(inputs, seconds_ago):
        caplog.clear()
        pipeline._progress = (time.monotonic() - seconds_ago, pipeline._progress[1])
        pipeline.totals["inputs"] = inputs
        pipeline.refresh_metrics()
        return [r for r in caplog.records if r.msg == "progress"]

    assert not refresh(1000, 5)  # logged at most every PROGRESS_S
    [line] = refresh(1000, pipeline_module.PROGRESS_S)
    assert (line.inputs, line.backlog, line.per_second) == (1000, 500, pytest.approx(33, abs=1))
    pipeline.app.consumer._read_offset = {tp: 1500}
    [line] = refresh(1500, pipeline_module.PROGRESS_S)  # caught up on the way: still worth it
    assert (line.backlog, line.catch_up_seconds) == (0, 0)
    assert not refresh(1500, pipeline_module.PROGRESS_S)  # idle


def test_profiles_changed_since_the_last_publication_are_published_at_a_stop_or_revocation(
    tmp_path, monkeypatch
):
    """Publication waits a second between rounds: without one at the end, a profile changed
    in that second would keep its older state in customer.profiles until it changes again."""
    sent: list[bytes] = []

    async def send_batches(producer, topic, batches):
        sent.extend(key for records in batches.values() for key, _ in records)

    async def partitioner(topic):
        return Partitioner(4)

    monkeypatch.setattr(pipeline_module, "send_batches", send_batches)
    for end in ("stop", "revocation"):
        pipeline = _pipeline(tmp_path)
        profiles: dict = {}
        pipeline.engine = Engine(EngineConfig(), profiles)
        pipeline.app.producer = SimpleNamespace(_producer=None)
        pipeline._partitioner = partitioner
        pipeline.engine.process(purchase("c1", 1), 0, EMITTED)
        pipeline._unpublished = {0: {"c1": profiles["c1"]}}
        pipeline._published_at = time.monotonic()  # a round just went
        sent.clear()
        asyncio.run(pipeline.stop() if end == "stop" else pipeline.on_revoked(set()))
        assert sent == [b"c1"], end


def test_a_stop_waits_for_the_last_publication_only_so_long(tmp_path, monkeypatch, caplog):
    """With the broker gone, a send waits for the producer's request timeout (20 minutes by
    Faust's default): the stop goes on after a while, saying what may be stale."""

    async def hang(at_once=False):
        await asyncio.sleep(3600)

    monkeypatch.setattr(pipeline_module, "PUBLISH_PENDING_TIMEOUT_S", 0.05)
    pipeline = _pipeline(tmp_path)
    pipeline._publish_profiles = hang
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        asyncio.run(pipeline.stop())
    assert time.monotonic() - started < 5
    assert pipeline.stopped
    assert "may stay unpublished" in caplog.text
