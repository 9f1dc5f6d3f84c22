"""The due-time index: which customers must be re-evaluated by a given event time.

Customers are filed in buckets of ``resolution_s`` by their due time. ``pop_due(now)`` takes
the buckets that have wholly passed, so a tick costs only the customers who are due (plus a
few empty buckets), never a scan of everyone, and a customer is evaluated at most one
resolution after their due time.

>>> index = DueIndex(resolution_s=10)
>>> index.schedule("a", 15.0); index.schedule("b", 35.0); index.schedule("a", 25.0)
>>> index.pop_due(29.0)
[]
>>> index.pop_due(30.0)
['a']
>>> len(index)
1
"""

from __future__ import annotations

import heapq


class DueIndex:
    __slots__ = ("_resolution_s", "_buckets", "_heap", "_due")

    def __init__(self, resolution_s: float) -> None:
        self._resolution_s = resolution_s
        self._buckets: dict[int, set[str]] = {}
        self._heap: list[int] = []
        self._due: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, customer_id: str, due_ts: float) -> None:
        resolution_s = self._resolution_s
        bucket = int(due_ts // resolution_s)
        due = self._due
        previous = due.get(customer_id)
        due[customer_id] = due_ts
        if previous is not None:
            old = int(previous // resolution_s)
            if old == bucket:
                return
            members = self._buckets.get(old)
            if members is not None:
                members.discard(customer_id)
        members = self._buckets.get(bucket)
        if members is None:
            members = self._buckets[bucket] = set()
            heapq.heappush(self._heap, bucket)
        members.add(customer_id)

    def discard(self, customer_id: str) -> None:
        due_ts = self._due.pop(customer_id, None)
        if due_ts is not None:
            members = self._buckets.get(int(due_ts // self._resolution_s))
            if members is not None:
                members.discard(customer_id)

    def pop_due(self, now: float) -> list[str]:
        """Remove and return, in a deterministic order, customers of buckets ended by ``now``."""
        heap = self._heap
        due: list[str] = []
        while heap and (heap[0] + 1) * self._resolution_s <= now:
            members = self._buckets.pop(heapq.heappop(heap))
            for customer_id in sorted(members):
                del self._due[customer_id]
                due.append(customer_id)
        return due
