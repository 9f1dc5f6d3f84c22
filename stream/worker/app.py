"""Wiring the Faust worker: app, input topics, the profile table, timers and web endpoints.

Everything comes from :class:`stream.config.Settings`, so the embedded broker and Apache
Kafka run the same code. The three input topics must have the same number of partitions (a
customer's purchases, interactions and surveys must meet in one partition); the profile
table is co-partitioned with them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from stream.config import ConfigError, Settings
from stream.kafka import BrokerUnavailable
from stream.worker.batching import BatchApp, BatchConsumer
from stream.worker.metrics import Metrics
from stream.worker.pipeline import Pipeline
from stream.worker.sharing import Sharing
from stream.worker.web import register

log = logging.getLogger(__name__)

METRICS_REFRESH_S = 5.0
CHURN_SAVE_S = 60.0
TICK_S = 1.0
PREPARE_S = 0.5


def input_partitions(settings: Settings) -> int:
    """The input topics' common partition count, read from the broker; the population topic
    must exist as well when the workers share their buyers."""
    topics = settings.topics
    needed = [*topics.inputs, topics.population] if settings.share_s else list(topics.inputs)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.app_id}-admin",
            request_timeout_ms=10_000,
        )
    except KafkaError as exc:
        raise BrokerUnavailable(f"{settings.bootstrap_servers}: {exc}") from None
    try:
        described = admin.describe_topics(needed)
    finally:
        admin.close()
    found = {t["name"]: len(t["partitions"]) for t in described if t["partitions"]}
    missing = [t for t in needed if t not in found]
    if missing:
        unshared = "; or STREAM_SHARE_S=0 not to share" if topics.population in missing else ""
        raise ConfigError(
            f"topics missing on {settings.bootstrap_servers}: {', '.join(missing)} "
            "(on Kafka create them as the compose 'topics' service does; 'stream broker' "
            f"creates every topic when it starts{unshared})"
        )
    counts = {t: found[t] for t in topics.inputs}
    if len(set(counts.values())) != 1:
        raise ConfigError(f"input topics must have equal partition counts, found {counts}")
    return next(iter(counts.values()))


@dataclass
class Worker:
    app: Any
    pipeline: Pipeline
    metrics: Metrics


def create_worker(settings: Settings, partitions: int) -> Worker:
    app = BatchApp(
        settings.app_id,
        broker=settings.broker,
        store=settings.store_url,
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=partitions,
        topic_replication_factor=settings.replication,
        web_bind=settings.web_bind,
        web_host=settings.web_host,
        web_port=settings.web_port,
        # The URL other workers route to. Faust's own, http://{web_host}:{web_port}, is no
        # URL when web_host is an IPv6 address.
        canonical_url=settings.web_url,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
        broker_commit_every=10_000,
        # Tansu holds every group join for half the session timeout; Kafka does not.
        broker_session_timeout=settings.session_timeout_s,
        producer_linger=0.005,
        autodiscover=False,
    )
    for name in settings.topics.inputs:
        # Subscribed through the conductor; records reach the pipeline in whole fetches.
        app.topics.add(app.topic(name, key_serializer="raw", value_serializer="raw"))
    table = app.Table(
        "profiles",
        default=None,
        partitions=partitions,
        key_type=bytes,  # raw keys: the producer's murmur2 matches the input partitioning
        value_type=bytes,  # profiles are encoded by stream.worker.profiles
        use_partitioner=True,
    )
    metrics = Metrics()
    sharing = Sharing(settings, partitions) if settings.share_s else None
    pipeline = Pipeline(app, settings, table, metrics, sharing, partitions=partitions)
    BatchConsumer.handler = pipeline
    register(app, table, pipeline, metrics)

    if sharing is not None:

        @app.task
        async def follow_population() -> None:
            await sharing.follow(pipeline.share)

        @app.timer(settings.share_s)
        async def publish_population() -> None:
            await pipeline.publish_population()

    @app.timer(PREPARE_S)
    async def prepare_engine() -> None:
        await pipeline.prepare()

    live = settings.clock == "live"

    @app.timer(TICK_S)
    async def clock() -> None:
        # Live mode moves quiet partitions' clocks with wall time; both modes publish the
        # profiles that changed since the last batch.
        await pipeline.tick(time.time() if live else None)

    @app.timer(METRICS_REFRESH_S)
    async def refresh_metrics() -> None:
        await pipeline.list_log_ends()
        pipeline.refresh_metrics()

    @app.timer(CHURN_SAVE_S)
    async def save_churn_model() -> None:
        pipeline.save_churn()

    @app.on_before_shutdown.connect
    async def on_shutdown(app: Any, **kwargs: Any) -> None:
        await pipeline.stop()
        log.info("worker stopped", extra=dict(pipeline.totals))

    return Worker(app, pipeline, metrics)
