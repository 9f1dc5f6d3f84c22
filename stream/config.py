"""Settings from the environment (``STREAM_*``), one place for every knob.

Every broker and engine setting comes from here, so the embedded broker and Apache Kafka run
the same code path. A bad value fails at start-up with the variable's name in the message.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from stream.core.config import Bounds, EngineConfig, N, parse_number
from stream.kafka.partitioners import PARTITIONERS


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


EMBEDDED_PORT = 19092
PORT = Bounds(1, 65535, high_open=False)
SESSION_TIMEOUT = Bounds(10, 90, high_open=False)
"""Seconds. Faust refuses a session timeout above its broker request timeout (90 s by default)
when the worker's consumer starts, after the broker is reached, with a traceback and exit 1."""
SERVICE_LINK = re.compile(
    r"[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT\w*|PORT(_\d+_(TCP|UDP|SCTP)\w*)?)"
)
"""What Kubernetes sets for a Service named stream-... (STREAM_..._SERVICE_HOST and the
like): not a mistyped setting."""
TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")
"""What Kafka accepts as a topic name (besides "." and "..", which it refuses)."""


_READ: set[str] = set()
"""Every ``STREAM_*`` variable a setting reads: any other one set is a typo."""


def _get(name: str, default: str) -> str:
    _READ.add(name)
    return os.environ.get(name, default).strip()


def _number(name: str, default: N, bounds: Bounds) -> N:
    raw = _get(name, str(default))
    try:
        value = parse_number(raw, type(default))
        bounds.check(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} {exc}") from None
    return value


def _host(name: str, default: str) -> str:
    """A host name or IP, bare: an IPv6 one may come in brackets, as in a URL, but neither
    a listening socket nor Faust's URL building takes them."""
    value = _get(name, default)
    host = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if not host:
        raise ConfigError(f"{name} is empty; expected a host name or an IP address")
    return host


def _advertised_host(name: str, default: str) -> str:
    """An address others reach this worker at, as a bare host name or IP (an IPv6 one may
    come in brackets): Faust maps partitions to workers by the URL built from it and forwards
    profile look-ups there, so an address meaning "every interface" would make every worker
    claim the same unreachable URL."""
    host = _host(name, default)
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = False  # a host name
    if unspecified:
        raise ConfigError(
            f"{name}={host!r} is not an address others can reach; listen on every interface "
            f"with STREAM_WEB_BIND and set {name} to this worker's own host name or IP"
        )
    return host


FAUST_TOPICS = ("{}-__assignor-__leader", "{}-profiles-changelog")
"""The topics Faust names after the app id (its leader topic, the profile table's changelog)."""


def _app_id(name: str, default: str) -> str:
    """The consumer group, and the prefix of the topics Faust creates: each of those must be a
    name Kafka accepts, or the worker would stop only once Kafka refused to create it."""
    value = _get(name, default)
    if not value or not all(TOPIC_NAME.fullmatch(topic.format(value)) for topic in FAUST_TOPICS):
        longest = max(len(topic.format("")) for topic in FAUST_TOPICS)
        raise ConfigError(
            f"{name}={value!r} must be 1 to {249 - longest} of a-z, A-Z, 0-9, '.', '_', '-': "
            f"Faust names topics after it ({', '.join(t.format(value) for t in FAUST_TOPICS)})"
        )
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
    population: str = "customer.population"
    """What workers share of their buyers (``schemas.population``)."""

    @property
    def inputs(self) -> tuple[str, str, str]:
        return (self.purchases, self.interactions, self.surveys)

    @property
    def outputs(self) -> tuple[str, str, str, str, str]:
        return (
            self.segment_changes,
            self.churn_risk,
            self.dead_letter,
            self.profiles,
            self.population,
        )

    @property
    def all(self) -> tuple[str, ...]:
        return self.inputs + self.outputs


def _topics() -> Topics:
    """Topic names from ``STREAM_TOPIC_*``, each one Kafka accepts and none shared."""
    names: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for f in fields(Topics):
        variable = f"STREAM_TOPIC_{f.name.upper()}"
        name = _get(variable, f.default)  # type: ignore[arg-type]
        if not TOPIC_NAME.fullmatch(name) or name in (".", ".."):
            raise ConfigError(
                f"{variable}={name!r} is not a Kafka topic name "
                "(1 to 249 of a-z, A-Z, 0-9, '.', '_', '-')"
            )
        # Kafka refuses a topic whose name differs from another's only by '.' and '_'.
        other = claimed.setdefault(name.replace(".", "_"), variable)
        if other != variable:
            raise ConfigError(
                f"{variable}={name!r} clashes with {other}: every topic needs its own name "
                "('.' and '_' count as the same)"
            )
        names[f.name] = name
    return Topics(**names)


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
    web_bind: str = "127.0.0.1"
    """The address the web server listens on."""
    web_host: str = "127.0.0.1"
    """The host name or IP (IPv6 without brackets) others reach this one at; see web_url."""
    log_level: str = "INFO"
    log_format: str = "json"
    max_payload_bytes: int = 1_000_000
    partitioner: str = "murmur2"
    """How the producers of the input topics partition by key (``stream.kafka.partitioners``)."""
    share_s: float = 30.0
    """How often workers share their buyers' counts on the population topic; 0: never."""
    topics: Topics = field(default_factory=Topics)
    engine: EngineConfig = field(default_factory=EngineConfig)

    @property
    def bootstrap_servers(self) -> str:
        return broker_servers(self.broker)

    @property
    def web_url(self) -> str:
        """Where other workers and clients reach this one (Faust's canonical URL)."""
        # An IPv6 address (a pod IP on an IPv6 cluster) needs brackets to be a URL's host.
        host = f"[{self.web_host}]" if ":" in self.web_host else self.web_host
        return f"http://{host}:{self.web_port}"

    @property
    def store_url(self) -> str:
        return "rocksdb://" if self.store == "rocksdb" else "memory://"

    @classmethod
    def from_env(cls) -> Settings:
        settings = cls(
            broker=_get("STREAM_BROKER", cls.broker),
            embedded_port=_number("STREAM_EMBEDDED_PORT", EMBEDDED_PORT, PORT),
            app_id=_app_id("STREAM_APP_ID", cls.app_id),
            partitions=_number("STREAM_PARTITIONS", cls.partitions, Bounds(1)),
            replication=_number("STREAM_REPLICATION", cls.replication, Bounds(1)),
            store=_choice("STREAM_STORE", cls.store, ("rocksdb", "memory")),
            clock=_choice("STREAM_CLOCK", cls.clock, ("live", "event")),
            data_dir=Path(_get("STREAM_DATA_DIR", str(cls.data_dir))),
            web_port=_number("STREAM_WEB_PORT", cls.web_port, PORT),
            web_bind=_host("STREAM_WEB_BIND", cls.web_bind),
            web_host=_advertised_host("STREAM_WEB_HOST", cls.web_host),
            session_timeout_s=_number(
                "STREAM_SESSION_TIMEOUT_S", cls.session_timeout_s, SESSION_TIMEOUT
            ),
            log_level=_choice(
                "STREAM_LOG_LEVEL", cls.log_level, ("DEBUG", "INFO", "WARNING", "ERROR")
            ),
            log_format=_choice("STREAM_LOG_FORMAT", cls.log_format, ("json", "text")),
            max_payload_bytes=_number("STREAM_MAX_PAYLOAD_BYTES", cls.max_payload_bytes, Bounds(1)),
            partitioner=_choice("STREAM_PARTITIONER", cls.partitioner, tuple(PARTITIONERS)),
            share_s=_number("STREAM_SHARE_S", cls.share_s, Bounds(0)),
            topics=_topics(),
            engine=EngineConfig.from_mapping(
                {
                    key[len("STREAM_ENGINE_") :].lower(): value
                    for key, value in os.environ.items()
                    if key.startswith("STREAM_ENGINE_")
                }
            ),
        )
        settings.bootstrap_servers  # noqa: B018 - validate the URL now, not at first connect
        unknown = sorted(
            key
            for key in os.environ
            if key.startswith("STREAM_")
            and not key.startswith("STREAM_ENGINE_")
            and key not in _READ
            and not SERVICE_LINK.fullmatch(key)
        )
        if unknown:
            # Left alone, STREAM_TOPIC_PURCHASE (for _PURCHASES) would quietly keep the default.
            raise ConfigError(
                f"{unknown[0]} is not a setting; known: {', '.join(sorted(_READ))} "
                "and STREAM_ENGINE_*"
            )
        if 0 < settings.share_s < 1:
            # Each share is a snapshot per partition on the topic and a merge in every worker.
            raise ConfigError(
                f"STREAM_SHARE_S={settings.share_s:g} must be 0 (do not share) or at least 1"
            )
        return settings
