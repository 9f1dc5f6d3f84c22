"""What workers share of their buyers on ``customer.population``, so each scores against all.

One snapshot per input partition (key ``APP_ID:PARTITION``, compacted): how many of the
partition's buyers fall in each bucket of last purchase, purchase count and spend. A worker
scores its own buyers exactly and everyone else's from the latest snapshots of the partitions
it does not hold.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.inputs import SCHEMA_VERSION


class Buckets(BaseModel):
    """Buyers per bucket, the buckets ascending and each given as its distance from the one
    before (the first from 0), which keeps a dense run of hours a few bytes each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gaps: list[int] = Field(description="Each bucket's number minus the previous one's")
    counts: list[int] = Field(description="Buyers in each bucket (at least 1), in that order")

    @model_validator(mode="after")
    def _aligned(self) -> Self:
        if len(self.gaps) != len(self.counts):
            raise ValueError(f"{len(self.gaps)} gaps but {len(self.counts)} counts")
        if self.gaps and (self.gaps[0] < 0 or min(self.gaps[1:], default=1) < 1):
            raise ValueError("buckets must ascend, each once: the first gap >= 0, then >= 1")
        if any(c < 1 for c in self.counts):
            raise ValueError("counts must be >= 1")
        return self

    @classmethod
    def of(cls, counts: dict[int, int]) -> Buckets:
        ordered = sorted(counts)
        gaps = [b - a for a, b in zip([0, *ordered], ordered, strict=False)]
        return cls(gaps=gaps, counts=[counts[b] for b in ordered])

    def as_dict(self) -> dict[int, int]:
        return dict(zip(accumulate(self.gaps), self.counts, strict=True))


class PopulationSnapshot(BaseModel):
    """One partition's buyers, as bucket counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    app_id: str = Field(description="STREAM_APP_ID of the workers that share these counts")
    partition: int = Field(ge=0, description="The input partition these buyers belong to")
    partitions: int = Field(ge=1, description="How many partitions the input topics have")
    published_at: AwareDatetime
    clock: AwareDatetime | None = Field(
        description="The partition's event-time clock the counts are as of (null: no event yet)"
    )
    buyers: int = Field(ge=0)
    last_purchase: Buckets = Field(
        description="Buyers per hour of their last purchase (hours since 1970-01-01 UTC)"
    )
    frequency: Buckets = Field(description="Buyers per purchase count")
    spend: Buckets = Field(
        description="Buyers per 1% of spend: bucket floor(100 * ln(1 + spend in cents))"
    )

    @model_validator(mode="after")
    def _whole(self) -> Self:
        if self.partition >= self.partitions:
            raise ValueError(f"partition {self.partition} of only {self.partitions}")
        for name in ("last_purchase", "frequency", "spend"):
            counted = sum(getattr(self, name).counts)
            if counted != self.buyers:
                raise ValueError(f"{name} counts {counted} buyers, not {self.buyers}")
        return self
