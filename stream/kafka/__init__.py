"""Kafka-facing helpers: the embedded broker, topic administration and offset reading."""


class BrokerUnavailable(RuntimeError):
    """The configured broker did not answer; the message says where we looked.

    The ``stream`` commands turn it into exit code 3.
    """


__all__ = ["BrokerUnavailable"]
