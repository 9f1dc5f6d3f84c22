import math
import re
import urllib.error
import urllib.request
from dataclasses import fields, replace
from pathlib import Path

import pytest

from stream.cli import main
from stream.config import SESSION_TIMEOUT, ConfigError, Settings
from stream.core.config import BOUNDS, EngineConfig, EngineConfigError
from stream.worker.app import create_worker


def test_defaults_point_at_the_embedded_broker():
    settings = Settings.from_env()
    assert settings.bootstrap_servers == "127.0.0.1:19092"
    assert settings.topics.purchases == "customer.purchases"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STREAM_PARTITIONS", "x", "STREAM_PARTITIONS='x' is not a whole number"),
        ("STREAM_PARTITIONS", "0", "must be at least 1"),
        ("STREAM_SESSION_TIMEOUT_S", "fast", "is not a number"),
        ("STREAM_STORE", "disk", "must be one of rocksdb, memory"),
        ("STREAM_BROKER", "kafka://nohost", "is not host:port"),
        ("STREAM_SESSION_TIMEOUT_S", "nan", "STREAM_SESSION_TIMEOUT_S='nan' is not a finite"),
        ("STREAM_SESSION_TIMEOUT_S", "inf", "is not a finite number"),
        # Faust would refuse it once the broker is reached, with a traceback and exit 1.
        ("STREAM_SESSION_TIMEOUT_S", "120", "STREAM_SESSION_TIMEOUT_S='120' must be in [10, 90]"),
        ("STREAM_SESSION_TIMEOUT_S", "5", "must be in [10, 90]"),
        ("STREAM_WEB_PORT", "99999", "STREAM_WEB_PORT='99999' must be in [1, 65535]"),
        ("STREAM_WEB_PORT", "0", "must be in [1, 65535]"),
        ("STREAM_EMBEDDED_PORT", "65536", "must be in [1, 65535]"),
        ("STREAM_TOPIC_PURCHASES", "", "STREAM_TOPIC_PURCHASES='' is not a Kafka topic name"),
        ("STREAM_TOPIC_SURVEYS", "customer surveys", "is not a Kafka topic name"),
        ("STREAM_TOPIC_PROFILES", "x" * 250, "is not a Kafka topic name"),
        ("STREAM_TOPIC_PROFILES", "..", "is not a Kafka topic name"),
        ("STREAM_TOPIC_CHURN_RISK", "customer.purchases", "clashes with STREAM_TOPIC_PURCHASES"),
        # Kafka refuses a topic whose name differs from another's only by '.' and '_'.
        ("STREAM_TOPIC_DEAD_LETTER", "customer_purchases", "clashes with STREAM_TOPIC_PURCHASES"),
        # Faust would stop with a traceback ("App requires an id!"), exit 1.
        ("STREAM_APP_ID", "", "STREAM_APP_ID='' must be 1 to 229 of"),
        # Faust names its changelog and leader topics after it; Kafka would refuse them.
        ("STREAM_APP_ID", "segment app", "after it (segment app-__assignor-__leader, segment"),
        ("STREAM_APP_ID", "a" * 230, "must be 1 to 229 of"),
        ("STREAM_WEB_BIND", "", "STREAM_WEB_BIND is empty"),
        ("STREAM_WEB_BIND", "[]", "STREAM_WEB_BIND is empty"),
        # Every worker would advertise the same unreachable URL to the others.
        ("STREAM_WEB_HOST", "0.0.0.0", "STREAM_WEB_HOST='0.0.0.0' is not an address"),
        ("STREAM_WEB_HOST", "[::]", "listen on every interface with STREAM_WEB_BIND"),
        ("STREAM_ENGINE_CHURN_HORIZON_DAYS", "soon", "='soon' is not a number"),
        ("STREAM_ENGINE_DEDUP_IDS_PER_CUSTOMER", "1.5", "='1.5' is not a whole number"),
        # Named as they are set, so the list can be copied from.
        (
            "STREAM_ENGINE_NO_SUCH_THING",
            "1",
            "is not a setting; known: STREAM_ENGINE_ALLOWED_LATENESS_S, ",
        ),
        # A zero or negative prior weight divides by zero at a customer's first purchase.
        ("STREAM_ENGINE_PRIOR_WEIGHT", "0", "STREAM_ENGINE_PRIOR_WEIGHT='0' must be above 0"),
        ("STREAM_ENGINE_PRIOR_WEIGHT", "-1", "must be above 0"),
        ("STREAM_ENGINE_CHURN_HORIZON_DAYS", "nan", "='nan' is not a finite number"),
        ("STREAM_ENGINE_ALLOWED_LATENESS_S", "nan", "is not a finite number"),
        ("STREAM_ENGINE_ALLOWED_LATENESS_S", "inf", "is not a finite number"),
        ("STREAM_ENGINE_ALLOWED_LATENESS_S", "-1", "must be at least 0"),
        ("STREAM_ENGINE_WINDOW_DAYS", "-30", "must be at least 0"),
        # A negative step would emit churn-risk events for probabilities that did not move.
        ("STREAM_ENGINE_CHURN_STEP", "-1", "must be in (0, 1)"),
        ("STREAM_ENGINE_CHURN_STEP", "10", "must be in (0, 1)"),
        ("STREAM_ENGINE_CHURN_HYSTERESIS", "0.4", "must be in (0, 0.33)"),
        ("STREAM_ENGINE_DECLINING_OVERDUE_RATIO", "nan", "is not a finite number"),
        ("STREAM_ENGINE_DECLINING_OVERDUE_RATIO", "0.5", "must be at least 1"),
        ("STREAM_ENGINE_DECLINING_SPEND_RATIO", "1.5", "must be in (0, 1]"),
        ("STREAM_ENGINE_GROWING_RATE_RATIO", "nan", "is not a finite number"),
        ("STREAM_ENGINE_DEDUP_IDS_PER_CUSTOMER", "0", "must be at least 1"),
        ("STREAM_ENGINE_DECLINING_MIN_INTERACTIONS", "0", "must be at least 1"),
        ("STREAM_SHARE_S", "-5", "STREAM_SHARE_S='-5' must be at least 0"),
        # A snapshot per partition on the topic, and a merge in every worker, a hundred a second.
        ("STREAM_SHARE_S", "0.01", "STREAM_SHARE_S=0.01 must be 0 (do not share) or at least 1"),
        # A typo would otherwise leave the default in place without a word.
        ("STREAM_TOPIC_PURCHASE", "orders", "STREAM_TOPIC_PURCHASE is not a setting; known: "),
        ("STREAM_BROKERS", "kafka://h:9092", "STREAM_BROKERS is not a setting; known: "),
    ],
)
def test_a_bad_setting_names_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises((ConfigError, ValueError), match=re.escape(message)):
        Settings.from_env()


def test_kubernetes_service_links_are_not_taken_for_mistyped_settings(monkeypatch):
    links = {
        "STREAM_SEGMENTATION_SERVICE_HOST": "10.0.0.7",
        "STREAM_SEGMENTATION_SERVICE_PORT": "6066",
        "STREAM_SEGMENTATION_SERVICE_PORT_WEB": "6066",
        "STREAM_SEGMENTATION_PORT": "tcp://10.0.0.7:6066",
        "STREAM_SEGMENTATION_PORT_6066_TCP": "tcp://10.0.0.7:6066",
        "STREAM_SEGMENTATION_PORT_6066_TCP_PROTO": "tcp",
        "STREAM_SEGMENTATION_PORT_6066_TCP_ADDR": "10.0.0.7",
    }
    for name, value in links.items():
        monkeypatch.setenv(name, value)
    assert Settings.from_env().web_port == 6066


def test_the_app_id_names_topics_kafka_accepts(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAM_APP_ID", "a" * 229)
    settings = replace(Settings.from_env(), store="memory", data_dir=tmp_path)
    app = create_worker(settings, partitions=4).app
    changelog = app.tables["profiles"].changelog_topic.get_topic_name()
    leader = app._leader_assignor._leader_topic_name
    assert max(len(changelog), len(leader)) == 249


def test_renamed_topics_are_read(monkeypatch):
    monkeypatch.setenv("STREAM_TOPIC_PURCHASES", "shop-1.Purchases_v2")
    monkeypatch.setenv("STREAM_TOPIC_PROFILES", "p" * 249)
    topics = Settings.from_env().topics
    assert topics.purchases == "shop-1.Purchases_v2" and topics.profiles == "p" * 249


def faust_conf(monkeypatch, tmp_path, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = replace(Settings.from_env(), store="memory", data_dir=tmp_path)
    return create_worker(settings, partitions=4).app.conf


def test_the_longest_session_timeout_accepted_is_one_faust_accepts(monkeypatch, tmp_path):
    """Faust checks it against its request timeout only when the consumer starts, after the
    broker is reached: a worker would crash there instead of exiting 2 at once."""
    longest = str(SESSION_TIMEOUT.high)
    conf = faust_conf(monkeypatch, tmp_path, STREAM_SESSION_TIMEOUT_S=longest)
    assert conf.broker_session_timeout == SESSION_TIMEOUT.high
    assert conf.broker_session_timeout <= conf.broker_request_timeout


def test_the_worker_listens_on_loopback_by_default(monkeypatch, tmp_path):
    conf = faust_conf(monkeypatch, tmp_path)
    assert conf.web_bind == "127.0.0.1"
    assert str(conf.canonical_url) == "http://127.0.0.1:6066"


def test_the_worker_advertises_web_host_and_listens_on_web_bind(monkeypatch, tmp_path):
    # Faust maps partitions to workers by canonical URL and forwards profile look-ups there.
    conf = faust_conf(monkeypatch, tmp_path, STREAM_WEB_BIND="0.0.0.0", STREAM_WEB_HOST="worker-2")
    assert conf.web_bind == "0.0.0.0"
    assert str(conf.canonical_url) == "http://worker-2:6066"


def test_an_ipv6_listen_address_may_come_in_brackets(monkeypatch, tmp_path):
    # A socket binds to "::", not "[::]", the way the address is written in a URL.
    conf = faust_conf(monkeypatch, tmp_path, STREAM_WEB_BIND="[::]", STREAM_WEB_HOST="fd00::1")
    assert conf.web_bind == "::"


@pytest.mark.parametrize("host", ["fd00::1", "[fd00::1]"])
def test_an_ipv6_web_host_is_bracketed_in_the_workers_url(monkeypatch, tmp_path, host):
    # A pod's IP on an IPv6 cluster; http://fd00::1:6066 is no URL at all.
    conf = faust_conf(monkeypatch, tmp_path, STREAM_WEB_HOST=host)
    assert str(conf.canonical_url) == "http://[fd00::1]:6066"
    # What Faust's router compares when it forwards a look-up.
    assert (conf.canonical_url.host, conf.canonical_url.port) == ("fd00::1", 6066)


def test_profile_asks_an_ipv6_web_host_at_a_bracketed_url(monkeypatch, capsys):
    asked = []

    def unreachable(url, timeout):
        asked.append(url)
        raise urllib.error.URLError("unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    monkeypatch.setenv("STREAM_WEB_HOST", "fd00::1")
    assert main(["profile", "c1"]) == 3
    assert asked == ["http://[fd00::1]:6066/customers/c1"]


def test_the_cli_exits_2_on_a_bad_setting(monkeypatch, capsys):
    monkeypatch.setenv("STREAM_PARTITIONS", "many")
    assert main(["schemas", "export", "/tmp/unused"]) == 2
    assert "STREAM_PARTITIONS" in capsys.readouterr().err


# -- engine thresholds ---------------------------------------------------------------------

NUMBERS = [f.name for f in fields(EngineConfig) if f.type in ("int", "float")]


def test_every_engine_number_has_bounds_and_the_readme_states_them():
    assert set(BOUNDS) == set(NUMBERS)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text().splitlines()
    for name, bounds in BOUNDS.items():
        (row,) = [line for line in readme if line.startswith("| `") and name.upper() in line]
        assert f" {bounds} " in row, f"README: {name} accepts {bounds}"


@pytest.mark.parametrize("name", NUMBERS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_no_threshold_is_nan_or_infinite(name, value):
    # Built in code, not from the environment: the message names the field.
    with pytest.raises(EngineConfigError, match=f"^{name}={value!r} is not a finite number"):
        EngineConfig(**{name: value})


def test_the_edges_of_each_range_are_accepted(monkeypatch):
    edges = {
        "ALLOWED_LATENESS_S": "0",
        "WINDOW_DAYS": "0",
        "GROWING_TENURE_DAYS": "0",
        "DECLINING_OVERDUE_RATIO": "1",
        "DECLINING_SPEND_RATIO": "1",
        "GROWING_RATE_RATIO": "1",
        "DEDUP_IDS_PER_CUSTOMER": "1",
        "CHURN_STEP": "0.99",
        "CHURN_HYSTERESIS": "0.32",
    }
    for key, value in edges.items():
        monkeypatch.setenv(f"STREAM_ENGINE_{key}", value)
    engine = Settings.from_env().engine
    assert engine.window_s is None and engine.churn_hysteresis == 0.32


def test_a_replaced_threshold_is_checked_too():
    with pytest.raises(EngineConfigError, match=re.escape("churn_step=0 must be in (0, 1)")):
        replace(EngineConfig(), churn_step=0)
