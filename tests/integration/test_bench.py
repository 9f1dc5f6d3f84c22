"""``stream bench`` end to end on a small workload: every stage runs and reports a figure."""

from __future__ import annotations

import subprocess
import sys

import orjson

FIGURES = (
    "raw_events_per_s",
    "pipeline_events_per_s",
    "peer_events_per_s",
    "ratio_to_raw",
    "ratio_to_peer",
    "latency_p50_ms",
    "latency_p99_ms",
    "state_bytes_per_customer",
)


def test_bench_reports_every_figure(broker):
    command = [sys.executable, "-m", "stream", "bench", "--json", "--broker", broker]
    small = ["--events", "3000", "--customers", "300", "--peer-events", "300"]
    latency = ["--latency-rate", "200", "--latency-seconds", "1"]
    done = subprocess.run(command + small + latency, capture_output=True, timeout=170, check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    figures = orjson.loads(done.stdout)
    assert figures["events"] == 3000
    assert figures["customers"] == 300
    assert figures["peer_events"] == 300
    assert figures["latency_matched"] == figures["latency_events"] == 200
    for name in FIGURES:
        assert figures[name] > 0, name
    assert figures["latency_p99_ms"] >= figures["latency_p50_ms"]
