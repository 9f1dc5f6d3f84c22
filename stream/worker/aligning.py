"""Merging a worker's input partitions in event time, across fetches.

The engine's clock is the partition's watermark: the latest event time seen on any of its
topics. The consumer reads each topic at its own pace, though, and a backlog (a replayed
history, a worker catching up after an outage) can bring a year of page views before the
purchases made in it: the clock would run ahead on them, and customers whose purchases were
still unread would be announced as churned. Across partitions likewise: every customer is
scored against one population, so a backlog handled a partition at a time would rank one
partition's January buyers against another's whole year, and what each is announced as (and
under which ids) would depend on how the fetches happened to split. So the records wait here,
each topic partition's in offset order, and leave in event-time order for as long as every
topic partition of the worker either has records waiting too or has nothing more to read now.

Two limits keep a topic that never catches up from holding the others for ever: the records
go anyway once the topic partitions they wait for have brought nothing for ``max_wait_s`` (a
topic still bringing records is worth waiting for, however long its fetches take to handle),
and the oldest ones go when more than ``max_held`` records wait in all. Records leave each
topic in offset order, so the consumer can ack them as they go.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple


class Held(NamedTuple):
    ts: float
    """Event time; -inf for a record that is not an event (a dead letter): it never waits."""
    topic: str
    offset: int
    item: Any


class Aligner:
    def __init__(self, topics: list[str], *, max_held: int, max_wait_s: float) -> None:
        self.topics = topics
        self.max_held = max_held
        self.max_wait_s = max_wait_s
        self._queues: dict[tuple[str, int], deque[Held]] = {}
        self._since: float | None = None
        """When the oldest record still waiting arrived (monotonic)."""
        self._next: dict[tuple[str, int], int] = {}
        """The offset after the last record taken, per topic and partition."""
        self._arrived: dict[tuple[str, int], float] = {}
        """When each topic and partition last brought a record."""
        self.held = 0
        self.forced = 0
        """Records that went before the topics they waited for caught up (a limit hit)."""

    def add(self, partition: int, records: list[Held], now: float) -> None:
        """Queue a fetch's records of one partition, in the order of their offsets.

        A record taken before is left out: a fetch that raced the consumer's seek back to the
        committed offsets brings records again that wait here or went already (and were
        acked, or will be), and a topic's records must leave in offset order.
        """
        fresh = 0
        for record in records:
            key = (record.topic, partition)
            if record.offset >= self._next.get(key, -1):
                self._queues.setdefault(key, deque()).append(record)
                self._next[key] = record.offset + 1
                self._arrived[key] = now
                fresh += 1
        if fresh and self._since is None:
            self._since = now
        self.held += fresh

    def release(
        self, behind: Callable[[str, int], bool], partitions: Iterable[int], now: float
    ) -> list[tuple[int, Held]]:
        """The records that can go, with their partitions, in the order to process them.

        ``behind(topic, partition)`` tells whether the consumer has more of that topic's
        partition to read than it has handed over: while such a topic partition of
        ``partitions`` (the worker's, besides those with records waiting) has nothing waiting
        here, its next record may be older than every one waiting, so none goes.
        """
        if self._since is None:
            return []
        since = self._since
        held = {p for _, p in self._queues}.union(partitions)
        blocking = {(t, p) for p in held for t in self.topics if behind(t, p)}
        overdue = bool(blocking) and all(
            now - max(self._arrived.get(key, since), since) >= self.max_wait_s for key in blocking
        )
        out = self._pop(math.inf, set() if overdue else blocking, now)
        if overdue:
            self.forced += len(out)
        if self.held > self.max_held:
            # Over the limit: the oldest events go, whatever they wait for.
            over = self._pop(self.held - self.max_held, set(), now)
            self.forced += len(over)
            out += over
        return out

    def waiting(self, topic: str, partition: int) -> int:
        """How many records of this topic and partition wait here."""
        queue = self._queues.get((topic, partition))
        return len(queue) if queue is not None else 0

    def drop(self) -> None:
        """Forget everything waiting (its partitions were revoked: the new owner reads the
        records again from the committed offsets)."""
        self._queues.clear()
        self._since = None
        self._next.clear()
        self._arrived.clear()
        self.held = 0

    def _pop(
        self, count: float, blocking: set[tuple[str, int]], now: float
    ) -> list[tuple[int, Held]]:
        """Up to ``count`` records in event-time order (ties by partition, then topic),
        stopping when a topic partition in ``blocking`` has none left."""
        queues = self._queues
        rank = {t: i for i, t in enumerate(self.topics)}
        heads = [(q[0].ts, p, rank[t], t) for (t, p), q in queues.items() if q]
        heapq.heapify(heads)
        out: list[tuple[int, Held]] = []
        # Only a pop empties a queue here: whether a blocking one is empty is kept up to date,
        # not asked of every blocking queue at every record.
        stalled = any(not queues.get(key) for key in blocking)
        while heads and len(out) < count:
            # A record that is not an event moves no clock: it waits for nothing.
            if stalled and heads[0][0] != -math.inf:
                break
            _, partition, order, topic = heapq.heappop(heads)
            queue = queues[topic, partition]
            out.append((partition, queue.popleft()))
            if queue:
                heapq.heappush(heads, (queue[0].ts, partition, order, topic))
            elif (topic, partition) in blocking:
                stalled = True
        self.held -= len(out)
        if not self.held:
            self._since = None
        elif out:
            self._since = now  # records moved: the wait starts again
        return out
