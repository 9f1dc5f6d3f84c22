"""The engine's settings as the kernels read them: one tuple of floats.

Numba compiles a kernel once per argument type, and a named tuple of floats is one type
whatever the values, so every setting reaches the kernels as :class:`Params` and a change of
setting never recompiles.
"""

from __future__ import annotations

from typing import NamedTuple

from stream.core.config import DAY, EngineConfig

RECENT_TAU_S = 30 * DAY
"""Time constant of the decayed spend, purchase and engagement sums ("the last 30 days")."""


class Params(NamedTuple):
    churn_horizon_s: float
    growing_tenure_s: float
    prior_gap_s: float
    """The population prior for the usual gap, in seconds."""
    prior_weight: float
    declining_overdue_ratio: float
    declining_spend_ratio: float
    declining_min_interactions: float
    growing_rate_ratio: float


def params(config: EngineConfig) -> Params:
    return Params(
        churn_horizon_s=config.churn_horizon_s,
        growing_tenure_s=config.growing_tenure_days * DAY,
        prior_gap_s=config.prior_gap_days * DAY,
        prior_weight=config.prior_weight,
        declining_overdue_ratio=config.declining_overdue_ratio,
        declining_spend_ratio=config.declining_spend_ratio,
        declining_min_interactions=float(config.declining_min_interactions),
        growing_rate_ratio=config.growing_rate_ratio,
    )
