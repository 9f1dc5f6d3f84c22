"""The engine's event loop, compiled: a batch of events in, output rows out (DOMAIN.md).

:func:`run` takes each event in turn, exactly as if it came alone: the clock of its partition
moves to the event's watermark; the customers due by then are evaluated, each as of their own
due instant, oldest first (ties in id-hash order); then the event updates its customer's row
and re-evaluates only what it can change:

- a purchase or refund: the buyer's place in the population, which may reset score cuts and
  re-score everyone whose value the cut passed; the buyer's scores, stage and churn risk;
- an interaction: the counts, and the stage where the spend-and-engagement rule reads
  engagement; a complaint or support ticket re-scores the churn risk too;
- a survey answer (the latest): satisfaction and the churn risk.

A customer whose due time has passed is evaluated as due by their own event as well. The loop
stops where Python must act and is re-entered at the same event: ``LEARN`` when a clock
advance resolved churn snapshots (the learner learns them, in order, and the next scores use
the new model), ``ROOM`` when a pool needs growing. Outputs are rows of ``out`` (the ``O_*``
columns), which Python turns into events; the loop grows ``out`` as it needs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit
from numba.core import types
from numba.experimental import structref

from stream.core.kernels import dedup, due, orders, ranks, scoring, snapshots
from stream.core.kernels.churn import band, probability
from stream.core.kernels.features import churn_features
from stream.core.kernels.lifecycle import assess, spend_share, usual_gap_s
from stream.core.kernels.params import RECENT_TAU_S

PURCHASE, INTERACTION, SURVEY, TICK = range(4)
DONE, LEARN, ROOM = range(3)

RFM_SEGMENT, VALUE_TIER, LIFECYCLE_STAGE, SATISFACTION, CHURN = range(5)
"""Output kinds: the four dimensions, then a churn-risk event."""

(
    O_KIND,
    O_SLOT,
    O_CAUSE,
    O_REEVALUATION,
    O_TS,
    O_NOW,
    O_FROM,
    O_TO,
    O_REASON,
    O_FACT,
    O_FACT2,
    O_FACT3,
    O_OLD_R,
    O_OLD_F,
    O_OLD_M,
    O_R,
    O_F,
    O_M,
    O_FREQUENCY,
    O_MONETARY,
    O_LAST,
    O_PROBABILITY,
    O_BAND,
    O_PREVIOUS,
    O_FEATURES,
) = range(25)
WIDTH = O_FEATURES + snapshots.FEATURES
"""Output row columns. ``O_CAUSE``: the event's index in the batch, -1 for a due evaluation;
``O_REEVALUATION``: 1 when the reason names a re-evaluation rather than the event."""

DUPLICATES, PROCESSED, LATE, RESCORED = range(4)
"""Positions in ``Core.counts``."""


class Settings(NamedTuple):
    lateness_s: float
    interval_s: float
    """The re-evaluation interval: re-checks of the churn risk are at least this far apart."""
    window_s: float
    """The rolling window; 0: lifetime."""
    churn: float
    """1: the churn model runs."""
    churn_step: float


class Tables(NamedTuple):
    segments: np.ndarray
    """int8 (5, 5): the RFM segment code of each (R, F)."""
    tiers: np.ndarray
    """int8 (4,): the value tier code of each tier level (small ... vip)."""
    feelings: np.ndarray
    """int8 (3,): codes of detractor, passive, promoter."""


class Events(NamedTuple):
    kind: np.ndarray
    slot: np.ndarray
    partition: np.ndarray
    ts: np.ndarray
    amount: np.ndarray
    """In the base currency; a refund's is positive too."""
    refund: np.ndarray
    complaint: np.ndarray
    nps: np.ndarray
    csat: np.ndarray
    key: np.ndarray
    """The de-duplication key (customer and event id)."""
    order: np.ndarray
    """The order id's hash (purchases)."""
    sample: np.ndarray
    """The churn snapshot silence of a gap starting at this purchase."""


@structref.register
class CoreType(types.StructRef):
    def preprocess_fields(self, fields):  # type: ignore[no-untyped-def]
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class Core(structref.StructRefProxy):
    """Everything the loop works on, as one compiled object (see ``Columns`` for why):
    ``c`` the :class:`stream.core.columns.Columns`; ``recency``, ``frequency``, ``monetary``
    the population's :class:`stream.core.kernels.ranks.Ranks`; the score ``cuts``; the due
    ``heaps``; the rolling window's ``orders``; the churn ``snapshots``; the de-duplication
    ``window``; each partition's clock in ``clocks``; ``counts`` (``DUPLICATES`` ...);
    ``tables`` of codes."""


CORE_FIELDS = (
    "c",
    "recency",
    "frequency",
    "monetary",
    "cuts",
    "heaps",
    "orders",
    "snapshots",
    "window",
    "clocks",
    "counts",
    "tables",
)
structref.define_proxy(Core, CoreType, list(CORE_FIELDS))


@njit(cache=True)
def core(  # type: ignore[no-untyped-def]
    c, recency, frequency, monetary, cuts, heaps, orders, snapshots, window, clocks, counts, tables
):
    """The :class:`Core` of these parts (``c``: :meth:`Columns.ref`)."""
    return Core(
        c,
        recency,
        frequency,
        monetary,
        cuts,
        heaps,
        orders,
        snapshots,
        window,
        clocks,
        counts,
        tables,
    )


@njit(cache=True)
def _row(out, n: int):  # type: ignore[no-untyped-def]
    if n == len(out):
        bigger = np.empty((2 * n, WIDTH))
        bigger[:n] = out[:n]
        return bigger
    return out


@njit(cache=True)
def _output(out, n, kind, i, cause, reevaluation, cause_ts, now):  # type: ignore[no-untyped-def]
    """A new output row (growing ``out`` when full) with what every output carries."""
    out = _row(out, n)
    row = out[n]
    row[O_KIND] = kind
    row[O_SLOT] = i
    row[O_CAUSE] = cause
    row[O_REEVALUATION] = reevaluation
    row[O_TS] = cause_ts
    row[O_NOW] = now
    return out, row


@njit(cache=True)
def _change(  # type: ignore[no-untyped-def]
    out, n, c, i, kind, old, new, cause, reevaluation, cause_ts, now
):
    out, row = _output(out, n, kind, i, cause, reevaluation, cause_ts, now)
    row[O_FROM] = old
    row[O_TO] = new
    row[O_R] = c.r_score[i]
    row[O_F] = c.f_score[i]
    row[O_M] = c.m_score[i]
    row[O_FREQUENCY] = c.frequency[i]
    row[O_MONETARY] = c.monetary[i]
    row[O_LAST] = c.last_purchase_ts[i]
    return out, row


@njit(cache=True)
def _scores(  # type: ignore[no-untyped-def]
    k, i, out, n, cause, reevaluation, cause_ts, now
):
    """Re-score row ``i`` against the cuts; output the segment and tier it moved."""
    c = k.c
    r, f, m, level = scoring.score(k.cuts, c.r_key[i], c.f_key[i], c.m_key[i])
    tier = k.tables.tiers[level]
    old_r, old_f, old_m = c.r_score[i], c.f_score[i], c.m_score[i]
    if r == old_r and f == old_f and m == old_m and tier == c.value_tier[i]:
        return out, n
    c.r_score[i], c.f_score[i], c.m_score[i] = r, f, m
    segment = k.tables.segments[r - 1, f - 1]
    if segment != c.rfm_segment[i]:
        out, row = _change(
            out, n, c, i, RFM_SEGMENT, c.rfm_segment[i], segment, cause, reevaluation, cause_ts, now
        )
        row[O_OLD_R], row[O_OLD_F] = old_r, old_f
        c.rfm_segment[i] = segment
        n += 1
    if tier != c.value_tier[i]:
        out, row = _change(
            out, n, c, i, VALUE_TIER, c.value_tier[i], tier, cause, reevaluation, cause_ts, now
        )
        row[O_OLD_M] = old_m
        c.value_tier[i] = tier
        n += 1
    return out, n


@njit(cache=True)
def _rescore(k, work, found, out, n, cause, cause_ts, now):  # type: ignore[no-untyped-def]
    for w in range(found):
        out, n = _scores(k, work[w], out, n, cause, 1, cause_ts, now)
    return out, n


@njit(cache=True)
def _feeling(nps: int, csat: int, feelings) -> int:  # type: ignore[no-untyped-def]
    """``stream.core.satisfaction.satisfaction``: detractor, passive or promoter; -1: none."""
    if 0 <= csat <= 2:
        return feelings[0]
    if nps >= 0:
        return feelings[2] if nps >= 9 else (feelings[1] if nps >= 7 else feelings[0])
    if csat >= 0:
        return feelings[2] if csat >= 4 else feelings[1]
    return -1


@njit(cache=True)
def _rank(nps: int, csat: int) -> tuple[int, int, int]:
    """``stream.core.satisfaction.less_satisfied``'s order of answers."""
    if 0 <= csat <= 2:
        level = 0
    elif nps >= 0:
        level = 2 if nps >= 9 else (1 if nps >= 7 else 0)
    elif csat >= 0:
        level = 2 if csat >= 4 else 1
    else:
        level = 3
    return level, (11 if nps < 0 else nps), (6 if csat < 0 else csat)


@njit(cache=True)
def _recheck_at(c, i: int, s: Settings, p) -> float:  # type: ignore[no-untyped-def]
    last = c.last_purchase_ts[i]
    if math.isnan(last):
        return math.inf
    scored = c.evaluated_at[i]
    gap = usual_gap_s(c.first_purchase_ts[i], last, c.purchases[i], p)
    spacing = max(gap, scored - last) / 2
    return scored + max(s.interval_s, spacing)


@njit(cache=True)
def _next_look(k, i: int, p) -> float:  # type: ignore[no-untyped-def]
    c = k.c
    last = c.last_purchase_ts[i]
    if math.isnan(last):
        return math.inf
    e = c.snapshot[i]
    if e >= 0:
        return k.snapshots.taken[e] + p.churn_horizon_s
    return last + c.sample_s[i]


@njit(cache=True)
def _recheck_due(k, i: int, now: float, s: Settings, p) -> bool:  # type: ignore[no-untyped-def]
    return s.churn > 0 and (_recheck_at(k.c, i, s, p) <= now or _next_look(k, i, p) <= now)


@njit(cache=True)
def _churn(  # type: ignore[no-untyped-def]
    k, i, now, purchased, rescore, cause, reevaluation, cause_ts, s, p, scorer, out, n, values
):
    """``ChurnModel.assess``: snapshot, score, and output when the band changed or the
    probability moved by more than the step."""
    c = k.c
    last = c.last_purchase_ts[i]
    if math.isnan(last) or not (purchased or rescore or c.churn_band[i] < 0):
        return out, n
    e = c.snapshot[i]
    if purchased and e >= 0:
        snapshots.decide(k.snapshots, e, cause_ts, p.churn_horizon_s)
        c.snapshot[i] = -1
    churn_features(c, i, now, p, values)
    if c.snapshot[i] < 0 and now - last >= c.sample_s[i]:
        c.snapshot[i] = snapshots.take(k.snapshots, c.partition[i], i, now, values)
    chance = probability(values, scorer)
    old = c.churn_band[i]
    level = band(chance, old, scorer)
    previous = c.churn_probability[i]
    if level == old and not math.isnan(previous) and abs(chance - previous) <= s.churn_step:
        return out, n
    c.churn_probability[i] = chance
    c.churn_band[i] = level
    out, row = _output(out, n, CHURN, i, cause, reevaluation, cause_ts, now)
    row[O_PROBABILITY] = chance
    row[O_BAND] = level
    row[O_PREVIOUS] = old
    row[O_FEATURES:] = values
    return out, n + 1


@njit(cache=True)
def _evaluate(  # type: ignore[no-untyped-def]
    k,
    i,
    now,
    scored,
    feel,
    rescore,
    purchased,
    cause,
    reevaluation,
    cause_ts,
    s,
    p,
    scorer,
    out,
    n,
    values,
):
    """``Engine._evaluate``: re-score (``scored``), the stage, satisfaction (``feel``) and the
    churn risk (``rescore``, or the stage moved); then reschedule the row."""
    c = k.c
    if scored:
        out, n = _scores(k, i, out, n, cause, reevaluation, cause_ts, now)
    stage, changes_at, reason, f1, f2, f3 = assess(c, i, now, p)
    if stage != c.lifecycle_stage[i]:
        out, row = _change(
            out,
            n,
            c,
            i,
            LIFECYCLE_STAGE,
            c.lifecycle_stage[i],
            stage,
            cause,
            reevaluation,
            cause_ts,
            now,
        )
        row[O_REASON], row[O_FACT], row[O_FACT2], row[O_FACT3] = reason, f1, f2, f3
        c.lifecycle_stage[i] = stage
        n += 1
        rescore = True
    if feel:
        feeling = _feeling(c.nps[i], c.csat[i], k.tables.feelings)
        if feeling != c.satisfaction[i]:
            out, row = _change(
                out,
                n,
                c,
                i,
                SATISFACTION,
                c.satisfaction[i],
                feeling,
                cause,
                reevaluation,
                cause_ts,
                now,
            )
            c.satisfaction[i] = feeling
            n += 1
    if s.churn > 0:
        out, n = _churn(
            k,
            i,
            now,
            purchased,
            rescore,
            cause,
            reevaluation,
            cause_ts,
            s,
            p,
            scorer,
            out,
            n,
            values,
        )
    if rescore:
        c.evaluated_at[i] = now
    next_due = changes_at
    if s.churn > 0:
        recheck = _recheck_at(c, i, s, p)
        look = _next_look(k, i, p)
        # A look that has passed found the pool full: the re-checks retry it.
        if now < look < recheck:
            recheck = look
        if recheck < next_due:
            next_due = recheck
    if s.window_s > 0:
        expiry = orders.next_expiry(k.orders, c, i, s.window_s)
        if expiry < next_due:
            next_due = expiry
    if math.isfinite(next_due):
        next_due = next_due if next_due > now + 1.0 else now + 1.0
        c.next_due[i] = next_due
        due.push(k.heaps, c.partition[i], next_due, c.id_hash[i], i)
    else:
        c.next_due[i] = math.inf
    return out, n


@njit(cache=True)
def _collect(k, i: int, work):  # type: ignore[no-untyped-def]
    """After row ``i`` moved in the population: reset drifted cuts and collect the other rows
    they re-score."""
    k.cuts.stamp[0] += 1
    k.c.stamp[i] = k.cuts.stamp[0]
    work, found = scoring.check(k.cuts, k.recency, k.frequency, k.monetary, k.c, work)
    k.counts[RESCORED] += found
    return work, found


@njit(cache=True)
def _purchase(k, i: int, e: int, ev: Events, now: float, s: Settings) -> None:  # type: ignore[no-untyped-def]
    """``rfm.apply_purchase``."""
    c = k.c
    ts = ev.ts[e]
    refund = ev.refund[e]
    amount = -ev.amount[e] if refund else ev.amount[e]
    if s.window_s > 0:
        orders.file(k.orders, c, i, ev.order[e], ts, amount, refund)
        if not orders.expire(k.orders, c, i, now, s.window_s):
            orders.recount(k.orders, c, i)
    else:
        c.monetary[i] += amount
        if not refund:
            c.frequency[i] += 1
    at = c.recent_at[i]
    if ts <= at:
        c.spend_recent[i] += amount * math.exp((ts - at) / RECENT_TAU_S)
        if not refund:
            c.purchases_recent[i] += math.exp((ts - at) / RECENT_TAU_S)
    else:
        fade = math.exp((at - ts) / RECENT_TAU_S)
        c.spend_recent[i] = c.spend_recent[i] * fade + amount
        c.purchases_recent[i] = c.purchases_recent[i] * fade + (0.0 if refund else 1.0)
        c.recent_at[i] = ts
    if refund:
        return
    c.purchases[i] += 1
    first = c.first_purchase_ts[i]
    if math.isnan(first) or ts < first:
        c.first_purchase_ts[i] = ts
    last = c.last_purchase_ts[i]
    if math.isnan(last) or ts > last:
        c.previous_purchase_ts[i] = last
        c.last_purchase_ts[i] = ts
        c.sample_s[i] = ev.sample[e]
    elif ts < last:
        previous = c.previous_purchase_ts[i]
        if math.isnan(previous) or ts > previous:
            c.previous_purchase_ts[i] = ts


@njit(cache=True)
def _due(  # type: ignore[no-untyped-def]
    k, part, clock, s, p, scorer, out, n, values, work
):
    """Evaluate the partition's customers due by ``clock``, each as of their due instant.
    Returns (done, out, n, work); not done: a pool needs room first."""
    c = k.c
    while True:
        if k.heaps.size[part] + 2 > k.heaps.due.shape[1] or _short(k, s):
            return False, out, n, work
        i = due.pop(k.heaps, part, clock, c.next_due)
        if i < 0:
            return True, out, n, work
        at = c.next_due[i]
        expired = False
        found = 0
        if s.window_s > 0 and orders.expire(k.orders, c, i, at, s.window_s):
            expired = True
            if scoring.place(k.cuts, k.recency, k.frequency, k.monetary, c, i):
                work, found = _collect(k, i, work)
        rescore = expired or _recheck_due(k, i, at, s, p)
        out, n = _evaluate(
            k,
            i,
            at,
            expired and c.r_key[i] >= 0,
            False,
            rescore,
            False,
            -1,
            1,
            at,
            s,
            p,
            scorer,
            out,
            n,
            values,
        )
        out, n = _rescore(k, work, found, out, n, -1, at, at)


@njit(cache=True)
def _short(k, s: Settings) -> bool:  # type: ignore[no-untyped-def]
    """Whether a pool lacks room for one more evaluation."""
    return (
        (s.window_s > 0 and k.orders.free[0] < 0)
        or ranks.spare(k.recency) < 1
        or ranks.spare(k.frequency) < 1
        or ranks.spare(k.monetary) < 1
    )


@njit(cache=True)
def run(  # type: ignore[no-untyped-def]
    k, ev: Events, start: int, s: Settings, p, scorer, out, labels, work
):
    """Run events ``start...``; returns (status, next event, out, rows, labels handed, work)."""
    c = k.c
    n = 0
    values = np.empty(snapshots.FEATURES)
    for e in range(start, len(ev.kind)):
        part = ev.partition[e]
        ts = ev.ts[e]
        clock = k.clocks[part]
        moved = ts - s.lateness_s
        if moved > clock:
            if s.churn > 0 and snapshots.due(k.snapshots, part, moved - p.churn_horizon_s):
                handed = snapshots.pop_due(k.snapshots, part, moved - p.churn_horizon_s, labels, c)
                return LEARN, e, out, n, handed, work
            k.clocks[part] = clock = moved
        done, out, n, work = _due(k, part, clock, s, p, scorer, out, n, values, work)
        if not done or k.heaps.size[part] + 2 > k.heaps.due.shape[1] or _short(k, s):
            return ROOM, e, out, n, 0, work
        kind = ev.kind[e]
        if kind == TICK:
            continue
        i = ev.slot[e]
        now = clock
        if math.isnan(c.first_seen_ts[i]):
            c.first_seen_ts[i] = c.last_event_ts[i] = ts
            c.recent_at[i] = c.engagement_at[i] = c.evaluated_at[i] = ts
            c.partition[i] = part
        elif dedup.seen(k.window, ev.key[e]):
            k.counts[DUPLICATES] += 1
            continue
        dedup.remember(k.window, ev.key[e])
        k.counts[PROCESSED] += 1
        if ts < clock:
            k.counts[LATE] += 1
        if ts < c.first_seen_ts[i]:
            c.first_seen_ts[i] = ts
        if ts > c.last_event_ts[i]:
            c.last_event_ts[i] = ts
        is_due = c.next_due[i] <= now
        scored = feel = purchased = rescore = False
        found = 0
        if kind == PURCHASE:
            _purchase(k, i, e, ev, now, s)
            if scoring.place(k.cuts, k.recency, k.frequency, k.monetary, c, i):
                work, found = _collect(k, i, work)
            scored = c.r_key[i] >= 0
            purchased = rescore = not ev.refund[e]
            stage = True
        elif kind == INTERACTION:
            c.interactions[i] += 1
            if ev.complaint[e]:
                c.complaints[i] += 1
            at = c.engagement_at[i]
            if ts <= at:
                c.engagement_recent[i] += math.exp((ts - at) / RECENT_TAU_S)
            else:
                c.engagement_recent[i] = (
                    c.engagement_recent[i] * math.exp((at - ts) / RECENT_TAU_S) + 1.0
                )
                c.engagement_at[i] = ts
            rescore = ev.complaint[e]
            stage = rescore or is_due or c.lifecycle_stage[i] < 0 or _reads_engagement(c, i, p)
        else:
            last = c.survey_ts[i]
            nps, csat = ev.nps[e], ev.csat[e]
            if (
                math.isnan(last)
                or ts > last
                or (ts == last and _rank(nps, csat) < _rank(c.nps[i], c.csat[i]))
            ):
                c.survey_ts[i] = ts
                c.nps[i] = nps
                c.csat[i] = csat
                feel = rescore = True
            stage = rescore or is_due or c.lifecycle_stage[i] < 0
        if stage:
            rescore = rescore or (is_due and _recheck_due(k, i, now, s, p))
            out, n = _evaluate(
                k,
                i,
                now,
                scored,
                feel,
                rescore,
                purchased,
                e,
                0,
                ts,
                s,
                p,
                scorer,
                out,
                n,
                values,
            )
        elif s.churn > 0:
            out, n = _churn(k, i, now, False, False, e, 0, ts, s, p, scorer, out, n, values)
        out, n = _rescore(k, work, found, out, n, e, ts, now)
    return DONE, len(ev.kind), out, n, 0, work


@njit(cache=True)
def _reads_engagement(c, i: int, p) -> bool:  # type: ignore[no-untyped-def]
    """``lifecycle.reads_engagement``: an interaction can move the stage only while recent
    orders are small enough for the spend-and-engagement rule to ask about engagement."""
    if math.isnan(c.last_purchase_ts[i]):
        return False
    share = spend_share(c.frequency[i], c.monetary[i], c.spend_recent[i], c.purchases_recent[i], p)
    return share >= 0.0 and c.interactions[i] >= p.declining_min_interactions
