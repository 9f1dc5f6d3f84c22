"""Topic administration: wait for a broker, then create every topic the engine uses.

Creation is idempotent, so ``stream broker``, the worker and the tests may all call
:func:`ensure_topics` on the same cluster. An existing topic is left as it is (Kafka cannot
shrink partitions, and changing them would re-key customers), with a warning if its partition
count differs from the settings. A topic the broker refuses to create is a ConfigError (exit 2),
or BrokerUnavailable (exit 3) when Kafka calls the failure retriable.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from stream.config import ConfigError, Settings
from stream.kafka import BrokerUnavailable

log = logging.getLogger(__name__)

COMPACTED = {
    "cleanup.policy": "compact",
    # Kafka never compacts the segment being written, 1 GB or a week by default: workers
    # re-publish profiles and population counts all the time, and a reader starting from the
    # beginning would read every version since.
    "segment.ms": "600000",
    "min.cleanable.dirty.ratio": "0.1",
}


def _connect(bootstrap_servers: str, timeout: float) -> KafkaAdminClient:
    timeout_ms = max(int(timeout * 1000), 1)
    return KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="stream-admin",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=max(timeout_ms, 1000),
        reconnect_backoff_max_ms=500,
    )


def admin_client(bootstrap_servers: str, timeout: float = 10.0) -> KafkaAdminClient:
    """An admin client that has already reached the broker, or :class:`BrokerUnavailable`."""
    try:
        return _connect(bootstrap_servers, timeout)
    except KafkaError as exc:
        raise BrokerUnavailable(
            f"no answer from {bootstrap_servers} within {timeout:g}s ({exc})"
        ) from None


def wait_for_broker(bootstrap_servers: str, timeout: float = 30.0) -> list[str]:
    """Block until the broker answers a metadata request; return its topic names."""
    deadline = time.monotonic() + timeout
    last_error = "none"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerUnavailable(
                f"no answer from {bootstrap_servers} within {timeout:g}s (last error: "
                f"{last_error}); is the broker running? 'stream broker' starts one, and "
                "STREAM_BROKER says where to look"
            )
        try:
            # A refused connection is the normal state of a broker still starting; probing
            # the port first keeps kafka-python from logging it as an error on every try.
            _probe(bootstrap_servers, min(remaining, 2.0))
            with _connect(bootstrap_servers, min(remaining, 5.0)) as admin:
                return list(admin.list_topics())
        except (KafkaError, OSError) as exc:
            last_error = str(exc) or type(exc).__name__
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))


def _probe(bootstrap_servers: str, timeout: float) -> None:
    """Return once one bootstrap address accepts a TCP connection, else raise OSError."""
    error: OSError = ConnectionRefusedError("no bootstrap address")
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
            return
        except OSError as exc:
            error = exc
    raise error


def topic_specs(settings: Settings) -> dict[str, dict[str, object]]:
    """What to create: every topic with the configured partitions; the profiles and the
    population snapshots compacted (only the latest per key matters)."""
    specs: dict[str, dict[str, object]] = {
        name: {
            "num_partitions": settings.partitions,
            "replication_factor": settings.replication,
        }
        for name in settings.topics.all
    }
    for compacted in (settings.topics.profiles, settings.topics.population):
        specs[compacted]["configs"] = dict(COMPACTED)
    return specs


def ensure_topics(bootstrap_servers: str, settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the missing topics; return the names that were created by this call."""
    wait_for_broker(bootstrap_servers, timeout)
    specs = topic_specs(settings)
    with admin_client(bootstrap_servers, timeout) as admin:
        result = admin.create_topics(specs, timeout_ms=int(timeout * 1000), raise_errors=False)
        created = []
        for topic in result["topics"]:
            if topic["error_code"] == 0:
                created.append(topic["name"])
            elif for_code(topic["error_code"]) is not TopicAlreadyExistsError:
                raise _refused(topic, settings)
        admin.wait_for_topics(list(specs), timeout_ms=int(timeout * 1000))
        _warn_on_partition_mismatch(admin.describe_topics(list(specs)), settings.partitions)
    if created:
        log.info("created topics", extra={"topics": created, "bootstrap": bootstrap_servers})
    return created


def _refused(topic: dict[str, Any], settings: Settings) -> ConfigError | BrokerUnavailable:
    """Why the broker would not create ``topic``: a busy broker when Kafka says to retry (a
    timeout, a controller moving), else the settings (too many replicas, no permission)."""
    error = for_code(topic["error_code"])
    message = (
        f"could not create topic {topic['name']!r}: {error.__name__} "
        f"({topic.get('error_message') or 'no message from the broker'})"
    )
    if error.retriable:
        return BrokerUnavailable(f"{message}; try again when the broker is ready")
    return ConfigError(
        f"{message}; STREAM_PARTITIONS={settings.partitions}, "
        f"STREAM_REPLICATION={settings.replication}"
    )


def _warn_on_partition_mismatch(described: list[dict], partitions: int) -> None:  # type: ignore[type-arg]
    for topic in described:
        actual = len(topic["partitions"])
        if actual != partitions:
            log.warning(
                "topic has %d partitions, settings ask for %d; leaving it as it is",
                actual,
                partitions,
                extra={"topic": topic["name"]},
            )
