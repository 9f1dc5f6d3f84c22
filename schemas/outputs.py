"""Output event contracts: segment changes, churn risk and dead letters (DOMAIN.md, "Outputs").

Every output has a deterministic ``event_id`` (same input history, same ids), the event time
``ts`` that caused it and ``emitted_at``, the wall time it was produced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.inputs import SCHEMA_VERSION

Dimension = Literal["rfm_segment", "value_tier", "lifecycle_stage", "satisfaction"]
RfmSegment = Literal[
    "lost",
    "hibernating",
    "at_risk",
    "cant_lose_them",
    "about_to_sleep",
    "need_attention",
    "loyal",
    "promising",
    "new_customers",
    "potential_loyalist",
    "champions",
]
ValueTier = Literal["vip", "major", "ordinary", "small"]
LifecycleStage = Literal[
    "prospect", "new", "growing", "mature", "declining", "churned", "reactivated"
]
Satisfaction = Literal["promoter", "passive", "detractor"]
SegmentValue = Literal[RfmSegment, ValueTier, LifecycleStage, Satisfaction]
ChurnBand = Literal["low", "medium", "high"]
Score = int


class OutputEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(description="Deterministic: a hash of the cause, stable across replays")
    customer_id: str
    ts: AwareDatetime = Field(description="Event time of what caused this output")
    emitted_at: AwareDatetime = Field(description="Wall-clock time the worker produced it")


VALUES: dict[str, tuple[str, ...]] = {
    "rfm_segment": get_args(RfmSegment),
    "value_tier": get_args(ValueTier),
    "lifecycle_stage": get_args(LifecycleStage),
    "satisfaction": get_args(Satisfaction),
}
"""Each dimension's values."""


def _values_per_dimension(schema: dict[str, Any]) -> None:
    """In the JSON Schema too, ``from`` and ``to`` take the values of their dimension."""
    schema["allOf"] = [
        {
            "if": {"properties": {"dimension": {"const": dimension}}},
            "then": {
                "properties": {
                    "from": {"enum": [*values, None]},
                    "to": {"enum": [*values, None]},
                }
            },
        }
        for dimension, values in VALUES.items()
    ]


class SegmentChange(OutputEvent):
    """A profile dimension moved from one value to another."""

    model_config = ConfigDict(json_schema_extra=_values_per_dimension)

    dimension: Dimension
    from_: SegmentValue | None = Field(alias="from", description="Previous value (null: none yet)")
    to: SegmentValue | None = Field(description="New value")
    recency_days: float | None
    frequency: int
    monetary: float
    r_score: Score | None = Field(ge=1, le=5)
    f_score: Score | None = Field(ge=1, le=5)
    m_score: Score | None = Field(ge=1, le=5)
    reason: str

    @model_validator(mode="after")
    def _values_of_the_dimension(self) -> SegmentChange:
        values = VALUES[self.dimension]
        for name, value in (("from", self.from_), ("to", self.to)):
            if value is not None and value not in values:
                raise ValueError(
                    f"{name} {value!r} is not a {self.dimension} value ({', '.join(values)})"
                )
        return self


class FeatureContribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str
    value: float
    contribution: float = Field(description="Signed contribution to the churn log-odds")


class ChurnRisk(OutputEvent):
    """The churn probability crossed a band boundary or moved by more than the set step."""

    probability: float = Field(ge=0, le=1)
    band: ChurnBand
    previous_band: ChurnBand | None
    horizon_days: int = Field(ge=1)
    model_version: str
    top_features: list[FeatureContribution]


class DeadLetterSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    partition: int | None = None
    offset: int | None = None
    timestamp: datetime | None = Field(default=None, description="Broker timestamp, if any")
    line: int | None = Field(default=None, description="Line number when read from a file")


class DeadLetter(BaseModel):
    """Input that was rejected, with the original bytes and a readable reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(description="Deterministic: a hash of the source position")
    emitted_at: AwareDatetime
    source: DeadLetterSource
    reason: str
    original_base64: str = Field(description="The original value bytes, base64-encoded")
    original_key: str | None = Field(default=None, description="The original key, if UTF-8")
