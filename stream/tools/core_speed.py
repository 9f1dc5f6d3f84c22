"""How fast the core engine runs on its own: ``python -m stream.tools.core_speed [DAYS]``.

Generates the realistic workload (``stream generate``'s personas: 200,000 events from 20,000
customers over DAYS days, 365 by default), parses it with ``parse_input`` and feeds it to
``Engine.process`` in this process, profiles in a dict, once without and once with the river
churn model. Prints events per second (wall and CPU time of this process; the CPU rate is the
steadier one on a shared machine) and the outputs produced. No broker, no Faust: this is the
ceiling the worker's pipeline works under.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

import orjson

from schemas.inputs import AnyInput, parse_input
from stream.core.churn import ChurnModel
from stream.core.config import EngineConfig
from stream.core.engine import Engine
from stream.tools.generate import MAX_DAYS, generate
from stream.tools.options import number

CUSTOMERS = 20_000
EVENTS = 200_000


def parsed_workload(days: float) -> list[AnyInput]:
    workload = generate(
        customers=CUSTOMERS,
        events=EVENTS,
        days=days,
        seed=1,
        start=datetime(2025, 1, 1, tzinfo=UTC),
    )
    raws = [(body["event_type"], orjson.dumps(body)) for body in workload.events]
    started = time.perf_counter()
    events = [parse_input(kind, raw, max_bytes=100_000) for kind, raw in raws]
    print(f"parse: {len(events) / (time.perf_counter() - started):,.0f} events/s")
    return events


def run(events: list[AnyInput], *, churn: bool) -> None:
    config = EngineConfig()
    engine = Engine(config, churn=ChurnModel(config) if churn else None)
    emitted_at = datetime.now(UTC)
    outputs = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for event in events:
        outputs += len(engine.process(event, 0, emitted_at).outputs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    label = "engine with churn model" if churn else "engine without churn"
    print(
        f"{label}: {len(events) / wall:,.0f} events/s wall, {len(events) / cpu:,.0f} CPU; "
        f"{outputs:,} outputs"
    )


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
    events = parsed_workload(parser.parse_args(argv).days)
    run(events, churn=False)
    run(events, churn=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
