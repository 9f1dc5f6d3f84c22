"""How well a cutoff state predicted what happened next: ``stream backtest``'s figures.

The question is the churn model's: did a customer who had bought before the cutoff make no
purchase within the horizon after it? Three rankings answer it:

- the engine's churn probability at the cutoff, its ``high`` band, and the lifecycle stages
  ``declining``/``churned``;
- recency alone (days since the last purchase), the baseline any model should beat; for
  precision and recall it flags the customers with the longest silences, as many as the
  ``high`` band holds (ties at the threshold all flagged, so it may flag a few more);
- a batch BG/NBD model (Fader, Hardie and Lee, 2005) fitted by maximum likelihood on the same
  history, the classic "buy till you die" benchmark: its probability of no purchase in the
  horizon, flagged like recency.

ROC AUC is the probability that a random churner is ranked above a random customer who bought
again (ties count half), so 0.5 is a coin and 1 is perfect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special, stats

Floats = NDArray[np.float64]
Flags = NDArray[np.bool_]
DECLINING = ("declining", "churned")


def roc_auc(scores: Sequence[float] | Floats, churned: Sequence[bool] | Flags) -> float | None:
    """Area under the ROC curve of ``scores`` (higher = more likely to churn); None with only
    one class.

    >>> roc_auc([0.9, 0.8, 0.3, 0.1], [True, False, True, False])
    0.75
    >>> roc_auc([1, 1, 0], [True, False, False])
    0.75
    """
    scores = np.asarray(scores, dtype=float)
    churned = np.asarray(churned, dtype=bool)
    positives = int(churned.sum())
    negatives = len(churned) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = stats.rankdata(scores)  # ties get their average rank: they count half
    wins = ranks[churned].sum() - positives * (positives + 1) / 2
    return float(wins / (positives * negatives))


@dataclass(frozen=True)
class Hits:
    flagged: int
    precision: float | None
    """Share of the flagged customers who churned (None when nobody is flagged)."""
    recall: float | None
    """Share of the churners who were flagged (None when nobody churned)."""

    @classmethod
    def of(cls, flags: Flags, churned: Flags) -> Hits:
        flagged = int(flags.sum())
        hits = int((flags & churned).sum())
        positives = int(churned.sum())
        return cls(
            flagged,
            hits / flagged if flagged else None,
            hits / positives if positives else None,
        )


def top(scores: Floats, count: int) -> tuple[Flags, float | None]:
    """Flag the ``count`` highest scores, and every score tied with the last of them."""
    if count <= 0:
        return np.zeros(len(scores), dtype=bool), None
    threshold = float(np.sort(scores)[::-1][min(count, len(scores)) - 1])
    return scores >= threshold, threshold


# -- BG/NBD -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repeats:
    """Each buyer's history in BG/NBD terms, in days: ``x`` repeat purchase days (distinct
    days with a purchase, less the first), ``t_x`` the last purchase's and ``age`` (``T``) the
    cutoff's time since the first purchase."""

    x: Floats
    t_x: Floats
    age: Floats


@dataclass(frozen=True)
class BgNbd:
    """A fitted BG/NBD model: purchase rates ~ Gamma(r, alpha) per day, and after each
    purchase a customer drops out with a probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def fit(cls, history: Repeats) -> BgNbd:
        """Maximum likelihood (Nelder-Mead on the log parameters)."""
        x, t_x, age = history.x, history.t_x, history.age
        if len(x) == 0:
            raise ValueError("BG/NBD needs at least one buyer")

        def loss(log_params: Floats) -> float:
            value = -_log_likelihood(np.exp(log_params), x, t_x, age).sum()
            return float(value) if math.isfinite(value) else math.inf

        start = np.log([1.0, max(float(np.mean(age)), 1.0) / 4, 1.0, 1.0])
        found = optimize.minimize(
            loss,
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-7, "fatol": 1e-7, "maxiter": 10_000, "maxfev": 20_000},
        )
        r, alpha, a, b = (float(v) for v in np.exp(found.x))
        return cls(r, alpha, a, b)

    def p_alive(self, history: Repeats) -> Floats:
        x, t_x, age = history.x, history.t_x, history.age
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        ratio = np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + t_x)))
        odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * ratio, 0.0)
        return np.asarray(1.0 / (1.0 + odds), dtype=float)

    def p_no_purchase(self, history: Repeats, days: float) -> Floats:
        """P(no purchase in the next ``days``): gone, or alive with a quiet Poisson spell
        (BG/NBD customers only drop out right after a purchase)."""
        alive = self.p_alive(history)
        quiet = ((self.alpha + history.age) / (self.alpha + history.age + days)) ** (
            self.r + history.x
        )
        return np.asarray(1.0 - alive + alive * quiet, dtype=float)

    def expected_purchases(self, history: Repeats, days: float) -> Floats:
        """E[purchases in the next ``days``] (the paper's conditional expectation)."""
        x, t_x, age = history.x, history.t_x, history.age
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        shrink = ((alpha + age) / (alpha + age + days)) ** (r + x)
        series = special.hyp2f1(r + x, b + x, a + b + x - 1, days / (alpha + age + days))
        ratio = np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + t_x)))
        odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * ratio, 0.0)
        return np.asarray((a + b + x - 1) / (a - 1) * (1 - shrink * series) / (1 + odds))


def _log_likelihood(params: Floats, x: Floats, t_x: Floats, age: Floats) -> Floats:
    r, alpha, a, b = params
    common = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    silent = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + age)
    repeat = np.maximum(x, 1.0)  # the dropout term only exists for repeat buyers
    gone = np.where(
        x > 0,
        special.betaln(a + 1, b + repeat - 1)
        - special.betaln(a, b)
        - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return np.asarray(common + np.logaddexp(silent, gone))


# -- the comparison -----------------------------------------------------------------------


@dataclass(frozen=True)
class Buyers:
    """Every customer with a purchase before the cutoff: the cutoff state and the outcome."""

    churned: Flags
    """No purchase within the horizon after the cutoff."""
    probability: Floats
    band: Sequence[str]
    stage: Sequence[str]
    recency_days: Floats
    repeats: Repeats


def evaluate(buyers: Buyers, horizon_days: float) -> dict[str, Any]:
    churned = buyers.churned
    high = np.array([band == "high" for band in buyers.band], dtype=bool)
    declining = np.array([stage in DECLINING for stage in buyers.stage], dtype=bool)
    count = int(high.sum())
    recency_flags, recency_threshold = top(buyers.recency_days, count)
    return {
        "buyers": len(churned),
        "churned": int(churned.sum()),
        "churn_rate": float(churned.mean()) if len(churned) else None,
        "churn_probability": {
            "auc": roc_auc(buyers.probability, churned),
            "high_band": vars(Hits.of(high, churned)),
            "declining_or_churned": vars(Hits.of(declining, churned)),
        },
        "recency": {
            "auc": roc_auc(buyers.recency_days, churned),
            "threshold_days": recency_threshold,
            **vars(Hits.of(recency_flags, churned)),
        },
        "bgnbd": _bgnbd(buyers, horizon_days, count),
    }


def _bgnbd(buyers: Buyers, horizon_days: float, count: int) -> dict[str, Any]:
    if len(buyers.churned) == 0:
        return {"error": "no buyers"}
    model = BgNbd.fit(buyers.repeats)
    p_none = model.p_no_purchase(buyers.repeats, horizon_days)
    expected = model.expected_purchases(buyers.repeats, horizon_days)
    flags, threshold = top(p_none, count)
    churned = buyers.churned
    return {
        "params_per_day": vars(model),
        "auc": roc_auc(p_none, churned),
        "auc_expected_purchases": roc_auc(-expected, churned),
        "threshold": threshold,
        **vars(Hits.of(flags, churned)),
    }
