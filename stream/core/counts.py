"""A counting tree over integer keys: add, remove and "how many are below" in O(log range).

A Fenwick (binary indexed) tree kept in a dict, so memory follows the keys actually used,
not the key range: a range of 2**40 costs nothing until keys arrive.

>>> tree = CountTree(bits=8)
>>> for key in (3, 3, 5, 9):
...     tree.add(key)
>>> tree.below(5), tree.below(6), tree.total
(2, 3, 4)
>>> tree.kth(3)
5
>>> tree.add(3, -1)
>>> tree.below(5)
1
"""

from __future__ import annotations


class CountTree:
    __slots__ = ("_size", "_tree", "total")

    def __init__(self, bits: int) -> None:
        self._size = 1 << bits
        self._tree: dict[int, int] = {}
        self.total = 0

    def add(self, key: int, count: int = 1) -> None:
        tree = self._tree
        size = self._size
        i = key + 1
        while i <= size:
            left = tree.get(i, 0) + count
            if left:
                tree[i] = left
            else:
                del tree[i]
            i += i & -i
        self.total += count

    def below(self, key: int) -> int:
        """How many counted keys are strictly smaller than ``key``."""
        tree = self._tree
        found = 0
        i = key
        while i > 0:
            found += tree.get(i, 0)
            i &= i - 1
        return found

    def kth(self, k: int) -> int:
        """The k-th smallest counted key (1-based), for 1 <= k <= total."""
        tree = self._tree
        size = self._size
        position = 0
        step = size
        while step:
            candidate = position + step
            if candidate <= size:
                count = tree.get(candidate, 0)
                if count < k:
                    position = candidate
                    k -= count
            step >>= 1
        return position
