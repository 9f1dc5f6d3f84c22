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
from numba import njit
from numba.core import types
from numba.experimental import structref

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
    # The dimensions last emitted: scores 0 and codes -1 while there are none.
    ("r_score", np.int8, 0),
    ("f_score", np.int8, 0),
    ("m_score", np.int8, 0),
    ("rfm_segment", np.int8, -1),
    ("value_tier", np.int8, -1),
    ("lifecycle_stage", np.int8, -1),
    ("satisfaction", np.int8, -1),
    ("churn_probability", np.float64, NAN),
    ("churn_band", np.int8, -1),
    # Bookkeeping
    ("evaluated_at", np.float64, NAN),
    ("next_due", np.float64, np.inf),
    ("partition", np.int32, -1),
    ("id_hash", np.int64, 0),
    ("sample_s", np.float64, NAN),
    ("snapshot", np.int32, -1),
    ("order_head", np.int32, -1),
    ("order_tail", np.int32, -1),
    ("r_key", np.int64, -1),
    ("f_key", np.int64, -1),
    ("m_key", np.int64, -1),
    ("stamp", np.int64, -1),
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
    r_score: np.ndarray
    f_score: np.ndarray
    m_score: np.ndarray
    rfm_segment: np.ndarray
    value_tier: np.ndarray
    lifecycle_stage: np.ndarray
    satisfaction: np.ndarray
    churn_probability: np.ndarray
    """The last one emitted."""
    churn_band: np.ndarray
    evaluated_at: np.ndarray
    """When the stage and churn risk were last assessed together; the re-check counts from
    here."""
    next_due: np.ndarray
    """When the row must next be evaluated with no input (inf: only on input)."""
    partition: np.ndarray
    id_hash: np.ndarray
    """A stable hash of the customer id: orders customers due at the same instant."""
    sample_s: np.ndarray
    """The silence at which the current gap gets its churn snapshot
    (``stream.core.churn.sample_silence_s``)."""
    snapshot: np.ndarray
    """The open churn snapshot (index into the snapshot pool), -1: none."""
    order_head: np.ndarray
    """First and last of the orders in the rolling window (index into the order pool)."""
    order_tail: np.ndarray
    r_key: np.ndarray
    """The row's keys in the population ranks (``stream.core.scores.rfm_keys``), -1 while
    it is not counted."""
    f_key: np.ndarray
    m_key: np.ndarray
    stamp: np.ndarray
    """Marks rows already collected for re-scoring in one step."""

    @classmethod
    def empty(cls, rows: int) -> Columns:
        return cls(*(np.full(rows, fill, dtype=dtype) for _, dtype, fill in SPEC))

    def ref(self) -> ColumnsRef:
        """The same arrays as one compiled object, for the kernels: they hold it as one
        pointer, where a tuple of forty arrays is copied and reference-counted array by array
        wherever a branch keeps it alive (about half a microsecond per branch, measured)."""
        return _ref(self)

    def grown(self, rows: int) -> Columns:
        """The same rows, and empty ones up to ``rows``."""
        more = Columns.empty(rows - len(self.frequency))
        return Columns(*(np.concatenate(pair) for pair in zip(self, more, strict=True)))


@structref.register
class ColumnsRefType(types.StructRef):
    def preprocess_fields(self, fields):  # type: ignore[no-untyped-def]
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class ColumnsRef(structref.StructRefProxy):
    """:class:`Columns` as the kernels take it (see :meth:`Columns.ref`)."""


structref.define_proxy(ColumnsRef, ColumnsRefType, [name for name, _, _ in SPEC])


@njit(cache=True)
def _ref(c):  # type: ignore[no-untyped-def]
    return ColumnsRef(*c)
