"""``stream backtest FILE --cutoff DATE``: the live engine over a history file, then judged.

Runs the same core as the worker over every event before the cutoff, in event-time order, on
one partition and with no broker (the worker partitions by customer and merges each
partition's input topics in event-time order, so per customer it sees the same order; with
one partition the same outputs, but for events at the same time, which the worker takes
topic by topic and the backtest in file order). Then it advances the clock to the
cutoff, so silent customers are evaluated as of then, and compares that state with what the
file says happened in the ``--horizon-days`` after it (see ``stream.tools.evaluation``).

- ``--scores-out F.csv``: one row per customer as of the cutoff (churn probability and band
  scored at the cutoff itself, not the last value the engine emitted).
- ``--changes-out F.jsonl``: every segment-change and churn-risk event the live worker would
  have emitted, as it would have written them; ``emitted_at`` is the event time that caused
  each (the cutoff for the final clock advance), so two runs give identical files.
- ``--json``: the report as one JSON object.

Either file may be ``-``, standard output; the report then goes to standard error. Progress
goes to standard error about every two seconds, from reading the file on.

The cutoff is an instant (a plain date is midnight UTC): events strictly before it are the
history, purchases in [cutoff, cutoff + horizon) the outcome. ``--horizon-days`` is also the
engine's churn horizon, so the model is scored on the question it learnt; it must be at least
a day (``MIN_HORIZON_DAYS``), from the option or the environment alike. The speed report times
the core loop (validating the parsed lines and running the engine) apart from reading the file
and writing the outputs.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from schemas.inputs import AnyInput, InputRules, InvalidInput, Purchase, parse_input
from schemas.outputs import ChurnRisk
from stream.config import ConfigError, Settings
from stream.core.churn import ChurnModel, next_band
from stream.core.config import DAY, EngineConfig
from stream.core.engine import Engine, Output
from stream.core.features import churn_features
from stream.core.lookup import current_profile
from stream.tools.evaluation import Buyers, Repeats, evaluate
from stream.tools.history import (
    PROGRESS_LINES,
    Record,
    Rejected,
    Rejections,
    add_input_options,
    columns_from,
    describe,
    read_history,
    require_events,
)
from stream.tools.options import (
    EXIT_FOUND,
    Outputs,
    UsageError,
    number,
    progress_lines,
    throttled,
)

_say = progress_lines("backtest")

PARTITION = 0
CHUNK = 2_000
"""Events run between two writes of their outputs (the engine is timed without the writing)
and two looks at the time for progress."""
PROGRESS_EVERY_S = 2.0
MIN_HORIZON_DAYS = 1.0
"""The shortest horizon a backtest takes. A silent customer is re-evaluated for a churn
snapshot once per horizon of silence, so the run's cost grows as 1/horizon (0.01 day took six
times as long as 90 on a small generated shop), and histories are mostly dated to the day.
The worker takes any horizon above 0, which tests on wall-clock seconds use."""
SCORE_COLUMNS = (
    "customer_id",
    "churn_probability",
    "churn_band",
    "lifecycle_stage",
    "rfm_segment",
    "r_score",
    "f_score",
    "m_score",
    "value_tier",
)


def cutoff_time(text: str) -> datetime:
    """``--cutoff``: an ISO date or date-time, read as UTC without a timezone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Timing:
    read_s: float = 0.0
    parse_s: float = 0.0
    order_s: float = 0.0
    engine_s: float = 0.0
    parsed: int = 0
    processed: int = 0

    def as_dict(self) -> dict[str, Any]:
        parse_rate = _rate(self.parsed, self.parse_s)
        engine_rate = _rate(self.processed, self.order_s + self.engine_s)
        # One event's cost through the loop: its parse plus its share of ordering and engine.
        core = 1 / (1 / parse_rate + 1 / engine_rate) if parse_rate and engine_rate else None
        return {
            "read_s": round(self.read_s, 3),
            "parse_s": round(self.parse_s, 3),
            "order_s": round(self.order_s, 3),
            "engine_s": round(self.engine_s, 3),
            "parse_events_per_s": _round(parse_rate),
            "engine_events_per_s": _round(engine_rate),
            "core_events_per_s": _round(core),
        }


def horizon_end(cutoff: datetime, days: float) -> datetime:
    """When the outcome window closes; a :class:`UsageError` if after the year 9999."""
    try:
        return cutoff + timedelta(days=days)
    except OverflowError:
        raise UsageError(
            f"--cutoff {cutoff.isoformat()} plus a {days:g}-day horizon ends after the year 9999"
        ) from None


def _rate(count: int, seconds: float) -> float | None:
    return count / seconds if count and seconds > 0 else None


def _round(value: float | None) -> int | None:
    return round(value) if value is not None else None


@dataclass
class Backtest:
    """Everything one run found; ``report()`` is what ``--json`` prints."""

    source: str
    cutoff: datetime
    horizon_days: float
    rows: int = 0
    rejections: Rejections = field(default_factory=Rejections)
    timing: Timing = field(default_factory=Timing)
    history_events: int = 0
    duplicates: int = 0
    after_cutoff_events: int = 0
    """Valid events at or after the cutoff: not run, only read for the outcome. With the
    history's events, the rejected lines and the merged ones they make up every line read."""
    merged_lines: int = 0
    """CSV lines summed into an order read on an earlier line (``--order-col``)."""
    outputs: dict[str, int] = field(default_factory=dict)
    customers: int = 0
    added_up_currencies: list[str] = field(default_factory=list)
    data_start: datetime | None = None
    data_end: datetime | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def horizon_end(self) -> datetime:
        return horizon_end(self.cutoff, self.horizon_days)

    def report(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "cutoff": self.cutoff.isoformat(),
            "horizon_days": self.horizon_days,
            "rows": self.rows,
            "rejected": self.rejections.as_dict(),
            "history_events": self.history_events,
            "duplicates": self.duplicates,
            "after_cutoff_events": self.after_cutoff_events,
            "merged_lines": self.merged_lines,
            "outputs": self.outputs,
            "customers": self.customers,
            "added_up_currencies": self.added_up_currencies,
            "data_start": self.data_start.isoformat() if self.data_start else None,
            "data_end": self.data_end.isoformat() if self.data_end else None,
            "horizon_complete": self.data_end is not None and self.data_end >= self.horizon_end,
            "speed": self.timing.as_dict(),
            "evaluation": self.figures,
        }


def read(lines: Iterable[Record | Rejected], timing: Timing) -> list[Record | Rejected]:
    began = time.perf_counter()
    items = list(lines)
    timing.read_s = time.perf_counter() - began
    return items


def parse(
    items: Sequence[Record | Rejected],
    max_bytes: int,
    rules: InputRules,
    rejections: Rejections,
    timing: Timing,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[AnyInput]:
    """Validate like the worker: the events, and a rejection for each line that fails. The
    lines the reader refused go to ``rejections`` here too, so that ``--rejected-out`` lists
    them all in line order. ``progress(items done, items)`` every ``PROGRESS_LINES`` items."""
    began = time.perf_counter()
    events = []
    records = 0
    for done, item in enumerate(items, 1):
        if not done % PROGRESS_LINES:
            progress(done, len(items))
        if isinstance(item, Rejected):
            rejections.add(item.lines, item.reason)
            continue
        records += 1
        try:
            events.append(parse_input(item.kind, item.value, max_bytes=max_bytes, rules=rules))
        except InvalidInput as exc:
            rejections.add(item.lines, str(exc), exc.summary)
    timing.parse_s = time.perf_counter() - began
    timing.parsed = records
    return events


def replay_history(
    engine: Engine,
    events: list[AnyInput],
    cutoff: datetime,
    timing: Timing,
    write: Callable[[list[Output]], None],
    progress: Callable[[int, int], None] = lambda run, total: None,
) -> tuple[int, int]:
    """Run the events before ``cutoff`` through ``engine`` in event-time order and advance
    its clock to the cutoff; ``write`` gets the outputs, ``progress(events run, events in
    all)`` is told about once every ``PROGRESS_EVERY_S``. Returns (events run, duplicates)."""
    began = time.perf_counter()
    events.sort(key=_event_ts)  # stable: same-time events keep their file order
    history = events[: _first_at_or_after(events, cutoff)]
    timing.order_s = time.perf_counter() - began
    process = engine.process
    duplicates = 0
    reported = time.monotonic()
    for start in range(0, len(history), CHUNK):
        began = time.perf_counter()
        outputs: list[Output] = []
        for event in history[start : start + CHUNK]:
            result = process(event, PARTITION, event.ts)
            if result.outputs:
                outputs += result.outputs
            if result.status == "duplicate":
                duplicates += 1
        timing.engine_s += time.perf_counter() - began
        write(outputs)
        if time.monotonic() - reported >= PROGRESS_EVERY_S:
            reported = time.monotonic()
            progress(min(start + CHUNK, len(history)), len(history))
    # The watermark trails the wall time by the allowed lateness: offer the cutoff plus that.
    cutoff_ts = cutoff.timestamp()
    write(engine.tick(PARTITION, cutoff, wall_ts=cutoff_ts + engine.config.allowed_lateness_s))
    timing.processed = len(history)
    return len(history), duplicates


def _event_ts(event: AnyInput) -> datetime:
    return event.ts


def _first_at_or_after(events: Sequence[AnyInput], cutoff: datetime) -> int:
    low, high = 0, len(events)
    while low < high:
        middle = (low + high) // 2
        if events[middle].ts < cutoff:
            low = middle + 1
        else:
            high = middle
    return low


@dataclass(frozen=True)
class CutoffScore:
    customer_id: str
    churn_probability: float | None
    churn_band: str | None
    lifecycle_stage: str | None
    rfm_segment: str | None
    r_score: int | None
    f_score: int | None
    m_score: int | None
    value_tier: str | None
    recency_days: float | None


def cutoff_scores(engine: Engine, cutoff: datetime) -> list[CutoffScore]:
    """Every customer as of the cutoff, by id. The churn probability is scored now: the
    profile only keeps the last one the engine emitted."""
    now = cutoff.timestamp()
    config = engine.config
    churn = engine.churn
    rows = []
    for customer_id in sorted(engine.profiles):
        profile = engine.profiles[customer_id]
        seen = current_profile(engine, profile, PARTITION)
        probability, band = None, None
        if profile.last_purchase_ts is not None and isinstance(churn, ChurnModel):
            probability, _ = churn.predict(churn_features(profile, now, config))
            band = next_band(probability, profile.churn_band, config.churn_hysteresis)
        rows.append(
            CutoffScore(
                customer_id,
                probability,
                band,
                seen.lifecycle_stage,
                seen.rfm_segment,
                seen.r_score,
                seen.f_score,
                seen.m_score,
                seen.value_tier,
                seen.recency_days,
            )
        )
    return rows


def buyers_at(
    scores: Sequence[CutoffScore], events: Sequence[AnyInput], cutoff: datetime, horizon_s: float
) -> Buyers:
    """The customers who bought before the cutoff, their cutoff state, BG/NBD history and
    whether they bought again within the horizon (refunds are not purchases)."""
    cutoff_ts = cutoff.timestamp()
    end_ts = cutoff_ts + horizon_s
    firsts: dict[str, float] = {}
    lasts: dict[str, float] = {}
    days: dict[str, set[int]] = {}
    returned: set[str] = set()
    for event in events:
        if not isinstance(event, Purchase) or event.refund:
            continue
        ts = event.ts.timestamp()
        customer_id = event.customer_id
        if ts < cutoff_ts:
            if customer_id not in firsts or ts < firsts[customer_id]:
                firsts[customer_id] = ts
            if customer_id not in lasts or ts > lasts[customer_id]:
                lasts[customer_id] = ts
            days.setdefault(customer_id, set()).add(math.floor(ts / DAY))
        elif ts < end_ts:
            returned.add(customer_id)
    chosen = [s for s in scores if s.customer_id in firsts and s.churn_probability is not None]
    ids = [s.customer_id for s in chosen]
    first = np.array([firsts[c] for c in ids], dtype=float)
    return Buyers(
        churned=np.array([c not in returned for c in ids], dtype=bool),
        probability=np.array([s.churn_probability for s in chosen], dtype=float),
        band=[s.churn_band or "" for s in chosen],
        stage=[s.lifecycle_stage or "" for s in chosen],
        recency_days=np.array([s.recency_days for s in chosen], dtype=float),
        repeats=Repeats(
            x=np.array([len(days[c]) - 1 for c in ids], dtype=float),
            t_x=(np.array([lasts[c] for c in ids], dtype=float) - first) / DAY,
            age=(cutoff_ts - first) / DAY,
        ),
    )


def run_backtest(
    source: str,
    lines: Iterable[Record | Rejected],
    cutoff: datetime,
    config: EngineConfig,
    *,
    max_bytes: int,
    rejections: Rejections,
    changes: IO[bytes] | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> tuple[Backtest, list[CutoffScore]]:
    """``say`` is told what the run is doing, now and then; the report says how it went."""
    result = Backtest(source, cutoff, config.churn_horizon_days, rejections=rejections)
    timing = result.timing
    engine = Engine(config, churn=ChurnModel(config))
    items = read(lines, timing)
    result.rows = sum(len(item.lines) for item in items)
    checking = throttled(say, PROGRESS_EVERY_S)
    events = parse(
        items,
        max_bytes,
        engine.rules,
        rejections,
        timing,
        lambda done, total: checking(f"checking the events: {done:,}/{total:,}"),
    )
    result.merged_lines = result.rows - rejections.total - len(events)
    counts = {"segment_changes": 0, "churn_risk": 0}

    def write(outputs: list[Output]) -> None:
        for output in outputs:
            counts["churn_risk" if isinstance(output, ChurnRisk) else "segment_changes"] += 1
            if changes is not None:
                changes.write(output.model_dump_json(by_alias=True).encode() + b"\n")

    require_events(source, len(events), rejections)
    say(f"{source}: {result.rows:,} lines, {rejections.total:,} rejected; running the engine")
    began = time.monotonic()

    def progress(run: int, total: int) -> None:
        rate = run / max(time.monotonic() - began, 1e-9)
        outputs = sum(counts.values())
        say(f"  {run:,}/{total:,} events before the cutoff ({rate:,.0f}/s), {outputs:,} outputs")

    result.history_events, result.duplicates = replay_history(
        engine, events, cutoff, timing, write, progress
    )
    result.after_cutoff_events = len(events) - result.history_events
    result.outputs = counts
    result.customers = len(engine.profiles)
    result.added_up_currencies = engine.added_up_currencies()
    result.data_start, result.data_end = events[0].ts, events[-1].ts
    scores = cutoff_scores(engine, cutoff)
    # Without an event after the cutoff every buyer would look churned: no evaluation at all.
    if result.history_events and result.data_end >= cutoff:
        say("scoring the cutoff state against what happened next")
        buyers = buyers_at(scores, events, cutoff, config.churn_horizon_s)
        result.figures = evaluate(buyers, config.churn_horizon_days)
    return result, scores


def write_scores(scores: Sequence[CutoffScore], out: IO[str]) -> None:
    writer = csv.writer(out)
    writer.writerow(SCORE_COLUMNS)
    for score in scores:
        row = dataclasses.astuple(score)[: len(SCORE_COLUMNS)]
        writer.writerow("" if value is None else value for value in row)


# -- the command --------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "backtest",
        help="run the engine over a history file up to a cutoff and score its predictions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_options(parser)
    parser.add_argument(
        "--cutoff",
        type=cutoff_time,
        required=True,
        metavar="DATE",
        help="ISO date (midnight UTC) or date-time; history is everything before it",
    )
    parser.add_argument(
        "--horizon-days",
        type=number(least=MIN_HORIZON_DAYS),
        metavar="DAYS",
        help="outcome window and churn horizon, at least 1 "
        "(default STREAM_ENGINE_CHURN_HORIZON_DAYS, 90)",
    )
    parser.add_argument(
        "--scores-out",
        type=Path,
        metavar="FILE.csv",
        help=f"one row per customer, with the columns {', '.join(SCORE_COLUMNS)} "
        "('-': standard output, see --json)",
    )
    parser.add_argument(
        "--changes-out", type=Path, metavar="FILE.jsonl", help="'-': standard output (see --json)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report as one object (on standard error when an output is '-')",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    config = settings.engine
    if args.horizon_days is not None:
        config = dataclasses.replace(config, churn_horizon_days=args.horizon_days)
    elif config.churn_horizon_days < MIN_HORIZON_DAYS:
        raise ConfigError(
            f"STREAM_ENGINE_CHURN_HORIZON_DAYS={config.churn_horizon_days:g} must be at least "
            f"{MIN_HORIZON_DAYS:g} for a backtest; or give --horizon-days"
        )
    horizon_end(args.cutoff, config.churn_horizon_days)  # fails now, not after the run
    columns = columns_from(args)
    reading = throttled(_say, PROGRESS_EVERY_S)
    with Outputs(args.file) as outputs:
        rejections = Rejections(outputs.open(args.rejected_out))
        changes = outputs.open(args.changes_out, binary=True)
        scores_out = outputs.open(args.scores_out)  # now: a bad path fails before the run
        piped = outputs.piped
        result, scores = run_backtest(
            args.file.name,
            read_history(
                args.file,
                columns,
                args.format,
                progress=lambda lines: reading(f"read {lines:,} lines"),
            ),
            args.cutoff,
            config,
            max_bytes=settings.max_payload_bytes,
            rejections=rejections,
            changes=changes,
            say=_say,
        )
        if scores_out is not None:
            write_scores(scores, scores_out)
    report = result.report()
    # Without an evaluation no customer is judged by what came after the cutoff.
    if report["evaluation"] and not report["horizon_complete"]:
        print(
            f"stream backtest: warning: the file ends before the horizon does "
            f"({result.horizon_end:%Y-%m-%d}); later purchases are unknown, so some customers "
            "look churned who may not be",
            file=sys.stderr,
        )
    if result.added_up_currencies:
        print(
            f"stream backtest: warning: spends in {', '.join(result.added_up_currencies)} were "
            "added up as if one currency; set STREAM_ENGINE_CURRENCY and STREAM_ENGINE_FX_RATES "
            "to convert them",
            file=sys.stderr,
        )
    # Standard output may carry the changes or the scores; the report then goes beside them.
    out = sys.stderr if piped else sys.stdout
    if args.json:
        out.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
        out.flush()
    else:
        print(format_report(report), file=out)
    if not report["evaluation"]:
        print(f"stream backtest: {_unevaluated(report)}", file=sys.stderr)
        # Scoring the state at the end of a history is a use of its own; with nothing before
        # the cutoff there is nothing at all, which a script must not take for success.
        return 0 if report["history_events"] else EXIT_FOUND
    return 0


def _unevaluated(report: dict[str, Any]) -> str:
    """Why a report has no evaluation."""
    if not report["history_events"]:
        return (
            f"no events before the cutoff (the file starts at {report['data_start']}): "
            "nothing to run or evaluate; choose a later --cutoff"
        )
    return (
        f"no events after the cutoff (the file ends at {report['data_end']}): nothing tells "
        "what happened next, so no evaluation; choose an earlier --cutoff to evaluate"
    )


def format_report(report: dict[str, Any]) -> str:
    speed = report["speed"]
    rejected = report["rejected"]
    lines = [
        f"{report['file']}: {report['rows']} lines, {rejected['total']} rejected"
        + (
            f", {report['merged_lines']} summed into the order of an earlier line"
            if report["merged_lines"]
            else ""
        ),
        *(f"  rejected: {line}" for line in describe(rejected)),
        f"history before {report['cutoff']}: {report['history_events']} events "
        f"({report['duplicates']} duplicates), {report['customers']} customers; would have "
        f"emitted {report['outputs']['segment_changes']} segment changes and "
        f"{report['outputs']['churn_risk']} churn-risk events",
        f"from the cutoff on: {report['after_cutoff_events']} events, not run, read only for "
        "the outcome",
        f"speed (one core): reading {speed['read_s']:.2f} s (not counted); "
        f"parse {_per_s(speed['parse_events_per_s'])}, "
        f"engine {_per_s(speed['engine_events_per_s'])}, "
        f"parse + engine {_per_s(speed['core_events_per_s'])}",
    ]
    figures = report["evaluation"]
    if not figures:
        lines.append(_unevaluated(report))
        return "\n".join(lines)
    days = f"{report['horizon_days']:g}"
    lines.append(
        f"outcome: {figures['churned']} of {figures['buyers']} buyers "
        f"({_share(figures['churn_rate'])}) made no purchase in the {days} days after the cutoff"
    )
    ours, recency, bgnbd = figures["churn_probability"], figures["recency"], figures["bgnbd"]
    table = [
        ("churn probability", ours["auc"], None),
        ("  band high", None, ours["high_band"]),
        ("  stage declining or churned", None, ours["declining_or_churned"]),
        (
            f"recency (longest silences, >= {_days(recency['threshold_days'])})",
            recency["auc"],
            recency,
        ),
    ]
    if "auc" in bgnbd:
        table.append((f"BG/NBD P(no purchase in {days} d)", bgnbd["auc"], bgnbd))
    lines.append(f"{'':44}{'AUC':>7}{'flagged':>9}{'precision':>11}{'recall':>8}")
    for name, auc, hits in table:
        cells = f"{name:44}{_number(auc) if auc is not None else '':>7}"
        if hits is not None:
            cells += (
                f"{hits['flagged']:>9}{_number(hits['precision']):>11}{_number(hits['recall']):>8}"
            )
        lines.append(cells.rstrip())
    lines.append("  recency and BG/NBD flag as many customers as the high band (ties included)")
    if "auc" in bgnbd:
        params = ", ".join(f"{k}={v:.4g}" for k, v in bgnbd["params_per_day"].items())
        lines.append(
            f"  BG/NBD per day: {params}; AUC by expected purchases "
            f"{_number(bgnbd['auc_expected_purchases'])}"
        )
    return "\n".join(lines)


def _per_s(rate: int | None) -> str:
    return f"{rate:,} events/s" if rate is not None else "-"


def _number(value: float | None) -> str:
    # NaN: not defined on this data (the JSON report has null), e.g. an AUC with one class.
    return f"{value:.3f}" if value is not None and not math.isnan(value) else "-"


def _share(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "-"


def _days(value: float | None) -> str:
    return f"{value:.0f} days" if value is not None else "-"
