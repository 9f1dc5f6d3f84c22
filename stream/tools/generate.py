"""``stream generate``: a seeded synthetic workload of customers with known personas.

Each customer follows one persona, so tests and benchmarks can check that the engine finds
what was planted:

- ``loyal``: buys at a regular cadence until the end, stable spend, good survey scores.
- ``bargain_hunter``: buys in bursts during sales, small baskets, many views and cart adds.
- ``one_off``: exactly one purchase, a few interactions around it.
- ``fading``: a regular buyer who stops part-way (before 60% of the period) and goes silent.
- ``detractor``: buys, complains, answers surveys with NPS 0-6 and/or CSAT 1-2.
- ``prospect``: interactions only, never buys.

Exactly ``--events`` events are emitted, sorted by event time; each is the JSON value of its
input topic (``event_type`` names the topic). The same seed gives the same events.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from schemas.inputs import EARLIEST_TS, MAX_CLOCK_SKEW_S, SCHEMA_VERSION
from stream.config import Settings, Topics
from stream.core.config import EngineConfig
from stream.kafka import BrokerUnavailable
from stream.kafka.topics import ensure_topics
from stream.tools.options import STDOUT, Outputs, UsageError, iso_date, number

DAY = 86_400.0
MAX_DAYS = 36_525  # a century: anything longer is a typo, and slow to generate
START = date(2024, 1, 1)
"""The first day of a generated workload unless ``generate --start`` says otherwise."""
CURRENCY = "EUR"
REGIONS = ("DE", "FR", "NL", "BE", "ES", "IT", "AT", "PL")

Event = dict[str, Any]
Planned = tuple[float, Event]  # (days since the start, event without ids or time)


@dataclass(frozen=True)
class Persona:
    """How many of the customers follow it and how active they are."""

    share: float
    activity: float  # relative number of events per customer
    min_events: int  # the fewest events that still show the behaviour


PERSONAS: dict[str, Persona] = {
    "loyal": Persona(share=0.25, activity=1.6, min_events=3),
    "bargain_hunter": Persona(share=0.15, activity=1.8, min_events=3),
    "one_off": Persona(share=0.20, activity=0.35, min_events=1),
    "fading": Persona(share=0.15, activity=1.2, min_events=4),
    "detractor": Persona(share=0.10, activity=1.0, min_events=3),
    "prospect": Persona(share=0.15, activity=0.3, min_events=1),
}

BROWSING = ("page_view", "product_view", "search", "add_to_cart", "email_open", "app_open")
DEAL_SEEKING = ("product_view", "search", "add_to_cart", "remove_from_cart", "wishlist_add")
ENGAGED = ("page_view", "product_view", "email_open", "email_click", "app_open", "login")
UNHAPPY = ("support_ticket", "complaint", "return_request")
CHANNELS = {
    "email_open": "email",
    "email_click": "email",
    "unsubscribe": "email",
    "push_open": "app",
    "app_open": "app",
    "sms_click": "sms",
    "support_ticket": "support",
    "complaint": "support",
    "return_request": "support",
}


@dataclass
class Workload:
    """Generated events (time-ordered dicts) and the persona behind each customer."""

    events: list[Event]
    personas: dict[str, str]
    start: datetime
    end: datetime

    def persona_counts(self) -> dict[str, int]:
        return dict(Counter(self.personas.values()))


@dataclass
class _Customer:
    """What one customer's events are drawn from."""

    customer_id: str
    events: int
    region: str
    device: str  # where they browse: web or app
    spend: float  # typical basket
    currency: str
    rng: random.Random
    days: float
    sales: Sequence[tuple[float, float]]
    planned: list[Planned] = field(default_factory=list)
    orders: int = 0

    # Times are in days since the start; the caller turns them into epoch seconds.

    def daytime(self, day: float) -> float:
        """The same day at a waking hour (most activity in the evening)."""
        day = min(max(day, 0.0), self.days - 1e-6)
        hour = self.rng.triangular(0.29, 0.97, 0.8)
        return min(math.floor(day) + hour, self.days - 1e-6)

    def purchase(self, day: float, spread: float) -> None:
        amount = max(1.0, self.spend * self.rng.lognormvariate(0.0, spread))
        self.orders += 1
        self.add(
            day,
            {
                "event_type": "purchase",
                "order_id": f"{self.customer_id}-o{self.orders}",
                "amount": round(amount, 2),
                "currency": self.currency,
                "items": 1 + int(amount // 40) + self.rng.randrange(2),
                "channel": self.rng.choice((self.device, self.device, "store")),
                "region": self.region,
            },
        )

    def interaction(self, day: float, kind: str) -> None:
        channel = CHANNELS.get(kind, self.device)
        self.add(day, {"event_type": "interaction", "type": kind, "channel": channel})

    def survey(self, day: float, nps: int | None, csat: int | None, survey_id: str) -> None:
        answer: Event = {"event_type": "survey", "survey_id": survey_id}
        if nps is not None:
            answer["nps"] = nps
        if csat is not None:
            answer["csat"] = csat
        self.add(day, answer)

    def add(self, day: float, event: Event) -> None:
        self.planned.append((min(max(day, 0.0), self.days - 1e-6), event))

    def later(self, day: float, least: float, most: float) -> float:
        """A follow-up ``least`` to ``most`` days after ``day``; sooner if the period ends."""
        follow = day + self.rng.uniform(least, most)
        return follow if follow < self.days else self.rng.uniform(day, self.days)

    def cadence(self, first: float, last: float, count: int) -> list[float]:
        """``count`` purchase days spread evenly over [first, last], each jittered a little."""
        gap = (last - first) / count
        return [
            self.daytime(first + gap * (i + 0.5 + self.rng.uniform(-0.2, 0.2)))
            for i in range(count)
        ]

    def browse(self, count: int, kinds: Sequence[str], first: float, last: float) -> None:
        for kind in self.rng.choices(kinds, k=count):
            self.interaction(self.daytime(self.rng.uniform(first, last)), kind)

    def sessions(self, count: int, kinds: Sequence[str], anchors: Sequence[float]) -> None:
        """Interactions in the hours before purchases: the visit that led to the order."""
        for kind in self.rng.choices(kinds, k=count):
            anchor = self.rng.choice(anchors)
            self.interaction(anchor - self.rng.uniform(0.005, 0.2), kind)


def _split(customer: _Customer, share: float, least: int, reserved: int) -> int:
    """How many of the customer's events are purchases: about ``share``, within bounds."""
    wanted = round(customer.events * share * customer.rng.uniform(0.8, 1.2))
    return max(least, min(wanted, customer.events - reserved))


def _loyal(c: _Customer) -> None:
    rng = c.rng
    surveys = 1 if c.events >= 8 and rng.random() < 0.5 else 0
    buys = _split(c, 0.4, 2, surveys)
    days = c.cadence(rng.uniform(0, 0.25 * c.days), c.days, buys)
    for day in days:
        c.purchase(day, spread=0.12)
    for _ in range(surveys):
        c.survey(c.later(rng.choice(days), 1, 3), rng.choice((8, 9, 9, 10, 10)), None, "nps")
    rest = c.events - buys - surveys
    near = rng.randint(0, rest)
    c.sessions(near, ENGAGED, days)
    c.browse(rest - near, ENGAGED, days[0], c.days)


def _bargain_hunter(c: _Customer) -> None:
    rng = c.rng
    buys = _split(c, 0.2, 1, 0)
    bursts = rng.sample(list(c.sales), k=min(len(c.sales), max(1, math.ceil(buys / 2))))
    days = []
    for i in range(buys):
        first, length = bursts[i % len(bursts)]
        days.append(first + rng.uniform(0, length))
        c.purchase(days[-1], spread=0.35)
    rest = c.events - buys
    hunting = round(rest * 0.8)
    c.sessions(hunting, DEAL_SEEKING, days)
    c.browse(rest - hunting, BROWSING, 0, c.days)


def _one_off(c: _Customer) -> None:
    rng = c.rng
    day = c.daytime(rng.uniform(0.02, 0.98) * c.days)
    c.purchase(day, spread=0.0)
    rest = c.events - 1
    before = rng.randint(0, rest)
    c.sessions(before, BROWSING, [day])
    for _ in range(rest - before):
        c.interaction(c.later(day, 1, 30), rng.choice(("email_open", "page_view")))


def _fading(c: _Customer) -> None:
    rng = c.rng
    first = rng.uniform(0, 0.15 * c.days)
    silent_from = rng.uniform(0.35, 0.6) * c.days
    buys = _split(c, 0.45, 3, 0)
    days = c.cadence(first, silent_from, buys)
    for day in days:
        c.purchase(day, spread=0.15)
    rest = c.events - buys
    near = rng.randint(0, rest)
    c.sessions(near, ENGAGED, days)
    c.browse(rest - near, ENGAGED, first, days[-1])


def _detractor(c: _Customer) -> None:
    rng = c.rng
    unhappy = max(1, round(c.events * 0.2))
    surveys = max(1, round(c.events * 0.1))
    buys = _split(c, 0.3, 1, unhappy + surveys)
    first = rng.uniform(0, 0.5 * c.days)
    days = c.cadence(first, c.days, buys)
    for day in days:
        c.purchase(day, spread=0.3)
    for kind in rng.choices(UNHAPPY, k=unhappy):
        c.interaction(c.later(rng.choice(days), 1, 4), kind)
    for _ in range(surveys):
        nps = rng.randint(0, 6) if rng.random() < 0.8 else None
        csat = rng.randint(1, 2) if nps is None or rng.random() < 0.5 else None
        survey_id = "nps" if nps is not None else "csat"
        c.survey(c.later(rng.choice(days), 5, 10), nps, csat, survey_id)
    c.browse(c.events - buys - unhappy - surveys, BROWSING, first, c.days)


def _prospect(c: _Customer) -> None:
    first = c.rng.uniform(0, c.days)
    c.browse(c.events, BROWSING, first, c.days)


BEHAVIOUR: dict[str, Callable[[_Customer], None]] = {
    "loyal": _loyal,
    "bargain_hunter": _bargain_hunter,
    "one_off": _one_off,
    "fading": _fading,
    "detractor": _detractor,
    "prospect": _prospect,
}
TYPICAL_SPEND = {  # (median basket, spread between customers)
    "loyal": (70.0, 0.6),
    "bargain_hunter": (18.0, 0.35),
    "one_off": (55.0, 0.8),
    "fading": (60.0, 0.5),
    "detractor": (50.0, 0.5),
    "prospect": (0.0, 0.0),
}


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into whole parts proportional to ``weights`` that add up exactly."""
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    parts = [math.floor(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: parts[i] - raw[i])
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _sales(rng: random.Random, days: float) -> list[tuple[float, float]]:
    """Sale windows (first day, length) shared by everyone: when bargain hunters buy."""
    windows = []
    day = rng.uniform(0.05, 0.1) * days
    while day < days:
        length = min(rng.uniform(2, 4), days - day)
        windows.append((day, length))
        day += rng.uniform(30, 60)
    return windows


def shop_currency(config: EngineConfig) -> str:
    """The currency to generate purchases in: the engine's base currency, so that a generated
    shop is not dead-lettered for want of a rate, or EUR without one."""
    return config.currency.upper() or CURRENCY


def workload_from(args: argparse.Namespace, settings: Settings, start: date = START) -> Workload:
    """The workload :func:`add_workload_options` asked for, in the shop's currency."""
    return generate(
        args.customers,
        args.events,
        args.days,
        args.seed,
        start,
        currency=shop_currency(settings.engine),
    )


def fewest_events(customers: int) -> int:
    """The fewest events that let ``customers`` customers each show their persona."""
    counts = _largest_remainder(customers, [p.share for p in PERSONAS.values()])
    return sum(p.min_events * n for p, n in zip(PERSONAS.values(), counts, strict=True))


def generate(
    customers: int = 1000,
    events: int = 20_000,
    days: float = 365,
    seed: int = 7,
    start: datetime | date = START,
    currency: str = CURRENCY,
) -> Workload:
    """A reproducible workload: exactly ``events`` events over ``days`` days from ``start``."""
    if not isinstance(start, datetime):
        start = datetime(start.year, start.month, start.day, tzinfo=UTC)
    if start.tzinfo is None:
        raise ValueError("start must carry a timezone")
    if customers < 1 or days <= 0:
        raise ValueError("customers must be at least 1 and days positive")
    rng = random.Random(seed)
    personas = [
        name
        for name, count in zip(
            PERSONAS,
            _largest_remainder(customers, [p.share for p in PERSONAS.values()]),
            strict=True,
        )
        for _ in range(count)
    ]
    rng.shuffle(personas)
    floor = fewest_events(customers)
    if events < floor:
        raise ValueError(
            f"{events} events are too few for {customers} customers: their personas need at "
            f"least {floor}"
        )
    weights = [PERSONAS[name].activity * rng.lognormvariate(0, 0.5) for name in personas]
    extra = _largest_remainder(events - floor, weights)
    sales = _sales(rng, days)
    width = len(str(customers))
    origin = start.timestamp()
    planned: list[tuple[int, str, Event]] = []
    truth = {}
    for index, (name, more) in enumerate(zip(personas, extra, strict=True)):
        customer_id = f"c{index + 1:0{width}d}"
        truth[customer_id] = name
        median, spread = TYPICAL_SPEND[name]
        customer = _Customer(
            customer_id=customer_id,
            events=PERSONAS[name].min_events + more,
            region=rng.choice(REGIONS),
            device=rng.choice(("web", "web", "app")),
            spend=median * rng.lognormvariate(0, spread),
            currency=currency,
            rng=random.Random(rng.getrandbits(64)),
            days=days,
            sales=sales,
        )
        BEHAVIOUR[name](customer)
        for day, event in customer.planned:
            planned.append((math.floor(origin + day * DAY), customer_id, event))
    planned.sort(key=lambda item: item[0])  # stable: a customer's same-second events keep order
    rfc3339 = _Rfc3339()
    return Workload(
        events=[
            _stamp(event, customer_id, rfc3339(moment), rng)
            for moment, customer_id, event in planned
        ],
        personas=truth,
        start=start,
        end=datetime.fromtimestamp(origin + days * DAY, UTC),
    )


def _stamp(event: Event, customer_id: str, ts: str, rng: random.Random) -> Event:
    """The event as it goes on the topic: type and version first, then ids and time."""
    return {
        "event_type": event.pop("event_type"),
        "schema_version": SCHEMA_VERSION,
        "event_id": f"{rng.getrandbits(128):032x}",
        "customer_id": customer_id,
        "ts": ts,
        **event,
    }


class _Rfc3339:
    """Whole epoch seconds as ``YYYY-MM-DDTHH:MM:SSZ``, several times faster than datetime."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, moment: int) -> str:
        day, second = divmod(moment, 86_400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%dT")
            self._days[day] = prefix
        hour, second = divmod(second, 3600)
        minute, second = divmod(second, 60)
        return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}Z"


def topic_for(event: Event, topics: Topics) -> str:
    """The input topic an event belongs on, from its ``event_type``."""
    return {
        "purchase": topics.purchases,
        "interaction": topics.interactions,
        "survey": topics.surveys,
    }[event["event_type"]]


def write_jsonl(events: Iterable[Event], out: BinaryIO) -> None:
    """One event per line, to a binary file object."""
    for event in events:
        out.write(orjson.dumps(event) + b"\n")


def write_truth(personas: dict[str, str], out: IO[str]) -> None:
    writer = csv.writer(out)
    writer.writerow(("customer_id", "persona"))
    writer.writerows(sorted(personas.items()))


async def produce(
    events: Sequence[Event],
    bootstrap_servers: str,
    topics: Topics,
    rate: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Send events in order (key = customer_id) at ``rate`` events/s or as fast as possible.

    Returns how many were acknowledged by the broker. ``progress(sent, total)`` is called
    about once a second.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5)
    try:
        await producer.start()
    except KafkaConnectionError as exc:
        await producer.stop()
        raise BrokerUnavailable(f"cannot produce to {bootstrap_servers}: {exc}") from None
    loop = asyncio.get_running_loop()
    began = flushed = reported = loop.time()
    pending: list[asyncio.Future[Any]] = []
    acknowledged = 0
    try:
        for index, event in enumerate(events):
            if rate:
                delay = began + index / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            pending.append(
                await producer.send(
                    topic_for(event, topics),
                    value=orjson.dumps(event),
                    key=event["customer_id"].encode(),
                )
            )
            if len(pending) >= 2000 or (rate and loop.time() - flushed >= 1.0):
                acknowledged += len(await asyncio.gather(*pending))
                pending.clear()
                flushed = loop.time()
                if progress and flushed - reported >= 1.0:
                    reported = flushed
                    progress(acknowledged, len(events))
        acknowledged += len(await asyncio.gather(*pending))
    finally:
        await producer.stop()
    if progress:
        progress(acknowledged, len(events))
    return acknowledged


def add_workload_options(parser: argparse.ArgumentParser, *, customers: int, events: int) -> None:
    """The options that size a generated workload: ``generate``, ``demo`` and ``bench``."""
    count = number(least=1, whole=True)
    parser.add_argument("--customers", type=count, default=customers, help="default %(default)s")
    parser.add_argument("--events", type=count, default=events, help="default %(default)s")
    parser.add_argument(
        "--days",
        type=number(above=0, most=MAX_DAYS),
        default=365,
        help="period of event time; default %(default)s",
    )
    parser.add_argument("--seed", type=int, default=7, help="default %(default)s")


def check_workload_options(args: argparse.Namespace, start: date = START) -> None:
    """Refuse, before any work, a workload that :func:`generate` would refuse, or whose
    events from ``start`` would run into the future."""
    floor = fewest_events(args.customers)
    if args.events < floor:
        raise UsageError(
            f"--events {args.events} is too few for --customers {args.customers}: their "
            f"personas need at least {floor}"
        )
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    if first.timestamp() < EARLIEST_TS:
        raise UsageError(f"--start {start} is before 1970, and every consumer rejects such events")
    if first.timestamp() + args.days * DAY > time.time() + MAX_CLOCK_SKEW_S:
        latest = (time.time() - first.timestamp()) // DAY
        hint = f"; at most {latest:.0f} days from that start" if latest >= 1 else ""
        raise UsageError(
            f"--days {args.days:g} from {start} ends more than a day ahead of the wall clock, "
            f"and every consumer rejects events that far ahead{hint}"
        )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "generate",
        help="generate a synthetic workload of customers with known personas",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_workload_options(parser, customers=1000, events=20_000)
    parser.add_argument(
        "--start",
        type=iso_date,
        default=START,
        metavar="DATE",
        help="first day, YYYY-MM-DD, midnight UTC; default %(default)s",
    )
    parser.add_argument(
        "--out",
        metavar="FILE.jsonl",
        help="write events, one JSON per line ('-' for stdout, the default without --produce)",
    )
    parser.add_argument(
        "--produce", action="store_true", help="send events to the configured broker"
    )
    parser.add_argument(
        "--rate",
        type=number(above=0),
        metavar="EVENTS_PER_S",
        help="pace --produce (default: no limit)",
    )
    parser.add_argument("--truth", type=Path, metavar="FILE.csv", help="write customer_id,persona")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.rate is not None and not args.produce:
        raise UsageError("--rate paces --produce; without it there is nothing to pace")
    check_workload_options(args, args.start)
    out = args.out or (None if args.produce else STDOUT)
    with Outputs() as outputs:
        truth = outputs.open(args.truth)  # before generating: a bad path fails at once
        events_out = outputs.open(out, binary=True)
        workload = workload_from(args, settings, args.start)
        if truth is not None:
            write_truth(workload.personas, truth)
        if events_out is not None:
            write_jsonl(workload.events, events_out)
            events_out.flush()
    # Only once written: a reader that went away (| head) or a full disk cut the output short.
    mix = ", ".join(f"{name}={n}" for name, n in sorted(workload.persona_counts().items()))
    print(
        f"generated {len(workload.events)} events for {len(workload.personas)} customers "
        f"from {workload.start:%Y-%m-%d} to {workload.end:%Y-%m-%d} ({mix})",
        file=sys.stderr,
    )
    if args.produce:
        ensure_topics(settings.bootstrap_servers, settings)
        started = time.monotonic()
        sent = asyncio.run(
            produce(
                workload.events,
                settings.bootstrap_servers,
                settings.topics,
                rate=args.rate,
                progress=_print_progress(started),
            )
        )
        print(
            f"produced {sent} events to {settings.bootstrap_servers} "
            f"in {time.monotonic() - started:.1f}s",
            file=sys.stderr,
        )
    return 0


def _print_progress(started: float) -> Callable[[int, int], None]:
    def show(sent: int, total: int) -> None:
        elapsed = max(time.monotonic() - started, 1e-9)
        print(f"  {sent}/{total} events ({sent / elapsed:.0f}/s)", file=sys.stderr, flush=True)

    return show
