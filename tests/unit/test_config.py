import pytest

from stream.cli import main
from stream.config import ConfigError, Settings


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
        ("STREAM_ENGINE_CHURN_HORIZON_DAYS", "soon", "is not a float"),
        ("STREAM_ENGINE_NO_SUCH_THING", "1", "is not a setting"),
    ],
)
def test_a_bad_setting_names_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises((ConfigError, ValueError), match=message):
        Settings.from_env()


def test_the_cli_exits_2_on_a_bad_setting(monkeypatch, capsys):
    monkeypatch.setenv("STREAM_PARTITIONS", "many")
    assert main(["schemas", "export", "/tmp/unused"]) == 2
    assert "STREAM_PARTITIONS" in capsys.readouterr().err
