"""The batch engine: events in by the batch, output events out as JSON bytes (DOMAIN.md).

What Python keeps around the compiled loop (:mod:`stream.core.kernels.batch`): the customer
id of every slot (a plain dict, which costs far less per lookup than a compiled one), the
pools the loop works in, grown when it asks, and the churn model, which learns in river
whenever the loop hands it resolved snapshots. The loop's output rows become output events
here, before the model learns anything more, so each carries the model that scored it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import orjson

from schemas.inputs import INTERACTION_TYPES, AnyInput, InputRules, Interaction, Purchase, Survey
from schemas.outputs import VALUES
from stream.core.changes import event_time, output_id
from stream.core.churn import BANDS, ChurnModel, sample_silence_s
from stream.core.columns import Columns
from stream.core.config import DAY, EngineConfig
from stream.core.currency import exchange_rates
from stream.core.decoding import DecodedBatch
from stream.core.kernels import batch as loop
from stream.core.kernels.batch import (
    O_BAND,
    O_CAUSE,
    O_F,
    O_FACT,
    O_FACT2,
    O_FACT3,
    O_FEATURES,
    O_FREQUENCY,
    O_FROM,
    O_KIND,
    O_LAST,
    O_M,
    O_MONETARY,
    O_NOW,
    O_OLD_F,
    O_OLD_M,
    O_OLD_R,
    O_PREVIOUS,
    O_PROBABILITY,
    O_R,
    O_REASON,
    O_REEVALUATION,
    O_SLOT,
    O_TO,
    O_TS,
)
from stream.core.kernels.churn import Scorer
from stream.core.kernels.dedup import Window
from stream.core.kernels.due import Heaps, compact
from stream.core.kernels.lifecycle import REASONS
from stream.core.kernels.orders import Orders
from stream.core.kernels.params import params
from stream.core.kernels.scoring import Cuts
from stream.core.kernels.snapshots import PENDING, Snapshots
from stream.core.ranks import Ranking
from stream.core.segments import rfm_segment

COMPLAINT_TYPES = frozenset({"complaint", "support_ticket"})
DIMENSIONS = ("rfm_segment", "value_tier", "lifecycle_stage", "satisfaction")


def stable_hash(*parts: str) -> int:
    """A 64-bit hash of the parts that is the same in every process (``hash`` is not)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True) or 1


@lru_cache(maxsize=4096)
def iso(ts: float) -> str:
    """An event time as the output contracts serialise it (``...Z``); a batch's outputs
    share few."""
    return _iso(event_time(ts))


def _iso(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _codes(dimension: str) -> dict[str, int]:
    return {value: code for code, value in enumerate(VALUES[dimension])}


def _tables() -> loop.Tables:
    segments, tiers, feelings = (_codes(d) for d in ("rfm_segment", "value_tier", "satisfaction"))
    grid = np.array(
        [[segments[rfm_segment(r, f)] for f in range(1, 6)] for r in range(1, 6)], np.int8
    )
    levels = np.array([tiers[t] for t in ("small", "ordinary", "major", "vip")], np.int8)
    feeling = np.array([feelings[f] for f in ("detractor", "passive", "promoter")], np.int8)
    return loop.Tables(grid, levels, feeling)


class Batch(NamedTuple):
    """What the loop runs, and what names each event in the outputs it causes."""

    events: loop.Events
    event_ids: Sequence[str]
    cause: Callable[[int], str]
    """The words a reason names event ``e`` by."""


class Output(NamedTuple):
    customer_id: str
    kind: str
    """``segment`` or ``churn``."""
    value: bytes
    """The event as JSON, as the output contracts define it."""


class BatchEngine:
    """One population of customers over any number of partitions (one clock each)."""

    def __init__(
        self,
        config: EngineConfig,
        churn: ChurnModel | None = None,
        *,
        margin: float | None = None,
    ) -> None:
        """``margin``: the stability margin, ``config.stability_margin`` by default."""
        self.config = config
        self.churn = churn
        self.params = params(config)
        self.settings = loop.Settings(
            config.allowed_lateness_s,
            config.reevaluation_interval_s,
            config.window_s or 0.0,
            1.0 if churn is not None else 0.0,
            config.churn_step,
        )
        extra = {t.strip() for t in config.extra_interaction_types.split(",") if t.strip()}
        self._rates = exchange_rates(config.currency, config.fx_rates)
        self.rules = InputRules(
            INTERACTION_TYPES | extra, None if self._rates is None else frozenset(self._rates)
        )
        self.currencies: set[str] = set()
        self.slots: dict[str, int] = {}
        self.ids: list[str] = []
        self.columns = Columns.empty(1024)
        self.population = [Ranking() for _ in range(3)]
        self.cuts = Cuts.empty(config.stability_margin if margin is None else margin)
        self.heaps = Heaps.empty(1, 1024)
        self.orders = Orders.empty(1024 if config.window_s else 0)
        pending = churn.max_pending if churn is not None else 0
        self.snapshots = Snapshots.empty(pending, 1)
        self.window = Window.empty(config.dedup_window_ids)
        self.clocks = np.full(1, -math.inf)
        self.counts = np.zeros(4, np.int64)
        self.tables = _tables()
        self._out = np.empty((4096, loop.WIDTH))
        self._work = np.empty(1024, np.int32)
        self._labels = np.empty(max(pending, 1), np.int32)
        self._horizon_days = max(1, round(config.churn_horizon_days))
        self._made: tuple[tuple[object, ...], loop.Core] | None = None

    # -- customers and partitions -------------------------------------------------------

    def _slot(self, customer_id: str) -> int:
        slot = self.slots.get(customer_id)
        if slot is None:
            slot = self.slots[customer_id] = len(self.ids)
            self.ids.append(customer_id)
            if slot == len(self.columns.frequency):
                self.columns = self.columns.grown(2 * slot)
            self.columns.id_hash[slot] = stable_hash(customer_id)
        return slot

    def _partitions(self, highest: int) -> None:
        have = len(self.clocks)
        if highest < have:
            return
        wanted = highest + 1
        self.clocks = np.concatenate([self.clocks, np.full(wanted - have, -math.inf)])
        self.heaps = self.heaps.grown(wanted, self.heaps.due.shape[1])
        self.snapshots = self.snapshots.grown(wanted)

    # -- events -------------------------------------------------------------------------

    def decoded(self, batch: DecodedBatch, partition: int = 0) -> Batch:
        """The loop's arrays for a decoded batch of one partition."""
        n = len(batch)
        kind = batch.kind
        slot = np.fromiter(map(self._slot, batch.customer_id), np.int32, n)
        key = np.fromiter(map(stable_hash, batch.customer_id, batch.event_id), np.int64, n)
        complaint = np.zeros(n, np.bool_)
        order = np.zeros(n, np.int64)
        sample = np.zeros(n)
        amount = np.where(kind == loop.PURCHASE, batch.amount, 0.0)
        horizon_s = self.config.churn_horizon_s
        rates = self._rates
        window = self.settings.window_s > 0
        for e in np.flatnonzero(kind == loop.PURCHASE).tolist():
            currency = batch.currency[e]
            assert currency is not None
            self.currencies.add(currency)
            if rates is not None:
                amount[e] *= rates[currency]
            if window:
                order[e] = stable_hash(batch.detail[e])
            sample[e] = sample_silence_s(batch.customer_id[e], float(batch.ts[e]), horizon_s)
        for e in np.flatnonzero(kind == loop.INTERACTION).tolist():
            complaint[e] = batch.detail[e] in COMPLAINT_TYPES
        events = loop.Events(
            kind,
            slot,
            np.full(n, partition, np.int32),
            batch.ts,
            amount,
            batch.refund,
            complaint,
            batch.nps.astype(np.int64),
            batch.csat.astype(np.int64),
            key,
            order,
            sample,
        )
        return Batch(events, batch.event_id, lambda e: _cause_of(batch, e))

    def run(self, batch: Batch, emitted_at: Sequence[str] | str) -> list[Output]:
        """Run a batch; ``emitted_at``: of everything it causes, or per event."""
        ev = batch.events
        if len(ev.kind):
            self._partitions(int(ev.partition.max()))
        outputs: list[Output] = []
        start = 0
        total = len(ev.kind)
        while True:
            self._make_room(total - start)
            status, start, out, rows, handed, work = loop.run(
                self._core(),
                ev,
                start,
                self.settings,
                self.params,
                self._scorer(),
                self._out,
                self._labels,
                self._work,
            )
            self._out, self._work = out, work
            if rows:
                outputs += self._format(out[:rows], batch, emitted_at)
            if status == loop.LEARN:
                self._learn(handed)
            elif status == loop.DONE:
                return outputs

    def process(self, events: Sequence[AnyInput], partition: int = 0) -> list[Output]:
        """Run validated events of one partition, each output emitted at its cause's time."""
        return self.run(self.decoded(_columns(events), partition), [_iso(e.ts) for e in events])

    def tick(self, partition: int, wall_ts: float, emitted_at: str) -> list[Output]:
        """Move the partition's clock to ``wall_ts`` less the allowed lateness."""
        none = self.decoded(_columns([]), partition).events
        events = loop.Events(*(np.zeros(1, array.dtype) for array in none))._replace(
            kind=np.array([loop.TICK], np.int8),
            partition=np.array([partition], np.int32),
            ts=np.array([wall_ts]),
        )
        return self.run(Batch(events, [""], lambda e: ""), emitted_at)

    # -- pools --------------------------------------------------------------------------

    def _core(self) -> loop.Core:
        """The loop's view of the pools, made again only when one was replaced: it costs
        about 60 us, and the loop is entered again after every churn pause."""
        parts = (
            self.columns,
            *(r.ranks for r in self.population),
            self.heaps,
            self.orders,
            self.snapshots,
            self.clocks,
        )
        if self._made is None or any(a is not b for a, b in zip(parts, self._made[0], strict=True)):
            made: loop.Core = loop.core(  # type: ignore[call-arg]
                self.columns.ref(),
                *(r.ranks for r in self.population),
                self.cuts,
                self.heaps,
                self.orders,
                self.snapshots,
                self.window,
                self.clocks,
                self.counts,
                self.tables,
            )
            self._made = (parts, made)
        return self._made[1]

    def _make_room(self, events: int) -> None:
        """Room for the next evaluations: the loop asks again when it runs short."""
        wanted = min(events, 4096) + 2
        for ranking in self.population:
            if ranking.ranks.meta[2] < 2:
                ranking.grow()
        heaps = self.heaps
        if heaps.room() < wanted:
            live = self.columns.next_due < math.inf
            capacity = heaps.due.shape[1]
            for p in range(len(heaps.size)):
                if heaps.size[p] > capacity // 2:
                    compact(heaps, p, self.columns.next_due, self.columns.partition)
            if heaps.room() < wanted:
                self.heaps = heaps.grown(
                    len(heaps.size), max(2 * capacity, int(live.sum()) + wanted)
                )
        if self.settings.window_s and self.orders.room() < wanted:
            self.orders = self.orders.grown(2 * len(self.orders.ts) + wanted)

    # -- churn --------------------------------------------------------------------------

    def _scorer(self) -> Scorer:
        if self.churn is None:
            empty = np.zeros(2)
            return Scorer(np.zeros(16), 0.0, 0.0, 1.0, empty, empty, empty)
        return self.churn.scorer()

    def _learn(self, handed: int) -> None:
        churn = self.churn
        assert churn is not None
        s = self.snapshots
        for e in self._labels[:handed]:
            churn.learn(tuple(s.values[e].tolist()), int(s.label[e]))
        churn.pending_count = int(s.counts[PENDING])

    # -- outputs ------------------------------------------------------------------------

    def _format(
        self, rows: np.ndarray, batch: Batch, emitted_at: Sequence[str] | str
    ) -> list[Output]:
        found = []
        ids = self.ids
        names = [VALUES[d] for d in DIMENSIONS]
        ticks = (batch.events.kind == loop.TICK).tolist()
        one_time = emitted_at if isinstance(emitted_at, str) else None
        for row in rows.tolist():
            kind = int(row[O_KIND])
            customer_id = ids[int(row[O_SLOT])]
            cause_index = int(row[O_CAUSE])
            cause_ts = row[O_TS]
            caused = cause_index >= 0 and not ticks[cause_index]
            cause_id = batch.event_ids[cause_index] if caused else f"due:{cause_ts!r}"
            if one_time is not None:
                emitted = one_time
            else:
                emitted = emitted_at[cause_index if cause_index >= 0 else 0]
            if kind == loop.CHURN:
                found.append(self._churn_event(row, customer_id, cause_id, emitted))
                continue
            dimension = DIMENSIONS[kind]
            values = names[kind]
            old = None if row[O_FROM] < 0 else values[int(row[O_FROM])]
            new = None if row[O_TO] < 0 else values[int(row[O_TO])]
            reevaluation = row[O_REEVALUATION] or not caused
            cause = "re-evaluation" if reevaluation else batch.cause(cause_index)
            monetary = row[O_MONETARY]
            spend = monetary if monetary > 0.0 else 0.0
            if kind == loop.RFM_SEGMENT:
                reason = (
                    f"R {_score(row[O_OLD_R])}→{int(row[O_R])}, "
                    f"F {_score(row[O_OLD_F])}→{int(row[O_F])} after {cause}"
                )
            elif kind == loop.VALUE_TIER:
                reason = (
                    f"M {_score(row[O_OLD_M])}→{int(row[O_M])}, spend {spend:.2f} after {cause}"
                )
            elif kind == loop.LIFECYCLE_STAGE:
                reason = REASONS[int(row[O_REASON])].format(row[O_FACT], row[O_FACT2], row[O_FACT3])
            else:
                reason = f"after {cause}"
            last = row[O_LAST]
            now = row[O_NOW]
            value = {
                "schema_version": 1,
                "event_id": output_id(customer_id, cause_id, dimension, str(old), str(new)),
                "customer_id": customer_id,
                "ts": iso(cause_ts),
                "emitted_at": emitted,
                "dimension": dimension,
                "from": old,
                "to": new,
                "recency_days": None if math.isnan(last) else round(max(0.0, now - last) / DAY, 3),
                "frequency": int(row[O_FREQUENCY]),
                "monetary": float(round(spend, 2)),
                "r_score": int(row[O_R]) or None,
                "f_score": int(row[O_F]) or None,
                "m_score": int(row[O_M]) or None,
                "reason": reason,
            }
            found.append(Output(customer_id, "segment", orjson.dumps(value)))
        return found

    def _churn_event(
        self, row: list[float], customer_id: str, cause_id: str, emitted: str
    ) -> Output:
        churn = self.churn
        assert churn is not None
        values = tuple(row[O_FEATURES:])
        previous = int(row[O_PREVIOUS])
        value = {
            "schema_version": 1,
            "event_id": output_id(customer_id, cause_id, "churn"),
            "customer_id": customer_id,
            "ts": iso(row[O_TS]),
            "emitted_at": emitted,
            "probability": row[O_PROBABILITY],
            "band": BANDS[int(row[O_BAND])],
            "previous_band": BANDS[previous] if previous >= 0 else None,
            "horizon_days": self._horizon_days,
            "model_version": churn.model_version,
            "top_features": churn.explain_values(values),
        }
        return Output(customer_id, "churn", orjson.dumps(value))


def _score(value: float) -> str:
    return str(int(value)) if value else "-"


def cause_text(kind: int, detail: str, channel: str | None, refund: bool) -> str:
    """How a reason names the input that caused it."""
    if kind == loop.PURCHASE:
        return f"{'refund of' if refund else 'purchase'} {detail}"
    if kind == loop.INTERACTION:
        return f"{detail} via {channel}"
    return f"survey {detail}"


def _cause_of(batch: DecodedBatch, e: int) -> str:
    return cause_text(int(batch.kind[e]), batch.detail[e], batch.channel[e], bool(batch.refund[e]))


def _columns(events: Sequence[AnyInput]) -> DecodedBatch:
    """Validated events as the decoder gives them."""
    n = len(events)
    kinds = {Purchase: loop.PURCHASE, Interaction: loop.INTERACTION, Survey: loop.SURVEY}
    purchases = [e if isinstance(e, Purchase) else None for e in events]
    surveys = [e if isinstance(e, Survey) else None for e in events]
    return DecodedBatch(
        index=np.arange(n, dtype=np.int64),
        kind=np.fromiter((kinds[type(e)] for e in events), np.int8, n),
        ts=np.fromiter((e.ts.timestamp() for e in events), np.float64, n),
        amount=np.fromiter((p.amount if p else math.nan for p in purchases), np.float64, n),
        refund=np.fromiter((bool(p and p.refund) for p in purchases), np.bool_, n),
        nps=np.fromiter((s.nps if s and s.nps is not None else -1 for s in surveys), np.int8, n),
        csat=np.fromiter((s.csat if s and s.csat is not None else -1 for s in surveys), np.int8, n),
        customer_id=[e.customer_id for e in events],
        event_id=[e.event_id for e in events],
        detail=[_detail(e) for e in events],
        channel=[None if isinstance(e, Survey) else e.channel for e in events],
        currency=[p.currency if p else None for p in purchases],
    )


def _detail(event: AnyInput) -> str:
    if isinstance(event, Purchase):
        return event.order_id
    if isinstance(event, Interaction):
        return event.type
    return event.survey_id
