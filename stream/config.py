"""Settings from the environment (``STREAM_*``), one place for every knob.

Every broker and engine setting comes from here, so the embedded broker and Apache Kafka run
the same code path. A bad value fails at start-up with the variable's name in the message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar

from stream.core.config import EngineConfig


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


EMBEDDED_PORT = 19092

N = TypeVar("N", int, float)


def _get(name: str, default: str) -> str:
    return os.environ.get(name, default).strip()


def _number(name: str, default: N, minimum: N) -> N:
    raw = _get(name, str(default))
    kind = type(default)
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name}={raw!r} is not {what}") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _get(name, default)
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def broker_servers(url: str, source: str = "STREAM_BROKER") -> str:
    """Turn ``kafka://h1:9092;h2:9092`` (Faust style) or ``h1:9092,h2:9092`` into bootstrap.

    ``source`` names where ``url`` came from (a variable or an option) in the error message.
    """
    if not url:
        raise ConfigError(f"{source} is empty; expected e.g. kafka://127.0.0.1:19092")
    hosts = []
    for part in url.replace(";", ",").split(","):
        part = part.strip()
        if part.startswith("kafka://"):
            part = part[len("kafka://") :]
        host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ConfigError(f"{source}={url!r}: {part!r} is not host:port")
        hosts.append(part)
    return ",".join(hosts)


@dataclass(frozen=True)
class Topics:
    """Topic names (DOMAIN.md), overridable for multi-tenant clusters."""

    purchases: str = "customer.purchases"
    interactions: str = "customer.interactions"
    surveys: str = "customer.surveys"
    segment_changes: str = "customer.segment-changes"
    churn_risk: str = "customer.churn-risk"
    dead_letter: str = "customer.dead-letter"
    profiles: str = "customer.profiles"

    @property
    def inputs(self) -> tuple[str, str, str]:
        return (self.purchases, self.interactions, self.surveys)

    @property
    def outputs(self) -> tuple[str, str, str, str]:
        return (self.segment_changes, self.churn_risk, self.dead_letter, self.profiles)

    @property
    def all(self) -> tuple[str, ...]:
        return self.inputs + self.outputs


@dataclass(frozen=True)
class Settings:
    broker: str = f"kafka://127.0.0.1:{EMBEDDED_PORT}"
    embedded_port: int = EMBEDDED_PORT
    app_id: str = "stream-segmentation"
    partitions: int = 4
    replication: int = 1
    store: str = "rocksdb"
    clock: str = "live"
    data_dir: Path = Path("var")
    web_port: int = 6066
    session_timeout_s: float = 60.0
    web_host: str = "127.0.0.1"
    log_level: str = "INFO"
    log_format: str = "json"
    max_payload_bytes: int = 1_000_000
    topics: Topics = field(default_factory=Topics)
    engine: EngineConfig = field(default_factory=EngineConfig)

    @property
    def bootstrap_servers(self) -> str:
        return broker_servers(self.broker)

    @property
    def store_url(self) -> str:
        return "rocksdb://" if self.store == "rocksdb" else "memory://"

    @classmethod
    def from_env(cls) -> Settings:
        topics = Topics(
            **{
                f.name: _get(f"STREAM_TOPIC_{f.name.upper()}", f.default)  # type: ignore[arg-type]
                for f in fields(Topics)
            }
        )
        settings = cls(
            broker=_get("STREAM_BROKER", cls.broker),
            embedded_port=_number("STREAM_EMBEDDED_PORT", EMBEDDED_PORT, 1),
            app_id=_get("STREAM_APP_ID", cls.app_id),
            partitions=_number("STREAM_PARTITIONS", cls.partitions, 1),
            replication=_number("STREAM_REPLICATION", cls.replication, 1),
            store=_choice("STREAM_STORE", cls.store, ("rocksdb", "memory")),
            clock=_choice("STREAM_CLOCK", cls.clock, ("live", "event")),
            data_dir=Path(_get("STREAM_DATA_DIR", str(cls.data_dir))),
            web_port=_number("STREAM_WEB_PORT", cls.web_port, 1),
            web_host=_get("STREAM_WEB_HOST", cls.web_host),
            session_timeout_s=_number("STREAM_SESSION_TIMEOUT_S", cls.session_timeout_s, 10.0),
            log_level=_choice(
                "STREAM_LOG_LEVEL", cls.log_level, ("DEBUG", "INFO", "WARNING", "ERROR")
            ),
            log_format=_choice("STREAM_LOG_FORMAT", cls.log_format, ("json", "text")),
            max_payload_bytes=_number("STREAM_MAX_PAYLOAD_BYTES", cls.max_payload_bytes, 1),
            topics=topics,
            engine=EngineConfig.from_mapping(
                {
                    key[len("STREAM_ENGINE_") :].lower(): value
                    for key, value in os.environ.items()
                    if key.startswith("STREAM_ENGINE_")
                }
            ),
        )
        settings.bootstrap_servers  # noqa: B018 - validate the URL now, not at first connect
        return settings
