"""Turning a profile's moved dimensions into output events with deterministic ids.

The id hashes the customer, the cause (an input ``event_id``, or the clock time of a tick)
and what changed, so replaying the same input history yields the same ids and a consumer
can de-duplicate after a restart.

Outputs are built with :func:`trusted`, which skips pydantic's validation: every value comes
from a validated input or from the engine's own bounded arithmetic (scores 1-5, known
segment names, rounded probabilities), and validating hundreds of thousands of them was the
engine's largest single cost. The contract tests validate a sample of real outputs against
the models and the committed JSON Schemas.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel

from schemas.inputs import SCHEMA_VERSION
from schemas.outputs import SegmentChange
from stream.core.profile import Profile
from stream.core.rfm import recency_days, spend

Model = TypeVar("Model", bound=BaseModel)

_set = object.__setattr__
_fields_set: dict[type[BaseModel], frozenset[str]] = {}


def trusted(model: type[Model], values: dict[str, Any]) -> Model:
    """``model(**values)`` without validation, for values known to be valid.

    ``values`` holds every field, in the model's field order (which is the JSON order), with
    the types validation would have produced (floats for float fields, aware datetimes).
    """
    made = object.__new__(model)
    fields_set = _fields_set.get(model)
    if fields_set is None:
        # A default, as validation would leave it.
        fields_set = _fields_set[model] = frozenset(model.model_fields) - {"schema_version"}
    _set(made, "__dict__", values)
    _set(made, "__pydantic_fields_set__", set(fields_set))
    _set(made, "__pydantic_extra__", None)
    _set(made, "__pydantic_private__", None)
    return made


def output_id(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


@lru_cache(maxsize=1024)
def event_time(ts: float) -> datetime:
    """The aware datetime of an event time; a tick's outputs all share one."""
    return datetime.fromtimestamp(ts, tz=UTC)


Move = tuple[str, str | None, str | None, str]
"""A moved dimension: its name, old value, new value and the reason."""


def segment_changes(
    profile: Profile,
    moves: list[Move],
    *,
    now: float,
    cause_id: str,
    cause_ts: float,
    emitted_at: datetime,
) -> list[SegmentChange]:
    """One output per moved dimension, all carrying the profile's values as they are now."""
    customer_id = profile.customer_id
    ts = event_time(cause_ts)
    recency = recency_days(profile, now)
    frequency = profile.frequency
    monetary = float(round(spend(profile), 2))
    r_score, f_score, m_score = profile.r_score, profile.f_score, profile.m_score
    return [
        trusted(
            SegmentChange,
            {
                "schema_version": SCHEMA_VERSION,
                "event_id": output_id(customer_id, cause_id, dimension, str(old), str(new)),
                "customer_id": customer_id,
                "ts": ts,
                "emitted_at": emitted_at,
                "dimension": dimension,
                "from_": old,
                "to": new,
                "recency_days": recency,
                "frequency": frequency,
                "monetary": monetary,
                "r_score": r_score,
                "f_score": f_score,
                "m_score": m_score,
                "reason": reason,
            },
        )
        for dimension, old, new, reason in moves
    ]
