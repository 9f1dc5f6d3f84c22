"""The JSON log lines: every record becomes one object, whatever its extras hold."""

import logging

import orjson

from stream.logs import JsonFormatter


def test_extras_keyed_by_partition_number_are_logged_not_lost():
    # The worker logs {partition: gap} when other workers' counts are left out: a formatter
    # that refused int keys printed a "Logging error" traceback instead of the warning.
    record = logging.LogRecord("sharing", logging.WARNING, "", 0, "left out", (), None)
    record.partitions = {3: "2.0 days", 1: "5.5 days"}
    line = orjson.loads(JsonFormatter().format(record))
    assert line["msg"] == "left out"
    assert line["partitions"] == {"3": "2.0 days", "1": "5.5 days"}
