"""Per-partition event-time clock (DOMAIN.md, "The clock").

The clock is the watermark: the largest event time seen on the partition minus the allowed
lateness. In live mode the shell also offers wall time, so a quiet partition still moves on and
silent customers are re-evaluated; the clock never goes backwards.

>>> clock = PartitionClock(lateness_s=60)
>>> clock.observe(1000.0); clock.now
940.0
>>> clock.observe(500.0); clock.now
940.0
>>> clock.advance_to_wall(2000.0); clock.now
1940.0
"""

from __future__ import annotations

import math


class PartitionClock:
    __slots__ = ("lateness_s", "now")

    def __init__(self, lateness_s: float) -> None:
        self.lateness_s = lateness_s
        self.now = -math.inf

    def observe(self, event_ts: float) -> None:
        watermark = event_ts - self.lateness_s
        if watermark > self.now:
            self.now = watermark

    def advance_to_wall(self, wall_ts: float) -> None:
        self.observe(wall_ts)
