"""The customer profile as others see it: profile lookup and the ``customer.profiles`` topic."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.inputs import SCHEMA_VERSION
from schemas.outputs import ChurnBand, LifecycleStage, RfmSegment, Satisfaction, ValueTier


class CustomerProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    customer_id: str
    as_of: AwareDatetime = Field(description="The partition clock the profile was evaluated at")
    first_seen: AwareDatetime
    last_event: AwareDatetime
    first_purchase: AwareDatetime | None
    last_purchase: AwareDatetime | None
    recency_days: float | None
    frequency: int = Field(ge=0)
    monetary: float = Field(ge=0)
    r_score: int | None = Field(ge=1, le=5)
    f_score: int | None = Field(ge=1, le=5)
    m_score: int | None = Field(ge=1, le=5)
    rfm_segment: RfmSegment | None
    value_tier: ValueTier | None
    lifecycle_stage: LifecycleStage | None
    satisfaction: Satisfaction | None
    nps: int | None = Field(ge=0, le=10)
    csat: int | None = Field(ge=1, le=5)
    interactions: dict[str, int]
    complaints: int = Field(ge=0)
    churn_probability: float | None = Field(ge=0, le=1)
    churn_band: ChurnBand | None
