"""Merging a partition's three input topics in event time, across fetches.

The engine's clock is the partition's watermark: the latest event time seen on any of its
topics. The consumer reads each topic at its own pace, though, and a backlog (a replayed
history, a worker catching up after an outage) can bring a year of page views before the
purchases made in it: the clock would run ahead on them, and customers whose purchases were
still unread would be announced as churned. So the records of a partition wait here, each
topic's in offset order, and leave in event-time order for as long as every topic they might
be merged with either has records waiting too or has nothing more to read now.

Two limits keep a topic that never catches up from holding the others for ever: the records
of a partition go anyway once the topics they wait for have brought nothing for
``max_wait_s`` (a topic still bringing records is worth waiting for, however long its
fetches take to handle), and the oldest ones go when more than ``max_held`` records wait in
all. Records leave each topic in offset order, so the consumer can ack them as they go.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
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
        self._queues: dict[int, dict[str, deque[Held]]] = {}
        self._since: dict[int, float] = {}
        """When the oldest record still waiting in each partition arrived (monotonic)."""
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
        fresh = []
        for record in records:
            key = (record.topic, partition)
            if record.offset >= self._next.get(key, -1):
                fresh.append(record)
                self._next[key] = record.offset + 1
                self._arrived[key] = now
        if not fresh:
            return
        queues = self._queues.setdefault(partition, {t: deque() for t in self.topics})
        for record in fresh:
            queues[record.topic].append(record)
        self._since.setdefault(partition, now)
        self.held += len(fresh)

    def release(self, behind: Callable[[str, int], bool], now: float) -> dict[int, list[Held]]:
        """The records that can go, per partition, in the order to process them.

        ``behind(topic, partition)`` tells whether the consumer has more of that topic's
        partition to read than it has handed over: while such a topic has nothing waiting
        here, its next record may be older than every one waiting, so none goes.
        """
        released: dict[int, list[Held]] = {}
        for partition in sorted(self._queues):
            blocking = {t for t in self.topics if behind(t, partition)}
            since = self._since[partition]
            overdue = blocking and all(
                now - max(self._arrived.get((t, partition), since), since) >= self.max_wait_s
                for t in blocking
            )
            out = self._pop(partition, math.inf, set() if overdue else blocking, now)
            if out:
                released[partition] = out
                if overdue:
                    self.forced += len(out)
        # Over the limit: the oldest events go, whatever they wait for.
        while self.held > self.max_held:
            partition = min(self._queues, key=self._head_ts)
            released.setdefault(partition, []).extend(self._pop(partition, 1, set(), now))
            self.forced += 1
        return released

    def waiting(self, topic: str, partition: int) -> int:
        """How many records of this topic and partition wait here."""
        queues = self._queues.get(partition)
        return len(queues[topic]) if queues is not None else 0

    def drop(self) -> None:
        """Forget everything waiting (its partitions were revoked: the new owner reads the
        records again from the committed offsets)."""
        self._queues.clear()
        self._since.clear()
        self._next.clear()
        self._arrived.clear()
        self.held = 0

    def _pop(self, partition: int, count: float, blocking: set[str], now: float) -> list[Held]:
        """Up to ``count`` records in event-time order, stopping when a topic in
        ``blocking`` has none left."""
        queues = self._queues[partition]
        order = {t: i for i, t in enumerate(self.topics)}
        heads = [(q[0].ts, order[t], t) for t, q in queues.items() if q]
        heapq.heapify(heads)
        out: list[Held] = []
        while heads and len(out) < count:
            # A record that is not an event moves no clock: it waits for nothing.
            if heads[0][0] != -math.inf and any(not queues[t] for t in blocking):
                break
            _, rank, topic = heapq.heappop(heads)
            queue = queues[topic]
            out.append(queue.popleft())
            if queue:
                heapq.heappush(heads, (queue[0].ts, rank, topic))
        self.held -= len(out)
        if not any(queues.values()):
            del self._queues[partition]
            del self._since[partition]
        elif out:
            self._since[partition] = now  # the partition moved: its wait starts again
        return out

    def _head_ts(self, partition: int) -> float:
        return min((q[0].ts for q in self._queues[partition].values() if q), default=math.inf)
