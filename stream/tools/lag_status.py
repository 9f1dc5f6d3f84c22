"""Consumer-group health from a sliding window of offset observations, the way Burrow judges it.

Burrow (github.com/linkedin/Burrow, "Consumer Lag Evaluation Rules") stores the last N commits
of each partition and needs no lag threshold. Kafka's OffsetFetch gives no commit time, so here
each entry is an *observation* (committed offset and log end at one wall-clock instant), and
"the last commit" is the last time we saw the committed offset move. Rules, per partition,
worst first:

1. ERR when the committed offset or the log end goes backwards (reset, topic recreated), or
   the committed offset is past the log end. Burrow lets a caught-up consumer pass this rule;
   here it does not, since a rewind means records were read twice or skipped.
2. OK when the lag is zero now or at any point in the window (the consumer caught up).
3. STOP when the committed offset did not move in the window and no partition of the group
   moved either: nobody is committing.
4. STALL when the committed offset did not move while other partitions of the group did: the
   consumer is alive and committing, but stuck on this partition.
5. WARN when the offset moves but the lag never decreases from one observation to the next.

A window of fewer than two observations says nothing about trends, so only rules 1-2 apply.
The group's status is its worst partition's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

PartitionKey = tuple[str, int]


class Status(IntEnum):
    """Ordered by severity, so the group's status is ``max`` of its partitions'."""

    OK = 0
    WARN = 1
    STALL = 2
    STOP = 3
    ERR = 4


@dataclass(frozen=True, slots=True)
class Observation:
    """One partition seen at wall time ``at`` (seconds since the epoch)."""

    at: float
    committed: int | None  # None: the group has no commit here and would start at ``start``
    end: int  # log end offset: the offset the next record will get
    start: int = 0  # log start offset

    @property
    def position(self) -> int:
        return self.start if self.committed is None else self.committed

    @property
    def lag(self) -> int:
        return max(self.end - self.position, 0)


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    reason: str


def _frozen(window: Sequence[Observation]) -> bool:
    return all(o.committed == window[0].committed for o in window)


def _went_backwards(window: Sequence[Observation]) -> str | None:
    for before, after in zip(window, window[1:], strict=False):
        if before.committed is not None and (
            after.committed is None or after.committed < before.committed
        ):
            return f"committed offset went back from {before.committed} to {after.committed}"
        if after.end < before.end:
            return f"log end went back from {before.end} to {after.end}"
    last = window[-1]
    if last.committed is not None and last.committed > last.end:
        return f"committed offset {last.committed} is past the log end {last.end}"
    return None


def evaluate_partition(window: Sequence[Observation], group_committing: bool) -> Verdict:
    """Judge one partition; ``group_committing`` says whether any partition moved in the window."""
    if not window:
        return Verdict(Status.OK, "not observed yet")
    backwards = _went_backwards(window)
    if backwards:
        return Verdict(Status.ERR, backwards)
    if any(o.lag == 0 for o in window):
        return Verdict(Status.OK, "caught up")
    if len(window) < 2:
        return Verdict(Status.OK, "one observation: no trend yet")
    span = window[-1].at - window[0].at
    if _frozen(window):
        if not group_committing:
            return Verdict(Status.STOP, f"no commit progress in the group for at least {span:.1f}s")
        return Verdict(Status.STALL, f"offset stuck for {span:.1f}s while the group commits")
    if all(b.lag >= a.lag for a, b in zip(window, window[1:], strict=False)):
        return Verdict(Status.WARN, f"lag never decreased in {span:.1f}s")
    return Verdict(Status.OK, "consuming")


@dataclass(frozen=True)
class GroupVerdict:
    status: Status
    partitions: dict[PartitionKey, Verdict]


def worst(statuses: Iterable[Status]) -> Status:
    return max(statuses, default=Status.OK)


class LagHistory:
    """The last ``size`` observations of each partition of one group, and when each moved.

    Feed it one snapshot of all partitions at a time; a partition missing from a later
    snapshot is reported as ERR rather than silently forgotten.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window size must be at least 1, got {size}")
        self.size = size
        self._windows: dict[PartitionKey, deque[Observation]] = {}
        self._last_moved_at: dict[PartitionKey, float] = {}
        self._snapshots = 0
        self._last_seen: dict[PartitionKey, int] = {}

    def observe(self, snapshot: Mapping[PartitionKey, Observation]) -> None:
        self._snapshots += 1
        for key, observation in snapshot.items():
            window = self._windows.setdefault(key, deque(maxlen=self.size))
            if window and window[-1].committed != observation.committed:
                self._last_moved_at[key] = observation.at
            window.append(observation)
            self._last_seen[key] = self._snapshots

    def window(self, key: PartitionKey) -> tuple[Observation, ...]:
        return tuple(self._windows.get(key, ()))

    def last_moved_at(self, key: PartitionKey) -> float | None:
        """When the committed offset last changed, or None if we never saw it change."""
        return self._last_moved_at.get(key)

    @property
    def partitions(self) -> list[PartitionKey]:
        return sorted(self._windows)

    def evaluate(self) -> GroupVerdict:
        verdicts: dict[PartitionKey, Verdict] = {}
        # Moves at the window's first observation happened before the window: not counted.
        group_committing = any(
            moved > window[0].at
            for key, window in self._windows.items()
            if (moved := self._last_moved_at.get(key)) is not None
        )
        for key, window in self._windows.items():
            if self._last_seen[key] != self._snapshots:
                verdicts[key] = Verdict(Status.ERR, "missing from the latest observation")
            else:
                verdicts[key] = evaluate_partition(tuple(window), group_committing)
        return GroupVerdict(worst(v.status for v in verdicts.values()), verdicts)
