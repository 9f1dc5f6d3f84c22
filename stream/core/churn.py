"""Churn risk: the probability that a customer makes no purchase in the next H days.

A river logistic regression (on standardised features from :mod:`stream.core.features`)
learns online from delayed labels. Now and then the model keeps a *snapshot* of a customer's
features at the partition's clock ``t``, labelled

- ``0`` when the customer buys again within H days after ``t`` (the engine says so with
  ``purchased=True``),
- ``1`` when the clock passes ``t + H`` with no purchase (:meth:`ChurnModel.advance`),

and learnt when the clock passes ``t + H`` either way (:class:`Waiting` says why).

Which snapshots: the model is asked about every buyer at whatever silence they are in, so it
must learn from every silence, long lapses included (learning only from the first H days of
silence taught it that long-lapsed one-time buyers are safe). A customer is snapshotted once
their silence since the last purchase reaches an offset drawn uniformly from ``[0, H)`` by
hashing the customer and that purchase, then again each time the previous snapshot is
labelled, so once every H days of silence for as long as it lasts. The engine evaluates the
customer at those moments (:meth:`ChurnModel.next_look`), not just at their next re-check.
Across the population that samples customer-days evenly, which is what the model is asked
about, and a replay samples the same snapshots. Memory is bounded: at most one pending
snapshot per customer and ``max_pending`` in all (what does not fit is counted, not kept).

Each label is first predicted, then learnt (progressive validation), feeding log loss and ROC
AUC, overall and over the last ``ROLLING_WINDOW`` labels (:class:`Scorecard`).

Cold start: the probability first comes from a prior (``model_version`` ``prior/1``): the
chance of no purchase in H days for a Poisson buyer at the customer's usual gap, raised by how
overdue they are. After ``warmup_labels`` labels the learnt model is blended in by log-odds,
its weight rising with the labels learnt until it alone serves at ``blend_labels``, so a
model that has seen a few hundred labels cannot undo a sensible prior.

Drift: river's ADWIN watches the serving model's absolute error. When the error rises a
*challenger* starts learning from scratch; after ``challenge_labels`` labels both are scored
on the next ``challenge_labels`` (each predicts a label before learning it) and the challenger
replaces the serving model, bumping ``model_version``, only if its log loss was lower. So a
shift in who is being labelled, which raises the error without making a fresh model any
better, does not throw away what was learnt.

Bands: ``low`` < 0.33 <= ``medium`` < 0.66 <= ``high``; a band only changes once the
probability is ``churn_hysteresis`` past the boundary. A ``customer.churn-risk`` event is
emitted when the band changes or the probability moved by more than ``churn_step`` since the
last one; the profile keeps the last emitted probability and band.
"""

# river's drift detectors have untyped signatures; only that check is relaxed.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import heapq
import math
import operator
import pickle
import zlib
from collections import OrderedDict, deque
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from river import drift, linear_model, optim

from schemas.inputs import SCHEMA_VERSION
from schemas.outputs import ChurnRisk, FeatureContribution
from stream.core.changes import event_time, output_id, trusted
from stream.core.config import EngineConfig
from stream.core.features import FEATURE_NAMES, churn_features
from stream.core.kernels.churn import (
    GAP,
    OVERDUE,
    Scorer,
    prior_log_odds,
    round4,
    sigmoid,
)
from stream.core.kernels.churn import probability as scored
from stream.core.profile import Profile

BOUNDARIES = (0.33, 0.66)
BANDS = ("low", "medium", "high")
TOP_FEATURES = 3
ROLLING_WINDOW = 1000
_STATE_HEADER = b"stream.churn-model/2\n"
"""Starts every saved state; format 1 (a bare pickle) held features this model cannot read."""


def raw_band(probability: float) -> str:
    """The band without hysteresis.

    >>> raw_band(0.1), raw_band(0.33), raw_band(0.66)
    ('low', 'medium', 'high')
    """
    return BANDS[sum(probability >= b for b in BOUNDARIES)]


def next_band(probability: float, current: str | None, hysteresis: float) -> str:
    """The band after ``probability``: it leaves ``current`` only once ``hysteresis`` past
    a boundary, so a customer hovering around 0.33 or 0.66 does not flap.

    >>> next_band(0.35, "low", 0.03), next_band(0.36, "low", 0.03)
    ('low', 'medium')
    >>> next_band(0.31, "medium", 0.03), next_band(0.30, "medium", 0.03)
    ('medium', 'low')
    >>> next_band(0.9, "low", 0.03), next_band(0.68, "low", 0.03)
    ('high', 'medium')
    """
    if current is None:
        return raw_band(probability)
    level = _LEVELS[current]
    up, down = _hysteresis_bounds(hysteresis)
    while level < len(up) and probability >= up[level]:
        level += 1
    while level > 0 and probability <= down[level - 1]:
        level -= 1
    return BANDS[level]


_LEVELS = {band: level for level, band in enumerate(BANDS)}


@lru_cache(maxsize=8)
def _hysteresis_bounds(hysteresis: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Where a probability leaves a band upwards and downwards, boundary by boundary.

    Rounded so that 0.33 - 0.03 is 0.30, not 0.30000000000000004.
    """
    return (
        tuple(round(b + hysteresis, 9) for b in BOUNDARIES),
        tuple(round(b - hysteresis, 9) for b in BOUNDARIES),
    )


def _log_loss(label: int, probability: float) -> float:
    p = min(max(probability, 1e-6), 1 - 1e-6)
    return -math.log(p if label else 1.0 - p)


def sample_silence_s(customer_id: str, last_purchase_ts: float, horizon_s: float) -> float:
    """The silence at which this gap between purchases gets its first snapshot: uniform in
    ``[0, horizon_s)``, from a hash, so a replay samples the same snapshots."""
    draw = zlib.crc32(f"{customer_id}\x1f{last_purchase_ts!r}".encode()) / 2**32
    return draw * horizon_s


class Snapshot(NamedTuple):
    taken_at: float
    values: tuple[float, ...]
    """The features, in :data:`FEATURE_NAMES` order."""


class Waiting:
    """One partition's snapshots whose horizon has not passed yet: the open ones by customer,
    oldest first, and a heap of the ones a purchase already decided (``0``), which are learnt
    when their horizon passes too. Learning every label at ``taken_at + H`` keeps the labels learnt
    so far a fair sample of the snapshots taken up to H ago; learning a purchase's label at
    once would add, ahead of them, only the recent snapshots that ended in a purchase."""

    __slots__ = ("open", "decided")

    def __init__(self) -> None:
        self.open: OrderedDict[str, Snapshot] = OrderedDict()
        self.decided: list[tuple[Snapshot, int]] = []

    def __len__(self) -> int:
        return len(self.open) + len(self.decided)

    def pop_due(self, due: float) -> tuple[Snapshot, int] | None:
        """The oldest snapshot taken at or before ``due`` and its label (``1`` for an open
        one: no purchase came), or None."""
        open_, decided = self.open, self.decided
        first = next(iter(open_.values())) if open_ else None
        if decided and (first is None or decided[0][0].taken_at <= first.taken_at):
            if decided[0][0].taken_at > due:
                return None
            return heapq.heappop(decided)
        if first is None or first.taken_at > due:
            return None
        open_.popitem(last=False)
        return first, 1


class Learner:
    """River's logistic regression on features standardised by their running mean and
    variance, with both folded into one coefficient per feature for scoring.

    The standardisation is river's ``StandardScaler`` (learn, then transform with the updated
    statistics) kept as two flat lists: the river transformer costs more per label than the
    regression itself, and the label budget is a few tens of microseconds. Scoring reads
    ``b' + sum(k * x)`` with ``k = w / std`` and ``b' = b - sum(k * mean)``, the regression's
    own log-odds, cached until the next label.
    """

    def __init__(self, learning_rate: float, l2: float) -> None:
        # Steps shrink like 1 / sqrt(labels): the label stream is not a stationary sample
        # (on a young shop, or a cohort like CDNOW's, the customers age as labels come in), so
        # a constant step, which tracks the last few thousand labels, forgets what the
        # population at large looks like; drift is met by a challenger instead.
        schedule = optim.schedulers.InverseScaling(learning_rate, power=0.5)
        self.classifier = linear_model.LogisticRegression(
            optimizer=optim.SGD(schedule), l2=l2, intercept_lr=schedule
        )
        self.learned = 0
        self.means = [0.0] * len(FEATURE_NAMES)
        self.squares = [0.0] * len(FEATURE_NAMES)
        """Sum of squared deviations from the running mean (Welford), per feature."""
        self.inverse_stds = [0.0] * len(FEATURE_NAMES)
        """1 / standard deviation, per feature (0 while it has not varied)."""
        self._cache: tuple[list[float], float] | None = None

    def learn(self, values: tuple[float, ...], label: int) -> float:
        """Learn one label; returns the log-odds the model gave it just before, read in the
        same pass (progressive validation without refolding the coefficients per label)."""
        weights = self.classifier.weights
        log_odds = float(self.classifier.intercept)
        self.learned = n = self.learned + 1
        means, squares, inverse_stds = self.means, self.squares, self.inverse_stds
        for i, (name, value) in enumerate(zip(FEATURE_NAMES, values, strict=True)):
            mean = means[i]
            delta = value - mean
            log_odds += weights.get(name, 0.0) * delta * inverse_stds[i]
            means[i] = mean = mean + delta / n
            squares[i] = square = squares[i] + delta * (value - mean)
            inverse_stds[i] = math.sqrt(n / square) if square > 0.0 else 0.0
        self.classifier.learn_one(self.scaled(values), bool(label))
        self._cache = None
        return log_odds

    def scaled(self, values: tuple[float, ...]) -> dict[str, float]:
        """What the regression sees: each feature standardised."""
        found = map(operator.mul, map(operator.sub, values, self.means), self.inverse_stds)
        return dict(zip(FEATURE_NAMES, found, strict=True))

    def _coefficients(self) -> tuple[list[float], float]:
        if self._cache is None:
            weights = self.classifier.weights
            slopes = [
                weights.get(name, 0.0) * scale
                for name, scale in zip(FEATURE_NAMES, self.inverse_stds, strict=True)
            ]
            shift = sum(map(operator.mul, slopes, self.means))
            intercept = float(self.classifier.intercept) - shift
            self._cache = slopes, intercept
        return self._cache

    def contributions(self, values: tuple[float, ...]) -> list[float]:
        """Per feature, how far it moves the log-odds from an average customer's."""
        slopes, _ = self._coefficients()
        return [k * (x - mean) for k, x, mean in zip(slopes, values, self.means, strict=True)]


BINS = 10_001
"""One per probability rounded to 4 places, as served: AUC from these counts is exact."""


class ScoreCounts:
    """Labels counted by the probability predicted for them."""

    __slots__ = ("churned", "stayed")

    def __init__(self) -> None:
        self.churned = [0] * BINS
        self.stayed = [0] * BINS

    def add(self, probability: float, label: int, count: int = 1) -> None:
        (self.churned if label else self.stayed)[round(probability * (BINS - 1))] += count

    def roc_auc(self) -> float:
        """The share of (churner, stayer) pairs ranked the right way round, ties half; NaN
        until both have been seen.

        >>> counts = ScoreCounts()
        >>> for p, y in ((0.9, 1), (0.8, 0), (0.3, 1), (0.1, 0)):
        ...     counts.add(p, y)
        >>> counts.roc_auc()
        0.75
        """
        pairs = 0.0
        below = 0
        for churned, stayed in zip(self.churned, self.stayed, strict=True):
            if churned:
                pairs += churned * (below + 0.5 * stayed)
            below += stayed
        total = sum(self.churned) * below
        return pairs / total if total else math.nan


class Scorecard:
    """Progressive-validation log loss and ROC AUC, overall and over the last ``window``
    labels: a few counter updates per label, the AUCs computed when read."""

    def __init__(self, window: int = ROLLING_WINDOW) -> None:
        self.labels = 0
        self.loss_sum = 0.0
        self.everything = ScoreCounts()
        self.recent = ScoreCounts()
        self.last: deque[tuple[float, int, float]] = deque(maxlen=window)

    def update(self, label: int, probability: float) -> None:
        loss = _log_loss(label, probability)
        self.labels += 1
        self.loss_sum += loss
        self.everything.add(probability, label)
        last = self.last
        if len(last) == last.maxlen:
            old_p, old_label, _ = last[0]
            self.recent.add(old_p, old_label, -1)
        last.append((probability, label, loss))
        self.recent.add(probability, label)

    def figures(self) -> dict[str, float]:
        last = self.last
        return {
            "log_loss": self.loss_sum / self.labels if self.labels else math.nan,
            "roc_auc": self.everything.roc_auc(),
            "rolling_log_loss": math.fsum(x[2] for x in last) / len(last) if last else math.nan,
            "rolling_roc_auc": self.recent.roc_auc(),
        }


def _top(values: tuple[float, ...], contributions: list[float]) -> list[dict[str, Any]]:
    """The ``TOP_FEATURES`` largest contributions by size (ties in :data:`FEATURE_NAMES`
    order), leaving out features that contribute nothing, as the output contract's values."""
    order = sorted(range(len(contributions)), key=lambda i: -abs(contributions[i]))
    return [
        {
            "feature": FEATURE_NAMES[i],
            "value": round(values[i], 4),
            "contribution": round(contributions[i], 4),
        }
        for i in order[:TOP_FEATURES]
        if contributions[i]
    ]


class ChurnModel:
    """The engine's :class:`~stream.core.engine.ChurnAssessor`, learnt online.

    ``warmup_labels``: labels learnt before the model is blended with the prior;
    ``blend_labels``: labels after which it serves alone. ``max_pending``: snapshots held in
    all. ``learning_rate``: the SGD logistic regression's first step (then shrinking like
    ``1 / sqrt(labels)``); ``l2``: its penalty. ``drift_delta``: ADWIN's
    confidence (smaller: fewer, surer alarms); ``challenge_labels``: how long a challenger
    learns, then how long it is compared, after an alarm.
    """

    def __init__(
        self,
        config: EngineConfig,
        *,
        warmup_labels: int = 200,
        blend_labels: int = 3000,
        max_pending: int = 200_000,
        learning_rate: float = 0.05,
        l2: float = 1e-4,
        drift_delta: float = 1e-7,
        challenge_labels: int = 500,
    ) -> None:
        self.config = config
        self.horizon_s = config.churn_horizon_s
        self.warmup_labels = warmup_labels
        self.blend_labels = max(blend_labels, warmup_labels)
        self.max_pending = max_pending
        self.learning_rate = learning_rate
        self.l2 = l2
        self.challenge_labels = challenge_labels
        self.model = Learner(learning_rate, l2)
        self.weight = 0.0
        """The learnt model's share of the log-odds; the prior has the rest."""
        self.challenger: Learner | None = None
        self.challenge_losses = [0.0, 0.0]
        """Log loss of the serving model and the challenger over the comparison labels."""
        self.generation = 1
        self.model_version = "prior/1"
        self.drift = drift.ADWIN(delta=drift_delta)
        self._scorer: Scorer | None = None
        self.waiting: dict[int, Waiting] = {}
        self.pending_count = 0
        self.scorecard = Scorecard()
        self.counts = {
            "snapshots": 0,
            "skipped_full": 0,
            "dropped_stale": 0,
            "labelled": 0,
            "labelled_churned": 0,
            "drift_alarms": 0,
            "drift_resets": 0,
            "dropped_revoked": 0,
        }

    # -- the engine's protocol ----------------------------------------------------------

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
        last = profile.last_purchase_ts
        if last is None:
            return []  # no purchase yet: no churn risk, like no RFM scores
        if not (purchased or rescore or profile.churn_band is None):
            # Page views and other interactions barely move the risk; they are folded in
            # at the customer's next re-evaluation, which keeps the busiest path free.
            return []
        waiting = self.waiting.get(partition)
        if waiting is None:
            waiting = self.waiting[partition] = Waiting()
        customer_id = profile.customer_id
        if purchased:
            snapshot = waiting.open.pop(customer_id, None)
            if snapshot is not None:
                self._decide_by_purchase(waiting, snapshot, cause_ts)
        values = tuple(churn_features(profile, now, self.config).values())
        if customer_id not in waiting.open:
            self._maybe_snapshot(waiting, customer_id, last, now, values)

        probability = self._probability(values)
        old_band = profile.churn_band
        band = next_band(probability, old_band, self.config.churn_hysteresis)
        last_p = profile.churn_probability
        step = self.config.churn_step
        if band == old_band and last_p is not None and abs(probability - last_p) <= step:
            return []
        profile.churn_probability = probability
        profile.churn_band = band
        return [
            trusted(
                ChurnRisk,
                {
                    "schema_version": SCHEMA_VERSION,
                    "event_id": output_id(customer_id, cause_id, "churn"),
                    "customer_id": customer_id,
                    "ts": event_time(cause_ts),
                    "emitted_at": emitted_at,
                    "probability": probability,
                    "band": band,
                    "previous_band": old_band,
                    "horizon_days": max(1, round(self.config.churn_horizon_days)),
                    "model_version": self.model_version,
                    "top_features": self._contributions(values),
                },
            )
        ]

    def drop_partition(self, partition: int) -> None:
        """The partition moved to another worker: its pending snapshots go with it unlabelled
        (the new owner's clock and purchases would label them; this worker no longer sees
        either), counted as ``dropped_revoked``."""
        waiting = self.waiting.pop(partition, None)
        if waiting:
            self.pending_count -= len(waiting)
            self.counts["dropped_revoked"] += len(waiting)

    def advance(self, partition: int, now: float) -> None:
        waiting = self.waiting.get(partition)
        if not waiting:
            return
        # Snapshots are taken at the partition's clock, which never goes back, so both
        # queues yield the oldest first: stop at the first one whose horizon is still open.
        due = now - self.horizon_s
        while (found := waiting.pop_due(due)) is not None:
            self.pending_count -= 1
            snapshot, label = found
            self._learn(snapshot.values, label)

    def next_look(self, profile: Profile, partition: int) -> float:
        # The next snapshot is due at its sampled silence, or once the open one is labelled;
        # scheduling it keeps the sampling even however sparse the re-checks are.
        last = profile.last_purchase_ts
        if last is None:
            return math.inf
        waiting = self.waiting.get(partition)
        snapshot = waiting.open.get(profile.customer_id) if waiting else None
        if snapshot is not None:
            return snapshot.taken_at + self.horizon_s
        return last + sample_silence_s(profile.customer_id, last, self.horizon_s)

    # -- scoring ------------------------------------------------------------------------

    def predict(self, features: dict[str, float]) -> tuple[float, str]:
        """The churn probability (rounded to 4 places) and the version that gave it."""
        return self._probability(tuple(features.values())), self.model_version

    def explain(self, features: dict[str, float]) -> list[FeatureContribution]:
        """The features that moved the log-odds most, largest first."""
        return self._contributions(tuple(features.values()))

    def _probability(self, values: tuple[float, ...]) -> float:
        return float(scored(np.asarray(values), self.scorer()))

    def probability_of(self, values: np.ndarray) -> float:
        """The churn probability of a row of features (rounded to 4 places)."""
        return float(scored(values, self.scorer()))

    def explain_values(self, values: tuple[float, ...]) -> list[dict[str, Any]]:
        """The features that moved the log-odds most, as the output contract's values."""
        return self._explain(values)

    def learn(self, values: tuple[float, ...], label: int) -> None:
        """Learn one resolved snapshot's label (the batch engine keeps the snapshots)."""
        self._learn(values, label)

    def scorer(self) -> Scorer:
        """What the kernels score with: the serving model and the prior's share as now."""
        if self._scorer is None:
            slopes, intercept = self.model._coefficients()
            up, down = _hysteresis_bounds(self.config.churn_hysteresis)
            self._scorer = Scorer(
                np.array(slopes),
                intercept,
                self.weight,
                self.config.churn_horizon_days,
                np.array(BOUNDARIES),
                np.array(up),
                np.array(down),
            )
        return self._scorer

    def _contributions(self, values: tuple[float, ...]) -> list[FeatureContribution]:
        return [trusted(FeatureContribution, found) for found in self._explain(values)]

    def _explain(self, values: tuple[float, ...]) -> list[dict[str, Any]]:
        weight = self.weight
        found = self.model.contributions(values) if weight else [0.0] * len(values)
        if weight < 1.0:
            found = [weight * c for c in found]
            quiet, overdue = prior_log_odds(values, self.config.churn_horizon_days)
            found[GAP] += (1.0 - weight) * quiet
            found[OVERDUE] += (1.0 - weight) * overdue
        return _top(values, found)

    # -- delayed labels -----------------------------------------------------------------

    def _maybe_snapshot(
        self,
        waiting: Waiting,
        customer_id: str,
        last_purchase_ts: float,
        now: float,
        values: tuple[float, ...],
    ) -> None:
        if now - last_purchase_ts < sample_silence_s(customer_id, last_purchase_ts, self.horizon_s):
            return
        if self.pending_count >= self.max_pending:
            self.counts["skipped_full"] += 1
            return
        waiting.open[customer_id] = Snapshot(now, values)
        self.pending_count += 1
        self.counts["snapshots"] += 1

    def _decide_by_purchase(self, waiting: Waiting, snapshot: Snapshot, purchase_ts: float) -> None:
        if purchase_ts < snapshot.taken_at:
            # A late purchase from before the snapshot: its features missed it.
            self.pending_count -= 1
            self.counts["dropped_stale"] += 1
            return
        churned = purchase_ts > snapshot.taken_at + self.horizon_s
        heapq.heappush(waiting.decided, (snapshot, 1 if churned else 0))

    def _learn(self, values: tuple[float, ...], label: int) -> None:
        model = self.model
        z = model.learn(values, label)
        weight = self.weight
        if weight < 1.0:
            prior = sum(prior_log_odds(values, self.config.churn_horizon_days))
            z = prior + weight * (z - prior)
        self._scorer = None
        probability = round4(sigmoid(z))
        self.scorecard.update(label, probability)
        self.counts["labelled"] += 1
        self.counts["labelled_churned"] += label
        if weight == 1.0:
            self._watch(values, label, probability)
        elif model.learned >= self.warmup_labels:
            self.weight = min(1.0, model.learned / self.blend_labels)
            self.model_version = f"logreg/{self.generation}"

    def _watch(self, values: tuple[float, ...], label: int, probability: float) -> None:
        """Raise the alarm on a rising error; run the challenge it starts."""
        challenger = self.challenger
        if challenger is None:
            before = self.drift.estimation
            self.drift.update(abs(label - probability))
            if self.drift.drift_detected and self.drift.estimation > before:
                self.counts["drift_alarms"] += 1
                self.challenger = Learner(self.learning_rate, self.l2)
                self.challenge_losses = [0.0, 0.0]
            return
        compared = challenger.learned >= self.challenge_labels
        z = challenger.learn(values, label)
        if compared:
            losses = self.challenge_losses
            losses[0] += _log_loss(label, probability)
            losses[1] += _log_loss(label, round4(sigmoid(z)))
        if challenger.learned >= 2 * self.challenge_labels:
            self.challenger = None
            self.drift = drift.ADWIN(delta=self.drift.delta)
            if self.challenge_losses[1] < self.challenge_losses[0]:
                self.model = challenger
                self.generation += 1
                self.model_version = f"logreg/{self.generation}"
                self.counts["drift_resets"] += 1

    # -- state --------------------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            **self.scorecard.figures(),
            "prior_share": round(1.0 - self.weight, 4),
            "pending": self.pending_count,
            **self.counts,
        }

    def to_bytes(self) -> bytes:
        """The whole learning state, pending snapshots included (a pickle: trusted storage)."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("config", "_scorer")}
        return _STATE_HEADER + pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes, config: EngineConfig) -> ChurnModel:
        """Resume from :meth:`to_bytes`. Step and hysteresis follow ``config``; the horizon
        must match the saved one, since the labels learnt so far mean "no purchase in H"."""
        if not data.startswith(_STATE_HEADER):
            raise ValueError(
                "the saved churn model is in an older format (its features differ from this "
                "version's); discard it to relearn"
            )
        state = pickle.loads(data[len(_STATE_HEADER) :])
        if state["horizon_s"] != config.churn_horizon_s:
            raise ValueError(
                f"the saved churn model learnt a {state['horizon_s'] / 86_400:g}-day horizon but "
                f"STREAM_ENGINE_CHURN_HORIZON_DAYS is {config.churn_horizon_days:g}; "
                "discard the saved model to relearn"
            )
        model = cls.__new__(cls)
        model.__dict__.update(state)
        model.config = config
        model._scorer = None
        return model
