"""How fast the batch core runs on its own: ``python -m stream.tools.core_speed [DAYS]``.

Generates the realistic workload (``stream generate``'s personas: 200,000 events from 20,000
customers over DAYS days, 365 by default) as raw JSON values and, in this process, times

- plain ``orjson.loads`` of the same values: the reference a rate is a share of;
- the core from raw bytes in to output bytes out: the batch decoder, then the batch engine
  (:class:`stream.core.batch.BatchEngine`) in batches of ``BATCH`` events, with the river churn
  model and without it.

Rates are events per second of this process's CPU time, the steadier clock on a shared
machine; compare them within one run. ``compile_seconds`` is the first batch of a fresh
engine: numba loading its cache, or compiling the kernels when the cache is cold. No broker,
no Faust: this is the ceiling the shells work under.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from stream.core.batch import BatchEngine
from stream.core.churn import ChurnModel
from stream.core.config import EngineConfig
from stream.core.decoding import BatchDecoder
from stream.tools.generate import MAX_DAYS, generate
from stream.tools.options import number

CUSTOMERS = 20_000
EVENTS = 200_000
BATCH = 4_096
MAX_BYTES = 100_000


def workload(days: float) -> tuple[list[str], list[bytes]]:
    generated = generate(
        customers=CUSTOMERS,
        events=EVENTS,
        days=days,
        seed=1,
        start=datetime(2025, 1, 1, tzinfo=UTC),
    )
    kinds = [body["event_type"] for body in generated.events]
    return kinds, [orjson.dumps(body) for body in generated.events]


def json_rate(raws: list[bytes]) -> float:
    began = time.process_time()
    for raw in raws:
        orjson.loads(raw)
    return len(raws) / (time.process_time() - began)


def core_run(kinds: list[str], raws: list[bytes], *, churn: bool) -> tuple[float, int]:
    """(events/s of CPU, outputs) from raw bytes to output bytes."""
    config = EngineConfig()
    engine = BatchEngine(config, ChurnModel(config) if churn else None)
    decoder = BatchDecoder(engine.rules, MAX_BYTES)
    emitted_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    wall_now = time.time()
    outputs = 0
    began = time.process_time()
    for start in range(0, len(raws), BATCH):
        decoded = decoder.decode(
            kinds[start : start + BATCH], raws[start : start + BATCH], wall_now
        )
        outputs += len(engine.run(engine.decoded(decoded), emitted_at))
    return len(raws) / (time.process_time() - began), outputs


def compile_seconds(kinds: list[str], raws: list[bytes]) -> float:
    began = time.perf_counter()
    core_run(kinds[:BATCH], raws[:BATCH], churn=True)
    return time.perf_counter() - began


def measure(days: float) -> dict[str, Any]:
    kinds, raws = workload(days)
    compiled = compile_seconds(kinds, raws)
    reference = json_rate(raws)
    with_churn, outputs = core_run(kinds, raws, churn=True)
    without, _ = core_run(kinds, raws, churn=False)
    return {
        "events": len(raws),
        "customers": CUSTOMERS,
        "json_decode_events_per_s": round(reference),
        "core_events_per_s": round(with_churn),
        "core_no_churn_events_per_s": round(without),
        "core_share_of_json_decode": round(with_churn / reference, 4),
        "outputs_per_event": round(outputs / len(raws), 4),
        "compile_seconds": round(compiled, 2),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stream.tools.core_speed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "days",
        nargs="?",
        type=number(above=0, most=MAX_DAYS),
        default=365.0,
        help="period of the workload (default 365)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = measure(args.days)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        for name, value in figures.items():
            print(f"{name}: {value:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
