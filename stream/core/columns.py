"""Every customer's state as typed numpy columns indexed by a dense slot.

One Python object per customer cost about 2 kB and made every update branch in Python; here a
customer is one row across these arrays (about 200 bytes), and the kernels
(:mod:`stream.core.kernels`) update whole batches of rows without leaving compiled code.
Missing times are NaN, missing survey scores -1, and a dimension not set yet -1 (its codes are
the positions in :data:`schemas.outputs.VALUES`).

>>> columns = Columns.empty(2)
>>> columns.frequency.dtype, len(columns.last_purchase_ts), columns.nps[0]
(dtype('int64'), 2, -1)
>>> grown = columns.grown(5)
>>> len(grown.frequency), bool(np.isnan(grown.last_purchase_ts[4]))
(5, True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

NAN = np.nan

# (name, dtype, value of an empty row)
SPEC: tuple[tuple[str, type, float], ...] = (
    ("first_seen_ts", np.float64, NAN),
    ("last_event_ts", np.float64, NAN),
    ("first_purchase_ts", np.float64, NAN),
    ("last_purchase_ts", np.float64, NAN),
    ("previous_purchase_ts", np.float64, NAN),
    ("frequency", np.int64, 0),
    ("purchases", np.int64, 0),
    ("monetary", np.float64, 0.0),
    ("spend_recent", np.float64, 0.0),
    ("purchases_recent", np.float64, 0.0),
    ("recent_at", np.float64, NAN),
    ("interactions", np.int64, 0),
    ("complaints", np.int64, 0),
    ("engagement_recent", np.float64, 0.0),
    ("engagement_at", np.float64, NAN),
    ("nps", np.int64, -1),
    ("csat", np.int64, -1),
    ("survey_ts", np.float64, NAN),
)


class Columns(NamedTuple):
    first_seen_ts: np.ndarray
    last_event_ts: np.ndarray
    first_purchase_ts: np.ndarray
    last_purchase_ts: np.ndarray
    previous_purchase_ts: np.ndarray
    """The latest purchase time before the last one, whatever the arrival order: a gap of the
    churn horizon between the two makes the customer reactivated."""
    frequency: np.ndarray
    purchases: np.ndarray
    """Purchases ever made, refunds not counted: the cadence reads these, so a rolling window
    that trims ``frequency`` does not make a one-time buyer look new again."""
    monetary: np.ndarray
    spend_recent: np.ndarray
    purchases_recent: np.ndarray
    recent_at: np.ndarray
    interactions: np.ndarray
    complaints: np.ndarray
    engagement_recent: np.ndarray
    engagement_at: np.ndarray
    nps: np.ndarray
    csat: np.ndarray
    survey_ts: np.ndarray

    @classmethod
    def empty(cls, rows: int) -> Columns:
        return cls(*(np.full(rows, fill, dtype=dtype) for _, dtype, fill in SPEC))

    def grown(self, rows: int) -> Columns:
        """The same rows, and empty ones up to ``rows``."""
        more = Columns.empty(rows - len(self.frequency))
        return Columns(*(np.concatenate(pair) for pair in zip(self, more, strict=True)))
