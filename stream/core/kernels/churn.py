"""Churn risk scored in the kernels from the river model's current coefficients.

Learning stays in river (:class:`stream.core.churn.ChurnModel`); what the kernels need of it
is a :class:`Scorer`: the learnt model's log-odds as one slope per raw feature and an
intercept (``Learner`` folds the standardisation into them), the learnt model's share of the
log-odds against the cold-start prior, and the band bounds. :func:`probability` and
:func:`band` then give, bit for bit, what ``ChurnModel`` gives in Python.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from stream.core.features import FEATURE_NAMES

GAP = FEATURE_NAMES.index("usual_gap_log")
OVERDUE = FEATURE_NAMES.index("overdue_log")
PRIOR_OVERDUE_WEIGHT = 1.5
"""Log-odds added per usual gap of silence beyond the first, in the cold-start prior."""


class Scorer(NamedTuple):
    slopes: np.ndarray
    """float64 per feature: the learnt model's log-odds per unit of the raw feature."""
    intercept: float
    weight: float
    """The learnt model's share of the log-odds; the prior has the rest."""
    horizon_days: float
    boundaries: np.ndarray
    """float64 (2,): the low/medium and medium/high boundaries."""
    up: np.ndarray
    """float64 (2,): where a probability leaves the low and medium bands upwards."""
    down: np.ndarray
    """float64 (2,): where it leaves the medium and high bands downwards."""


@njit(cache=True)
def round4(x: float) -> float:
    """``round(x, 4)`` as CPython rounds: the exact decimal value, half to even.

    ``x * 10**4`` is held exactly as ``p + e`` (Dekker's product; 10**4 needs no split), so
    which side of a half the true product lies on is decided without rounding error.
    """
    c = 134217729.0 * x
    hi = c - (c - x)
    lo = x - hi
    p = x * 10000.0
    e = (hi * 10000.0 - p) + lo * 10000.0
    n = float(math.floor(p))
    above = (p - n) - 0.5
    if above > -e or (above == -e and n % 2.0 == 1.0):
        n += 1.0
    return n / 10000.0


@njit(cache=True)
def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1.0 - p))


@njit(cache=True)
def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(cache=True)
def prior_log_odds(values, horizon_days: float):  # type: ignore[no-untyped-def]
    """The cold-start prior's two terms: no purchase in H days for a Poisson buyer at the
    usual gap, and ``PRIOR_OVERDUE_WEIGHT`` per usual gap overdue beyond one."""
    overdue = math.expm1(values[OVERDUE])
    quiet = logit(math.exp(-horizon_days / math.exp(values[GAP])))
    return quiet, PRIOR_OVERDUE_WEIGHT * (overdue - 1.0) if overdue > 1.0 else 0.0


@njit(cache=True)
def _learnt(values, scorer: Scorer) -> float:  # type: ignore[no-untyped-def]
    weighted = 0.0
    for k in range(len(values)):
        weighted += values[k] * scorer.slopes[k]
    return scorer.intercept + weighted


@njit(cache=True)
def probability(values, scorer: Scorer) -> float:  # type: ignore[no-untyped-def]
    """The churn probability of one row of features, rounded to 4 places."""
    weight = scorer.weight
    if weight == 1.0:
        z = _learnt(values, scorer)
    else:
        quiet, overdue = prior_log_odds(values, scorer.horizon_days)
        z = quiet + overdue
        if weight:
            z += weight * (_learnt(values, scorer) - z)
    return round4(sigmoid(z))


@njit(cache=True)
def band(p: float, current: int, scorer: Scorer) -> int:
    """The band after ``p`` (0 low, 1 medium, 2 high): it leaves ``current`` (-1: none yet)
    only once past a boundary by the hysteresis."""
    if current < 0:
        return int(p >= scorer.boundaries[0]) + int(p >= scorer.boundaries[1])
    level = current
    while level < 2 and p >= scorer.up[level]:
        level += 1
    while level > 0 and p <= scorer.down[level - 1]:
        level -= 1
    return level
