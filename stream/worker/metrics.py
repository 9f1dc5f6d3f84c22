"""The worker's Prometheus metrics, defined once, on a registry of the caller's choosing.

Every name starts with ``segmentation_``. Counters are exposed with a ``_total`` suffix and
the histogram as ``_bucket``/``_sum``/``_count``; the alert rules and the Grafana dashboard
under ``deploy/`` use only these names (``tests/unit/test_deploy.py`` checks it). Each worker
reports the partitions it owns, so sum over ``instance`` for the cluster-wide picture.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Mapping
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from pydantic import BaseModel

from schemas.outputs import ChurnBand, ChurnRisk, LifecycleStage, SegmentChange
from stream import __version__

DEAD_LETTER_REASONS = (
    "json",
    "validation",
    "too_large",
    "unknown_type",
    "unknown_currency",
    "future",
    "engine",
)
"""Reason classes for rejected input; the readable detail goes in the dead letter itself."""

LIFECYCLE_STAGES: tuple[str, ...] = get_args(LifecycleStage)
CHURN_BANDS: tuple[str, ...] = get_args(ChurnBand)

# Per-event work is sub-millisecond and a tick over due customers a few milliseconds, so the
# buckets are dense below 10 ms and stop at a stall-sized 10 s.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip

NONE = "none"
"""Label value for a dimension that had no value yet (a customer's first segment)."""


class Metrics:
    """All of the worker's metrics on one registry; tests pass a fresh ``CollectorRegistry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        r = self.registry

        # Accounting: inputs = processed + dead-lettered + duplicates (DOMAIN.md).
        self.input_events = Counter(
            "segmentation_input_events",
            "Messages read from an input topic, before validation.",
            ["topic"],
            registry=r,
        )
        self.processed = Counter(
            "segmentation_processed_events",
            "Valid input events applied to a customer profile.",
            registry=r,
        )
        self.dead_letters = Counter(
            "segmentation_dead_letters",
            "Input messages rejected to the dead-letter topic, by reason class "
            "(json, validation, too_large, unknown_type, unknown_currency, future, engine).",
            ["reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "segmentation_duplicate_events",
            "Input events ignored because the customer already had their event_id.",
            registry=r,
        )
        self.misplaced_events = Counter(
            "segmentation_misplaced_events",
            "Input messages whose key belongs to another partition, by STREAM_PARTITIONER, than "
            "the one they came in on: a producer partitioning otherwise (processed all the "
            "same, where they came in).",
            ["topic"],
            registry=r,
        )
        self.late_events = Counter(
            "segmentation_late_events",
            "Processed events older than their partition's watermark (counted in event time).",
            registry=r,
        )
        self.unaligned_events = Counter(
            "segmentation_unaligned_events",
            "Events processed before the other input topics of their partition were read up "
            "to their event time (a topic that brought nothing for 10 s, or too many waiting).",
            registry=r,
        )

        # What the engine emitted.
        self.output_events = Counter(
            "segmentation_output_events",
            "Events written to an output topic, by topic and dimension (segment-changes: the "
            "profile dimension; churn-risk: churn_risk; other topics: empty).",
            ["topic", "dimension"],
            registry=r,
        )
        self.transitions = Counter(
            "segmentation_segment_transitions",
            "Segment changes by dimension and by the values moved from and to ('none' when "
            "the customer had no value yet); the flows between segments.",
            ["dimension", "from_value", "to_value"],
            registry=r,
        )
        self.processing_seconds = Histogram(
            "segmentation_processing_seconds",
            "Wall time spent per unit of work: one fetched batch of input events, validated, "
            "run through the engine and handed to the producer ('event'), or one clock tick "
            "re-evaluating the customers that are due ('tick').",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

        # Progress against the broker and the event-time clock.
        self.consumer_lag_messages = Gauge(
            "segmentation_consumer_lag_messages",
            "Messages of an assigned partition not processed yet: not read (up to the log end "
            "the broker lists, or the worker last fetched if further), or read and waiting "
            "for the other input topics (segmentation_held_events).",
            ["topic", "partition"],
            registry=r,
        )
        self.consumer_lag_seconds = Gauge(
            "segmentation_consumer_lag_seconds",
            "Time the worker takes, at its recent processing rate, to catch up with an "
            "assigned partition: it drains its partitions together, so this is the time for "
            "all their messages not processed yet, the same on each partition behind; 0 when "
            "this one is caught up, +Inf while some wait and none were processed lately.",
            ["topic", "partition"],
            registry=r,
        )
        self.held_events = Gauge(
            "segmentation_held_events",
            "Input events waiting for the other input topics of their partition to be read "
            "up to their event time (a backlog read faster on one topic than another).",
            registry=r,
        )
        self.watermark_delay_seconds = Gauge(
            "segmentation_watermark_delay_seconds",
            "Wall time minus the partition's event-time clock (watermark); grows while "
            "replaying history or when producers stall.",
            ["partition"],
            registry=r,
        )

        # The population this worker holds.
        self.ready = Gauge(
            "segmentation_ready",
            "1 once table recovery has finished and the engine holds this worker's partitions "
            "(as /readyz answers), 0 before and during a rebalance.",
            registry=r,
        )
        self.profiles = Gauge(
            "segmentation_profiles",
            "Customer profiles held in this worker's table (its assigned partitions).",
            registry=r,
        )
        self.buyers_elsewhere = Gauge(
            "segmentation_buyers_elsewhere",
            "Buyers of the partitions other workers hold, from their shared counts; scores "
            "rank against them too (0 with one worker).",
            registry=r,
        )
        self.customers_by_lifecycle_stage = Gauge(
            "segmentation_customers_by_lifecycle_stage",
            "Customers of this worker's partitions in each lifecycle stage.",
            ["stage"],
            registry=r,
        )
        self.customers_by_churn_band = Gauge(
            "segmentation_customers_by_churn_band",
            "Customers of this worker's partitions in each churn-risk band.",
            ["band"],
            registry=r,
        )

        # The online churn model, judged on snapshots whose outcome is known.
        self.churn_log_loss = Gauge(
            "segmentation_churn_model_log_loss",
            "Rolling log loss of the churn model on labelled snapshots (lower is better).",
            registry=r,
        )
        self.churn_roc_auc = Gauge(
            "segmentation_churn_model_roc_auc",
            "Rolling ROC AUC of the churn model on labelled snapshots (0.5 is chance).",
            registry=r,
        )
        self.churn_labelled = Gauge(
            "segmentation_churn_model_labelled_snapshots",
            "Snapshots the churn model has learned from (their outcome became known).",
            registry=r,
        )
        self.churn_pending = Gauge(
            "segmentation_churn_model_pending_snapshots",
            "Snapshots waiting for their outcome (a purchase, or the horizon of silence).",
            registry=r,
        )

        self.build = Info(
            "segmentation_build",
            "The running worker: package version and Python version.",
            registry=r,
        )
        self.build.info({"version": __version__, "python": platform.python_version()})

        # Unknown until the first snapshot is labelled; 0 would read as a perfect log loss.
        self.churn_log_loss.set(float("nan"))
        self.churn_roc_auc.set(float("nan"))
        # Known label values start at zero, so rate() and the alerts see them from the start.
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(reason)
        for operation in ("event", "tick"):
            self.processing_seconds.labels(operation)
        self.set_lifecycle_counts({})
        self.set_churn_band_counts({})
        self._lag_keys: set[tuple[str, str]] = set()
        self._watermark_keys: set[str] = set()

    def dead_lettered(self, reason: str) -> None:
        if reason not in DEAD_LETTER_REASONS:
            raise ValueError(f"unknown dead-letter reason {reason!r}")
        self.dead_letters.labels(reason).inc()

    def output_written(self, topic: str, event: BaseModel) -> None:
        """One event written to ``topic``; a segment change also counts as a flow."""
        if isinstance(event, SegmentChange):
            self.output_events.labels(topic, event.dimension).inc()
            self.transitions.labels(event.dimension, event.from_ or NONE, event.to or NONE).inc()
        elif isinstance(event, ChurnRisk):
            self.output_events.labels(topic, "churn_risk").inc()
        else:
            self.output_events.labels(topic, "").inc()

    def outputs_written(self, topic_events: Iterable[tuple[str, BaseModel]]) -> None:
        """Like :meth:`output_written` for a whole batch, one counter update per label set."""
        flows: dict[tuple[str, str, str | None, str | None], int] = {}
        for topic, event in topic_events:
            if isinstance(event, SegmentChange):
                key = (topic, event.dimension, event.from_ or NONE, event.to or NONE)
            elif isinstance(event, ChurnRisk):
                key = (topic, "churn_risk", None, None)
            else:
                key = (topic, "", None, None)
            flows[key] = flows.get(key, 0) + 1
        for (topic, dimension, old, new), count in flows.items():
            self.output_events.labels(topic, dimension).inc(count)
            if old is not None and new is not None:
                self.transitions.labels(dimension, old, new).inc(count)

    def set_lifecycle_counts(self, counts: Mapping[str, int]) -> None:
        """Publish the whole distribution: stages absent from ``counts`` drop to zero."""
        for stage in LIFECYCLE_STAGES:
            self.customers_by_lifecycle_stage.labels(stage).set(counts.get(stage, 0))

    def set_churn_band_counts(self, counts: Mapping[str, int]) -> None:
        for band in CHURN_BANDS:
            self.customers_by_churn_band.labels(band).set(counts.get(band, 0))

    def set_lag(self, lag: Mapping[tuple[str, int], tuple[int, float]]) -> None:
        """Publish ``{(topic, partition): (messages, seconds)}`` for the current assignment;
        partitions no longer assigned are removed so a rebalance leaves no stale series."""
        keys = {(topic, str(partition)) for topic, partition in lag}
        for key in self._lag_keys - keys:
            self.consumer_lag_messages.remove(*key)
            self.consumer_lag_seconds.remove(*key)
        for (topic, partition), (messages, seconds) in lag.items():
            self.consumer_lag_messages.labels(topic, str(partition)).set(messages)
            self.consumer_lag_seconds.labels(topic, str(partition)).set(seconds)
        self._lag_keys = keys

    def partitions_revoked(self, revoked: Iterable[tuple[str, int]]) -> None:
        """Until the worker is ready again it holds no profiles and no held events, and it
        reports nothing for the ``(topic, partition)`` pairs taken away: their new owner
        reports them, and the last figures would be counted twice (or for ever, if this
        worker never gets ready)."""
        self.ready.set(0)
        self.profiles.set(0)
        self.held_events.set(0)
        self.set_lifecycle_counts({})
        self.set_churn_band_counts({})
        gone = {(topic, str(partition)) for topic, partition in revoked}
        for key in self._lag_keys & gone:
            self.consumer_lag_messages.remove(*key)
            self.consumer_lag_seconds.remove(*key)
        self._lag_keys -= gone
        partitions = {partition for _, partition in gone}
        for key in self._watermark_keys & partitions:
            self.watermark_delay_seconds.remove(key)
        self._watermark_keys -= partitions

    def set_watermark_delays(self, delays: Mapping[int, float]) -> None:
        """Publish ``{partition: seconds}`` for the current assignment, like :meth:`set_lag`."""
        keys = {str(partition) for partition in delays}
        for key in self._watermark_keys - keys:
            self.watermark_delay_seconds.remove(key)
        for partition, seconds in delays.items():
            self.watermark_delay_seconds.labels(str(partition)).set(seconds)
        self._watermark_keys = keys
