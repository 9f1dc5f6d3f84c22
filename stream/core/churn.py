"""Churn risk: the probability that a customer makes no purchase in the next H days.

A river logistic regression (standard-scaled features from :mod:`stream.core.features`) learns
online from delayed labels. Now and then the model keeps a *snapshot* of a customer's
features at the partition's clock ``t``; the snapshot is labelled once its outcome is known:

- ``0`` when the customer buys again within H days after ``t`` (the engine says so with
  ``purchased=True``),
- ``1`` when the clock passes ``t + H`` with no purchase (:meth:`ChurnModel.advance`).

Memory is bounded: at most one pending snapshot per customer and ``max_pending`` in all (what
does not fit is counted, not kept). A customer is snapshotted at most once per gap between
purchases, at a silence drawn uniformly from ``[0, H)`` by hashing the customer and their last
purchase. Across the population that samples customer-days evenly, which is what the model
is asked about, and a replay samples the same snapshots. Customers already silent for H days
are not sampled: their outcome is rarely in doubt and they would swamp the labels.

Each label is first predicted, then learnt (progressive validation), feeding log loss and
ROC AUC, overall and rolling. ADWIN watches the model's absolute error; when the error rises
a fresh model starts learning in the background and replaces the serving one once warm,
which bumps ``model_version``. Until the first model has learnt ``warmup_labels`` labels the
probability comes from a prior (``model_version`` ``prior/1``): the chance of no purchase in
H days for a Poisson buyer at the customer's usual gap, raised by how overdue they are.

Bands: ``low`` < 0.33 <= ``medium`` < 0.66 <= ``high``; a band only changes once the
probability is ``churn_hysteresis`` past the boundary. A ``customer.churn-risk`` event is
emitted when the band changes or the probability moved by more than ``churn_step`` since the
last one; the profile keeps the last emitted probability and band.
"""

# river's metrics and drift detectors have untyped signatures; only that check is relaxed.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import math
import operator
import pickle
import zlib
from collections import OrderedDict
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from river import (
    drift,
    linear_model,
    metrics,
    optim,
    preprocessing,
    utils,
)

from schemas.inputs import SCHEMA_VERSION
from schemas.outputs import ChurnRisk, FeatureContribution
from stream.core.changes import event_time, output_id, trusted
from stream.core.config import EngineConfig
from stream.core.features import FEATURE_NAMES, churn_features
from stream.core.profile import Profile

BOUNDARIES = (0.33, 0.66)
BANDS = ("low", "medium", "high")
TOP_FEATURES = 3
ROLLING_WINDOW = 1000
PRIOR_OVERDUE_WEIGHT = 1.5
"""Log-odds added per usual gap of silence beyond the first, in the cold-start prior."""
_STATE_FORMAT = 1


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


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1.0 - p))


def sample_silence_s(customer_id: str, last_purchase_ts: float, horizon_s: float) -> float:
    """The silence after which this gap between purchases gets its snapshot: uniform in
    ``[0, horizon_s)``, from a hash, so a replay samples the same snapshots."""
    draw = zlib.crc32(f"{customer_id}\x1f{last_purchase_ts!r}".encode()) / 2**32
    return draw * horizon_s


class Snapshot(NamedTuple):
    taken_at: float
    features: dict[str, float]


class Learner:
    """One river pipeline, plus its scaler and weights folded into one coefficient per feature.

    ``StandardScaler | LogisticRegression`` gives ``b + sum(w * (x - mean) / std)``, which is
    ``b' + sum(k * x)`` with ``k = w / std``: scoring reads those cached coefficients (the same
    result as ``pipeline.predict_proba_one``, several times cheaper); learning drops the cache.
    """

    def __init__(self, learning_rate: float, l2: float) -> None:
        self.scaler = preprocessing.StandardScaler()
        self.classifier = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate), l2=l2)
        self.pipeline = self.scaler | self.classifier
        self.learned = 0
        self._cache: tuple[list[float], list[float], float] | None = None

    def learn(self, features: dict[str, float], label: int) -> None:
        self.pipeline.learn_one(features, bool(label))
        self.learned += 1
        self._cache = None

    def _coefficients(self) -> tuple[list[float], list[float], float]:
        """Per feature of :data:`FEATURE_NAMES` its mean and ``k``, and the folded intercept."""
        if self._cache is None:
            weights = self.classifier.weights
            means: list[float] = []
            slopes: list[float] = []
            intercept = float(self.classifier.intercept)
            for name in FEATURE_NAMES:
                mean = float(self.scaler.means.get(name, 0.0))
                var = float(self.scaler.vars.get(name, 0.0))
                slope = float(weights.get(name, 0.0)) / math.sqrt(var) if var else 0.0
                means.append(mean)
                slopes.append(slope)
                intercept -= slope * mean
            self._cache = means, slopes, intercept
        return self._cache

    def log_odds(self, features: dict[str, float]) -> float:
        _, slopes, intercept = self._coefficients()
        return intercept + math.fsum(map(operator.mul, features.values(), slopes))

    def contributions(self, features: dict[str, float]) -> list[FeatureContribution]:
        means, slopes, _ = self._coefficients()
        return _top(
            [
                (name, value, slope * (value - mean))
                for name, value, mean, slope in zip(
                    FEATURE_NAMES, features.values(), means, slopes, strict=True
                )
            ]
        )


def _top(found: list[tuple[str, float, float]]) -> list[FeatureContribution]:
    """The ``TOP_FEATURES`` largest contributions by size, ties by name."""
    ranked = sorted([(-abs(c), name, value, c) for name, value, c in found])
    return [
        trusted(
            FeatureContribution,
            {"feature": name, "value": round(value, 4), "contribution": round(c, 4)},
        )
        for _, name, value, c in ranked[:TOP_FEATURES]
    ]


class ChurnModel:
    """The engine's :class:`~stream.core.engine.ChurnAssessor`, learnt online.

    ``warmup_labels``: labels learnt before the model replaces the prior (and before a
    background model replaces the serving one). ``max_pending``: snapshots held in all.
    ``learning_rate`` and ``l2``: the SGD logistic regression's (0.01 ranked best of
    0.003-0.1, Adam and Hoeffding/ARF trees on a simulated shop). ``drift_delta``: ADWIN's
    confidence; smaller means fewer, surer resets.
    """

    def __init__(
        self,
        config: EngineConfig,
        *,
        warmup_labels: int = 200,
        max_pending: int = 200_000,
        learning_rate: float = 0.01,
        l2: float = 1e-4,
        drift_delta: float = 0.002,
    ) -> None:
        self.config = config
        self.horizon_s = config.churn_horizon_s
        self.warmup_labels = warmup_labels
        self.max_pending = max_pending
        self.learning_rate = learning_rate
        self.l2 = l2
        self.model = Learner(learning_rate, l2)
        self.background: Learner | None = None
        self.generation = 1
        self.warm = False
        """Whether the serving model has learnt ``warmup_labels`` labels (else: the prior)."""
        self.model_version = "prior/1"
        self.drift = drift.ADWIN(delta=drift_delta)
        self.pending: dict[int, OrderedDict[str, Snapshot]] = {}
        self.pending_count = 0
        self.log_loss = metrics.LogLoss()
        self.roc_auc = metrics.ROCAUC(n_thresholds=50)
        self.rolling_log_loss: Any = utils.Rolling(metrics.LogLoss, window_size=ROLLING_WINDOW)
        self.rolling_roc_auc = metrics.RollingROCAUC(window_size=ROLLING_WINDOW)
        self.counts = {
            "snapshots": 0,
            "skipped_full": 0,
            "dropped_stale": 0,
            "labelled": 0,
            "labelled_churned": 0,
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
        pending = self.pending.get(partition)
        if pending is None:
            pending = self.pending[partition] = OrderedDict()
        customer_id = profile.customer_id
        if purchased:
            snapshot = pending.pop(customer_id, None)
            if snapshot is not None:
                self.pending_count -= 1
                self._resolve_by_purchase(snapshot, cause_ts)
        features = churn_features(profile, now, self.config)
        if customer_id not in pending:
            self._maybe_snapshot(pending, customer_id, last, now, features)

        probability, version = self.predict(features)
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
                    "model_version": version,
                    "top_features": self.explain(features),
                },
            )
        ]

    def drop_partition(self, partition: int) -> None:
        """The partition moved to another worker: its pending snapshots go with it unlabelled
        (the new owner's clock and purchases would label them; this worker no longer sees
        either), counted as ``dropped_revoked``."""
        pending = self.pending.pop(partition, None)
        if pending:
            self.pending_count -= len(pending)
            self.counts["dropped_revoked"] = self.counts.get("dropped_revoked", 0) + len(pending)

    def advance(self, partition: int, now: float) -> None:
        pending = self.pending.get(partition)
        if not pending:
            return
        horizon = self.horizon_s
        # Snapshots are taken at the partition's clock, which never goes back, so the
        # oldest is first: stop at the first one still open.
        while pending:
            snapshot = next(iter(pending.values()))
            if snapshot.taken_at + horizon > now:
                break
            pending.popitem(last=False)
            self.pending_count -= 1
            self._learn(snapshot.features, 1)

    # -- scoring ------------------------------------------------------------------------

    def predict(self, features: dict[str, float]) -> tuple[float, str]:
        """The churn probability (rounded to 4 places) and the version that gave it."""
        if self.warm:
            z = self.model.log_odds(features)
        else:
            z = sum(c for _, _, c in self._prior_terms(features))
        return round(_sigmoid(z), 4), self.model_version

    def explain(self, features: dict[str, float]) -> list[FeatureContribution]:
        """The features that moved the log-odds most, largest first."""
        if self.warm:
            return self.model.contributions(features)
        return _top(self._prior_terms(features))

    def _prior_terms(self, features: dict[str, float]) -> list[tuple[str, float, float]]:
        gap = features["usual_gap_days"]
        overdue = features["overdue_ratio"]
        no_purchase = math.exp(-self.config.churn_horizon_days / gap)
        return [
            ("usual_gap_days", gap, _logit(no_purchase)),
            ("overdue_ratio", overdue, PRIOR_OVERDUE_WEIGHT * max(0.0, overdue - 1.0)),
        ]

    # -- delayed labels -----------------------------------------------------------------

    def _maybe_snapshot(
        self,
        pending: OrderedDict[str, Snapshot],
        customer_id: str,
        last_purchase_ts: float,
        now: float,
        features: dict[str, float],
    ) -> None:
        silence = now - last_purchase_ts
        if silence >= self.horizon_s:
            return
        if silence < sample_silence_s(customer_id, last_purchase_ts, self.horizon_s):
            return
        if self.pending_count >= self.max_pending:
            self.counts["skipped_full"] += 1
            return
        pending[customer_id] = Snapshot(now, features)
        self.pending_count += 1
        self.counts["snapshots"] += 1

    def _resolve_by_purchase(self, snapshot: Snapshot, purchase_ts: float) -> None:
        if purchase_ts < snapshot.taken_at:
            # A late purchase from before the snapshot: its features missed it.
            self.counts["dropped_stale"] += 1
            return
        churned = purchase_ts > snapshot.taken_at + self.horizon_s
        self._learn(snapshot.features, 1 if churned else 0)

    def _learn(self, features: dict[str, float], label: int) -> None:
        probability, _ = self.predict(features)
        clipped = min(max(probability, 1e-6), 1 - 1e-6)
        self.log_loss.update(label, clipped)
        self.rolling_log_loss.update(label, clipped)
        self.roc_auc.update(label, probability)
        self.rolling_roc_auc.update(label, probability)
        self.counts["labelled"] += 1
        self.counts["labelled_churned"] += label
        if self.warm:
            self._watch_error(abs(label - probability))
        self.model.learn(features, label)
        background = self.background
        if background is not None:
            background.learn(features, label)
            if background.learned >= self.warmup_labels:
                self.model = background
                self.background = None
                self.generation += 1
                self.model_version = f"logreg/{self.generation}"
        elif not self.warm and self.model.learned >= self.warmup_labels:
            self.warm = True
            self.model_version = f"logreg/{self.generation}"

    def _watch_error(self, error: float) -> None:
        before = self.drift.estimation
        self.drift.update(error)
        if self.drift.drift_detected and self.drift.estimation > before:
            self.counts["drift_resets"] += 1
            self.background = Learner(self.learning_rate, self.l2)

    # -- state --------------------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "log_loss": float(self.log_loss.get()),
            "roc_auc": float(self.roc_auc.get()),
            "rolling_log_loss": float(self.rolling_log_loss.get()),
            "rolling_roc_auc": float(self.rolling_roc_auc.get()),
            "pending": self.pending_count,
            **self.counts,
        }

    def to_bytes(self) -> bytes:
        """The whole learning state, pending snapshots included (a pickle: trusted storage)."""
        state = {k: v for k, v in self.__dict__.items() if k != "config"}
        return pickle.dumps((_STATE_FORMAT, state), protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes, config: EngineConfig) -> ChurnModel:
        """Resume from :meth:`to_bytes`. Step and hysteresis follow ``config``; the horizon
        must match the saved one, since the labels learnt so far mean "no purchase in H"."""
        version, state = pickle.loads(data)
        if version != _STATE_FORMAT:
            raise ValueError(f"churn model state format {version} is not {_STATE_FORMAT}")
        if state["horizon_s"] != config.churn_horizon_s:
            raise ValueError(
                f"the saved churn model learnt a {state['horizon_s'] / 86_400:g}-day horizon but "
                f"STREAM_ENGINE_CHURN_HORIZON_DAYS is {config.churn_horizon_days:g}; "
                "discard the saved model to relearn"
            )
        model = cls.__new__(cls)
        model.__dict__.update(state)
        model.config = config
        return model
