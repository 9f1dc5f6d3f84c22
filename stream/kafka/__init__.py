"""Kafka-facing helpers: the embedded broker and topic administration.

``BrokerUnavailable`` is the CLI's exception, re-exported so that library callers can catch the
same error the ``stream`` commands turn into exit code 3.
"""

from stream.cli import BrokerUnavailable

__all__ = ["BrokerUnavailable"]
