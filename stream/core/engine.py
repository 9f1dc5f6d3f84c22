"""The engine: one validated event or one clock tick in, the output events it causes out.

Both shells drive this class: the Faust worker (per partition, in offset order) and the file
backtest. It holds the buyers' population and, per partition, a clock and a due-time index,
and reads and writes profiles through a plain mapping, which the worker backs with its table.

Each input re-evaluates only what it can change:

- a purchase (or refund): the buyer's scores against the population as it is now, their
  lifecycle stage and their churn risk;
- an interaction: its counts, and the stage only where the spend-and-engagement rule reads
  engagement (``lifecycle.reads_engagement``); a complaint or support ticket also re-scores
  the churn risk. R, F and M do not move, so no re-scoring: a population shift reaches a
  silent customer through the next sweep, whatever they do meanwhile;
- a survey answer (the latest): satisfaction and the churn risk.

A customer whose due time has passed is evaluated as due by their own input as well, and a
new customer gets their first stage. The stage is assessed with every churn re-score (which
reschedules the customer), and whenever the stage moves the churn risk is re-scored.

Silence is an event. A customer with no input is re-evaluated when something about them can
change, and only for what can:

- their lifecycle stage would change (``lifecycle.assess`` says exactly when): the stage,
  and the churn risk with it;
- their churn risk is due its re-check: half a usual gap after it was last scored, or half
  the silence it was scored at if longer (the churn features grow like the log of the
  silence, so checks spaced in proportion to it each move the risk alike), and at least one
  interval apart; or the churn model wants a snapshot of them: the stage and the churn risk;
- once per score sweep interval (an hour of event time by default), a sweep compares the
  score cut points with the previous sweep's and re-scores the customers whose values a cut
  crossed (``crossings``), and those scored since against other cut points (buyers): scores
  only. So after each sweep every stored score is the exact score against the population at
  that sweep. With several workers the population includes the buyers the others hold, as
  they share them (:meth:`Engine.share`); new counts bring each partition's sweep forward.

So a tick costs the customers who are due, never a scan of everyone.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping
from datetime import datetime
from typing import NamedTuple, Protocol

from schemas.inputs import INTERACTION_TYPES, AnyInput, InputRules, Interaction, Purchase, Survey
from schemas.outputs import ChurnRisk, SegmentChange
from stream.core import lifecycle, rfm
from stream.core.batch import COMPLAINT_TYPES, cause_text
from stream.core.changes import Move, output_id, segment_changes
from stream.core.clock import PartitionClock
from stream.core.config import EngineConfig
from stream.core.crossings import CrossingIndex
from stream.core.currency import exchange_rates
from stream.core.due import DueIndex
from stream.core.kernels.batch import INTERACTION, PURCHASE, SURVEY
from stream.core.profile import Profile, decayed_add
from stream.core.satisfaction import less_satisfied, satisfaction
from stream.core.scores import Cuts, Population, RfmKeys, Scores, rfm_keys
from stream.core.segments import rfm_segment
from stream.core.shared import SharedCounts

Output = SegmentChange | ChurnRisk


class ChurnAssessor(Protocol):
    """What the engine asks of the online churn model (see ``stream.core.churn``)."""

    def assess(
        self,
        profile: Profile,
        partition: int,
        now: float,
        *,
        purchased: bool,
        rescore: bool,
        cause_id: str,
        cause_ts: float,
        emitted_at: datetime,
    ) -> list[ChurnRisk]:
        """Score the freshly evaluated profile, update its churn fields, return churn-risk
        events. ``purchased``: this evaluation follows a purchase (a label for pending
        snapshots of this customer). ``rescore``: it may move the risk at once (a purchase,
        a re-evaluation, a survey answer, a complaint); otherwise the model may leave the
        risk to the customer's next re-evaluation."""
        ...

    def advance(self, partition: int, now: float) -> None:
        """The partition's clock reached ``now``: resolve snapshots whose horizon passed."""
        ...

    def next_look(self, profile: Profile, partition: int) -> float:
        """When the model next wants to score this customer with no input about them (to
        learn from them); inf: not before their next re-check."""
        ...

    def drop_partition(self, partition: int) -> None:
        """The partition moved to another worker: forget what is kept for it."""
        ...


class Result(NamedTuple):
    status: str
    """``processed`` or ``duplicate`` (a repeated ``event_id``: nothing changed)."""
    outputs: list[Output]
    late: bool = False
    """The event was older than the partition's clock; it still counts, in event time."""


class PartitionState:
    """What the engine keeps per partition: its clock and who is due when."""

    __slots__ = ("clock", "due", "crossings", "cuts", "next_sweep", "rescored", "shared_by")

    def __init__(self, config: EngineConfig) -> None:
        self.clock = PartitionClock(config.allowed_lateness_s)
        self.due = DueIndex(config.reevaluation_interval_s / 24)
        self.crossings = CrossingIndex()
        self.cuts: Cuts | None = None
        """Cut points at the last sweep; None: re-evaluate everyone at the next one."""
        self.next_sweep = -math.inf
        """When the next sweep is due; -inf: not placed yet (see ``Engine._sweep``)."""
        self.rescored: set[str] = set()
        """Customers scored since the last sweep against other cut points than its own."""
        self.shared_by: str | None = None
        """Names the shared counts that moved the next sweep forward, if any (its outputs
        carry the name: see :meth:`Engine.share`)."""


class Engine:
    def __init__(
        self,
        config: EngineConfig,
        profiles: MutableMapping[str, Profile] | None = None,
        churn: ChurnAssessor | None = None,
    ) -> None:
        self.config = config
        self.profiles: MutableMapping[str, Profile] = {} if profiles is None else profiles
        self.churn = churn
        self.population = Population()
        self.partitions: dict[int, PartitionState] = {}
        extra = {t.strip() for t in config.extra_interaction_types.split(",") if t.strip()}
        self._rates = exchange_rates(config.currency, config.fx_rates)
        self.rules = InputRules(
            INTERACTION_TYPES | extra, None if self._rates is None else frozenset(self._rates)
        )
        """What the shells' parsing must accept, besides the models' own checks."""
        self.currencies: set[str] = set()
        """The purchase currencies seen (see :meth:`added_up_currencies`)."""
        self._window_s = config.window_s
        self._shares = ""
        """Names the history of counts shared with this engine (see :meth:`share`)."""

    def added_up_currencies(self) -> list[str]:
        """The currencies seen, if more than one and there is no base currency to convert
        them to: their amounts were added up as if they were one, which the shells warn of."""
        if self._rates is not None or len(self.currencies) < 2:
            return []
        return sorted(self.currencies)

    # -- partitions ---------------------------------------------------------------------

    def partition(self, partition: int) -> PartitionState:
        state = self.partitions.get(partition)
        if state is None:
            state = self.partitions[partition] = PartitionState(self.config)
        return state

    def clock(self, partition: int) -> PartitionClock:
        return self.partition(partition).clock

    def adopt(self, profile: Profile, partition: int) -> None:
        """Count a profile recovered from storage (a partition assigned to this engine).

        The partition's clock resumes from the newest event its profiles saw, so silence
        keeps being measured across a restart or a rebalance.
        """
        state = self.partition(partition)
        state.clock.observe(profile.last_event_ts)
        self._place(state, profile.customer_id, None, rfm.keys(profile))
        if profile.next_due is not None:
            state.due.schedule(profile.customer_id, profile.next_due)
        state.cuts = None
        # The next sweep is where an engine that never stopped has it: the next multiple.
        state.next_sweep = self._next_sweep(state.clock.now)

    def release(self, profile: Profile, partition: int) -> None:
        """Stop counting a profile whose partition moved to another worker."""
        state = self.partition(partition)
        self._place(state, profile.customer_id, rfm.keys(profile), None)
        state.due.discard(profile.customer_id)
        state.rescored.discard(profile.customer_id)

    def drop_partition(self, partition: int) -> None:
        """Forget a partition that moved to another worker: its clock, due times and the
        churn model's pending snapshots. Call after :meth:`release` of its profiles."""
        self.partitions.pop(partition, None)
        if self.churn is not None:
            self.churn.drop_partition(partition)

    def _place(
        self, state: PartitionState, customer_id: str, old: RfmKeys | None, new: RfmKeys | None
    ) -> None:
        self.population.replace(old, new)
        state.crossings.move(customer_id, old, new)

    def share(self, shared: SharedCounts | None) -> None:
        """Score against the buyers other workers hold as well (``shared``; None: none).

        New counts move the cut points without any input here, so each partition sweeps at
        its next tick instead of waiting for the next multiple of the sweep interval.
        """
        if self.population.share(shared):
            # Named by every count shared so far, so the sweeps of A, then B, then A again at
            # one clock time still carry three names.
            digest = shared.digest if shared is not None else "none"
            self._shares = output_id(self._shares, digest)[:12]
            for state in self.partitions.values():
                if math.isfinite(state.next_sweep):
                    state.next_sweep = min(state.next_sweep, state.clock.now)
                    state.shared_by = self._shares

    # -- events -------------------------------------------------------------------------

    def process(self, event: AnyInput, partition: int, emitted_at: datetime) -> Result:
        # First: a purchase the engine cannot count must change nothing, not even the clock
        # (the outputs of customers it made due would be lost with the exception).
        rate = self._rate(event)
        ts = event.ts.timestamp()
        state = self.partitions.get(partition) or self.partition(partition)
        clock = state.clock
        before = clock.now
        late = ts < before
        clock.observe(ts)
        now = clock.now
        # Customers who fell due as the clock moved are evaluated first, in the event's turn,
        # so both shells see silence at the same point of the input.
        outputs = self._run_due(partition, state, emitted_at) if now > before else []
        customer_id = event.customer_id
        profile = self.profiles.get(customer_id)
        if profile is None:
            profile = Profile(customer_id, ts)
        elif event.event_id in profile.purchase_ids or event.event_id in profile.recent_ids:
            return Result("duplicate", outputs, late)
        self._remember(profile, event, ts)

        # Each kind of input re-evaluates only what it can change; a customer whose due time
        # has passed (but whose hour of the due index has not) is evaluated as due as well.
        due = profile.next_due is not None and profile.next_due <= now
        scores = None
        feel = purchased = False
        if isinstance(event, Purchase):
            keys = rfm.keys(profile)
            self.currencies.add(event.currency)
            rfm.apply_purchase(profile, event, rate, ts, now, self._window_s)
            old_keys, keys = keys, rfm.keys(profile)
            self._place(state, customer_id, old_keys, keys)
            if keys is not None:
                # Scored against the population as it is now, not at the last sweep: the
                # next sweep scores them again.
                scores = self.population.score(keys)
                state.rescored.add(customer_id)
            purchased = rescore = not event.refund
            stage = True
        elif isinstance(event, Interaction):
            self._apply_interaction(profile, event, ts)
            # R, F and M do not move; the stage only through the spend-and-engagement rule.
            rescore = event.type in COMPLAINT_TYPES
            stage = (
                rescore
                or due
                or profile.lifecycle_stage is None
                or lifecycle.reads_engagement(profile, self.config)
            )
        else:
            feel = rescore = self._apply_survey(profile, event, ts)
            stage = rescore or due or profile.lifecycle_stage is None
        if stage:
            outputs += self._evaluate(
                profile,
                partition,
                state,
                now,
                scores,
                feel=feel,
                rescore=rescore or (due and self._recheck_due(profile, partition, now)),
                purchased=purchased,
                cause=_cause(event),
                cause_id=event.event_id,
                cause_ts=ts,
                emitted_at=emitted_at,
            )
        elif self.churn is not None:
            # The model folds this input in at the customer's next re-check.
            outputs += self.churn.assess(
                profile,
                partition,
                now,
                purchased=False,
                rescore=False,
                cause_id=event.event_id,
                cause_ts=ts,
                emitted_at=emitted_at,
            )
        self.profiles[customer_id] = profile
        return Result("processed", outputs, late)

    def _rate(self, event: AnyInput) -> float:
        """What one unit of a purchase's currency counts for in the base currency."""
        if self._rates is None or not isinstance(event, Purchase):
            return 1.0
        rate = self._rates.get(event.currency)
        if rate is None:
            # parse_input with ``self.rules`` dead-letters these; a shell that skipped them.
            raise ValueError(f"currency {event.currency} has no rate (parse with Engine.rules)")
        return rate

    def _remember(self, profile: Profile, event: AnyInput, ts: float) -> None:
        ids = profile.purchase_ids if isinstance(event, Purchase) else profile.recent_ids
        ids.append(event.event_id)
        if len(ids) > self.config.dedup_ids_per_customer:
            del ids[0]
        if ts < profile.first_seen_ts:
            profile.first_seen_ts = ts
        if ts > profile.last_event_ts:
            profile.last_event_ts = ts

    @staticmethod
    def _apply_interaction(profile: Profile, event: Interaction, ts: float) -> None:
        interactions = profile.interactions
        kind = event.type
        interactions[kind] = interactions.get(kind, 0) + 1
        if kind in COMPLAINT_TYPES:
            profile.complaints += 1
        profile.engagement_recent, profile.engagement_at = decayed_add(
            profile.engagement_recent, profile.engagement_at, 1.0, ts, lifecycle.RECENT_TAU_S
        )

    @staticmethod
    def _apply_survey(profile: Profile, event: Survey, ts: float) -> bool:
        """Keep the answer if it is the latest by event time, or of two at the same time the
        less satisfied (so arrival order does not matter); True if it was."""
        last = profile.survey_ts
        if (
            last is None
            or ts > last
            or (ts == last and less_satisfied(event.nps, event.csat, profile.nps, profile.csat))
        ):
            profile.survey_ts = ts
            profile.nps = event.nps
            profile.csat = event.csat
            return True
        return False

    # -- the clock ----------------------------------------------------------------------

    def tick(
        self, partition: int, emitted_at: datetime, wall_ts: float | None = None
    ) -> list[Output]:
        """Re-evaluate the partition's customers who are due at its clock.

        Events already do this as they move the clock; shells call ``tick`` from a timer in
        live mode, where ``wall_ts`` lets the clock advance with wall time on a quiet partition.
        """
        state = self.partition(partition)
        if wall_ts is not None:
            state.clock.advance_to_wall(wall_ts)
        return self._run_due(partition, state, emitted_at)

    def _run_due(self, partition: int, state: PartitionState, emitted_at: datetime) -> list[Output]:
        now = state.clock.now
        if self.churn is not None:
            self.churn.advance(partition, now)
        due = state.due.pop_due(now)
        population = self.population
        swept: set[str] = set()
        cause_id = f"tick:{now:.0f}"
        if now >= state.next_sweep and math.isfinite(now):
            if state.shared_by is not None:
                # Shared counts can force several sweeps at one clock time: each is named too.
                cause_id = f"{cause_id}:{state.shared_by}"
                state.shared_by = None
            swept = self._sweep(state, now)
        if not due and not swept:
            return []
        # Due customers get their lifecycle (and churn risk when its re-check is due or the
        # stage moved); swept ones a re-score; a customer can be both.
        if swept:
            due_now = set(due)
            order = sorted(swept.union(due))
        else:
            due_now = None
            order = due
        outputs: list[Output] = []
        thresholds = population.thresholds() if len(population) else None
        swept_with = thresholds
        profiles = self.profiles
        window_s = self._window_s
        score_moves = self._score_moves
        for customer_id in order:
            profile = profiles.get(customer_id)
            if profile is None:
                continue
            if due_now is not None and customer_id not in due_now:
                # Swept only: the scores are all that can have moved.
                last = profile.last_purchase_ts
                if last is None or thresholds is None:
                    continue
                if thresholds is not swept_with:
                    state.rescored.add(customer_id)
                scored = thresholds.score(rfm_keys(last, profile.frequency, profile.monetary))
                moves = score_moves(profile, scored, "re-evaluation")
                if moves is None:
                    continue
                if moves:
                    outputs += segment_changes(
                        profile,
                        moves,
                        now=now,
                        cause_id=cause_id,
                        cause_ts=now,
                        emitted_at=emitted_at,
                    )
                profiles[customer_id] = profile
                continue
            keys = rfm.keys(profile)
            expired = window_s is not None and rfm.expire(profile, now, window_s)
            if expired:
                old_keys, keys = keys, rfm.keys(profile)
                self._place(state, customer_id, old_keys, keys)
                thresholds = population.thresholds()
            scores = None
            if (expired or customer_id in swept) and keys is not None and thresholds:
                scores = thresholds.score(keys)
                if thresholds is not swept_with:
                    state.rescored.add(customer_id)
            changed = self._evaluate(
                profile,
                partition,
                state,
                now,
                scores,
                feel=False,
                rescore=expired or self._recheck_due(profile, partition, now),
                purchased=False,
                cause="re-evaluation",
                cause_id=cause_id,
                cause_ts=now,
                emitted_at=emitted_at,
            )
            outputs += changed
            # Stored even when nothing was emitted: the next due time and the re-check's
            # start moved, and a restart from storage must go on from them to emit the same.
            profiles[customer_id] = profile
        return outputs

    def _sweep(self, state: PartitionState, now: float) -> set[str]:
        """The customers whose scores the population may have moved since the last sweep,
        and those scored against other cut points since (buyers, mostly).

        Sweeps fall on the first clock time past each multiple of the interval, counted from
        the epoch, not from when this engine started: a restarted engine sweeps at the same
        points of the input as one that never stopped, so its outputs carry the same ids (a
        tick's ids name its clock time). The first call on a new partition only finds the next
        multiple; :meth:`adopt` places it for a partition recovered from storage."""
        first = state.next_sweep == -math.inf
        state.next_sweep = self._next_sweep(now)
        if first or not len(self.population):
            return set()
        cuts = self.population.thresholds().cuts()
        if state.cuts is None:
            crossed = state.crossings.everyone()
        else:
            # Only the customers whose score a move changed: every other stored score is
            # already the one these cut points give. But with a rolling window an expiry
            # can move the cut points during the tick, and the swept customers after it are
            # scored against the moved ones: then all those near a crossing are.
            crossed = state.crossings.crossed(state.cuts, cuts, exact=self._window_s is None)
            crossed |= state.rescored
        state.rescored = set()
        state.cuts = cuts
        return crossed

    def _next_sweep(self, now: float) -> float:
        interval = self.config.score_sweep_s
        return (now // interval + 1) * interval if math.isfinite(now) else -math.inf

    def _recheck_due(self, profile: Profile, partition: int, now: float) -> bool:
        """Whether the churn risk is due its re-check, or the model wants a look."""
        churn = self.churn
        return churn is not None and (
            self._recheck_at(profile) <= now or churn.next_look(profile, partition) <= now
        )

    def _recheck_at(self, profile: Profile) -> float:
        last = profile.last_purchase_ts
        if last is None:
            return math.inf
        config = self.config
        scored = profile.evaluated_at
        spacing = max(lifecycle.usual_gap_s(profile, config), scored - last) / 2
        return scored + max(config.reevaluation_interval_s, spacing)

    # -- evaluation ---------------------------------------------------------------------

    @staticmethod
    def _score_moves(profile: Profile, scores: Scores, cause: str) -> list[Move] | None:
        """Store new scores; the dimensions they moved (None: no score changed at all)."""
        # Reasons are only written for dimensions that moved: most evaluations move none.
        r, f, m, tier = scores
        old_r, old_f, old_m = profile.r_score, profile.f_score, profile.m_score
        if r == old_r and f == old_f and m == old_m and tier == profile.value_tier:
            return None
        profile.r_score, profile.f_score, profile.m_score = r, f, m
        moves: list[Move] = []
        old = profile.rfm_segment
        segment = rfm_segment(r, f)
        if old != segment:
            profile.rfm_segment = segment
            reason = f"R {old_r or '-'}→{r}, F {old_f or '-'}→{f} after {cause}"
            moves.append(("rfm_segment", old, segment, reason))
        old = profile.value_tier
        if old != tier:
            profile.value_tier = tier
            reason = f"M {old_m or '-'}→{m}, spend {rfm.spend(profile):.2f} after {cause}"
            moves.append(("value_tier", old, tier, reason))
        return moves

    def _evaluate(
        self,
        profile: Profile,
        partition: int,
        state: PartitionState,
        now: float,
        scores: Scores | None,
        *,
        feel: bool,
        rescore: bool,
        purchased: bool,
        cause: str,
        cause_id: str,
        cause_ts: float,
        emitted_at: datetime,
    ) -> list[Output]:
        """Re-score (when ``scores`` are given), assess the lifecycle stage, satisfaction
        (``feel``) and the churn risk (``rescore``, or the stage moved), and reschedule."""
        config = self.config
        moves = (self._score_moves(profile, scores, cause) if scores is not None else None) or []
        stage = lifecycle.assess(profile, now, config)
        old = profile.lifecycle_stage
        if old != stage.stage:
            profile.lifecycle_stage = stage.stage
            moves.append(("lifecycle_stage", old, stage.stage, stage.reason))
            rescore = True
        if feel:
            old = profile.satisfaction
            feeling = satisfaction(profile.nps, profile.csat)
            if old != feeling:
                profile.satisfaction = feeling
                moves.append(("satisfaction", old, feeling, f"after {cause}"))
        outputs: list[Output] = []
        if moves:
            outputs += segment_changes(
                profile,
                moves,
                now=now,
                cause_id=cause_id,
                cause_ts=cause_ts,
                emitted_at=emitted_at,
            )
        next_due = stage.changes_at
        churn = self.churn
        if churn is not None:
            outputs += churn.assess(
                profile,
                partition,
                now,
                purchased=purchased,
                rescore=rescore,
                cause_id=cause_id,
                cause_ts=cause_ts,
                emitted_at=emitted_at,
            )
        if rescore:
            profile.evaluated_at = now
        if churn is not None:
            recheck = self._recheck_at(profile)
            look = churn.next_look(profile, partition)
            # A look that has passed found the model without room: the re-checks retry it.
            if now < look < recheck:
                recheck = look
            if recheck < next_due:
                next_due = recheck
        if self._window_s is not None:
            next_due = min(next_due, rfm.next_expiry(profile, self._window_s))
        customer_id = profile.customer_id
        if math.isfinite(next_due):
            profile.next_due = next_due if next_due > now + 1.0 else now + 1.0
            state.due.schedule(customer_id, profile.next_due)
        else:
            profile.next_due = None
            state.due.discard(customer_id)
        return outputs


def _cause(event: AnyInput) -> str:
    if isinstance(event, Purchase):
        return cause_text(PURCHASE, event.order_id, event.channel, event.refund)
    if isinstance(event, Interaction):
        return cause_text(INTERACTION, event.type, event.channel, False)
    return cause_text(SURVEY, event.survey_id, None, False)
