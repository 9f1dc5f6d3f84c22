"""The seeded workloads whose outputs are kept as golden files (``tests/golden/*.gz``).

They were recorded with the per-event Python engine before the columnar rewrite, so that
every difference the rewrite makes is one it chose and a test names. Each workload is a
history file and the settings it runs under; together they cover lifetime and rolling
windows, two currencies, refunds before and after their orders, duplicates, surveys,
interaction-only prospects, a CSV of plain dates and (``arrival``) late events in the order
a worker would meet them.

``python -m tests.golden.record`` writes the files again: only do so on purpose, since the
point of them is that they do not move.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from stream.tools.generate import generate

HERE = Path(__file__).parent
START = datetime(2024, 1, 1, tzinfo=UTC)

Event = dict[str, Any]


@dataclass(frozen=True)
class Workload:
    name: str
    build: Callable[[Path], Path]
    """Writes the history file into a folder; returns its path."""
    cutoff: str
    env: dict[str, str] = field(default_factory=dict)
    """Engine settings, as ``STREAM_ENGINE_*`` variables."""
    args: tuple[str, ...] = ()


def _shop(seed: int, customers: int, events: int, days: float) -> list[Event]:
    return generate(customers=customers, events=events, days=days, seed=seed, start=START).events


def _ts(event: Event) -> datetime:
    return datetime.fromisoformat(event["ts"])


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_refunds(events: list[Event], rng: random.Random, share: float) -> list[Event]:
    """Refund part of some orders, a few days after them or (one in four) before them, as an
    export that lost the order's row for a while would have it."""
    refunds = []
    for event in events:
        if event["event_type"] != "purchase" or rng.random() >= share:
            continue
        days = rng.uniform(1, 20) * (-0.2 if rng.random() < 0.25 else 1)
        refunds.append(
            {
                **event,
                "event_id": f"refund-{event['event_id']}",
                "ts": _stamp(_ts(event) + timedelta(days=days)),
                "amount": round(event["amount"] * rng.choice((0.25, 0.5, 1.0)), 2),
                "refund": True,
            }
        )
    return sorted(events + refunds, key=_ts)


def _with_duplicates(events: list[Event], rng: random.Random, share: float) -> list[Event]:
    """Repeat some events later on, as a producer's retry would."""
    out = list(events)
    for index in sorted(rng.sample(range(len(events)), int(share * len(events))), reverse=True):
        out.insert(min(len(out), index + rng.randint(1, 50)), events[index])
    return out


def _write_jsonl(events: list[Event], folder: Path, name: str) -> Path:
    path = folder / f"{name}.jsonl"
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path


def lifetime(folder: Path) -> Path:
    rng = random.Random(101)
    events = _with_duplicates(_shop(101, 600, 12_000, 365), rng, 0.01)
    return _write_jsonl(events, folder, "lifetime")


def window(folder: Path) -> Path:
    rng = random.Random(102)
    events = _with_refunds(_shop(102, 500, 10_000, 365), rng, 0.08)
    return _write_jsonl(events, folder, "window")


def currencies(folder: Path) -> Path:
    """EUR and USD purchases (a rate for USD; one for GBP that no purchase uses)."""
    rng = random.Random(103)
    events = _shop(103, 500, 10_000, 300)
    for event in events:
        if event["event_type"] == "purchase" and rng.random() < 0.3:
            event["currency"] = rng.choice(("USD", "usd"))
            event["amount"] = round(event["amount"] / 0.92, 2)
    return _write_jsonl(_with_refunds(events, rng, 0.05), folder, "currencies")


def horizon(folder: Path) -> Path:
    """Two years with a short churn horizon and no allowed lateness: many churned and
    reactivated customers, and many surveys' worth of satisfaction changes."""
    return _write_jsonl(_shop(104, 400, 10_000, 730), folder, "horizon")


def dates(folder: Path) -> Path:
    """A CSV export with plain dates (read as midnight UTC): same-day orders and ties."""
    rng = random.Random(105)
    path = folder / "dates.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["customer_id", "ts", "amount"])
        for _ in range(6_000):
            customer = f"d{min(int(rng.expovariate(1 / 80)), 599):03d}"
            day = START.date() + timedelta(days=rng.randrange(400))
            writer.writerow([customer, day.isoformat(), f"{rng.lognormvariate(3, 0.8):.2f}"])
    return path


def arrival(folder: Path) -> Path:
    """Events in the order a worker meets them: one in five up to 50 minutes late, within the
    default allowed lateness of an hour (see ``arrival_order``)."""
    rng = random.Random(106)
    events = _with_refunds(_shop(106, 400, 8_000, 200), rng, 0.05)
    delays = [rng.uniform(0, 3_000) if rng.random() < 0.2 else 0.0 for _ in events]
    arriving = sorted(range(len(events)), key=lambda i: _ts(events[i]).timestamp() + delays[i])
    return _write_jsonl([events[i] for i in arriving], folder, "arrival")


WORKLOADS = (
    Workload("lifetime", lifetime, "2025-01-10"),
    Workload("window", window, "2025-01-10", {"STREAM_ENGINE_WINDOW_DAYS": "90"}),
    Workload(
        "currencies",
        currencies,
        "2024-11-01",
        {"STREAM_ENGINE_CURRENCY": "EUR", "STREAM_ENGINE_FX_RATES": "USD=0.92,GBP=1.17"},
    ),
    Workload(
        "horizon",
        horizon,
        "2026-01-05",
        {"STREAM_ENGINE_ALLOWED_LATENESS_S": "0"},
        ("--horizon-days", "45"),
    ),
    Workload("dates", dates, "2025-03-01", {}, ("--format", "csv")),
)
"""Recorded with ``stream backtest``, which runs a file in event-time order."""

ARRIVAL = Workload("arrival", arrival, "2024-07-25")
"""Recorded by feeding the engine in file order, as the worker does a partition."""
