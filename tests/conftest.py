"""Fixtures shared by every test: one embedded broker per session, started on first use."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream.kafka.broker import EmbeddedBroker

INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(INTEGRATION):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers (``127.0.0.1:PORT``) of a Tansu broker on a free port."""
    with EmbeddedBroker(log_dir=tmp_path_factory.mktemp("broker")) as running:
        yield running.bootstrap_servers


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Put the logging set-up back after a test that ran a command in-process: the handler
    ``stream.logs.setup`` installs writes to that test's captured stderr, which is closed
    once the test ends, and every later log line would print a "Logging error" traceback."""
    loggers = [logging.getLogger(name) for name in ("", "kafka", "aiokafka")]
    saved = [(logger.handlers[:], logger.level) for logger in loggers]
    yield
    for logger, (handlers, level) in zip(loggers, saved, strict=True):
        logger.handlers[:] = handlers
        logger.setLevel(level)
