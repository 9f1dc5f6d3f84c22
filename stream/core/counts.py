"""A counting tree over integer keys: add, remove and "how many are below" in O(log range).

A Fenwick (binary indexed) tree kept in a dict, so memory follows the keys actually used,
not the key range: a range of 2**40 costs nothing until keys arrive. The tree spans only up
to the largest key seen so far (doubling as larger keys arrive, up to ``2**bits``), so small
keys such as purchase counts take a few steps, not ``bits`` of them.

>>> tree = CountTree(bits=8)
>>> for key in (3, 3, 5, 9):
...     tree.add(key)
>>> tree.below(5), tree.below(6), tree.below(200), tree.total
(2, 3, 4, 4)
>>> tree.kth(3)
5
>>> tree.add(3, -1)
>>> tree.below(5)
1
>>> tree.move(9, 4); tree.below(5), tree.kth(3)
(2, 5)
"""

from __future__ import annotations

from collections.abc import Callable


class CountTree:
    __slots__ = ("_limit", "_size", "_tree", "total")

    def __init__(self, bits: int) -> None:
        self._limit = 1 << bits
        self._size = 1
        """The tree covers keys ``[0, size)``; always a power of two."""
        self._tree: dict[int, int] = {}
        self.total = 0

    def _grow(self, key: int) -> int:
        # Doubling the span adds one node covering everything counted so far; the nodes in
        # between cover keys nobody has yet, so they stay absent (zero).
        size = self._size
        while size <= key and size < self._limit:
            size <<= 1
            if self.total:
                self._tree[size] = self.total
        self._size = size
        return size

    def add(self, key: int, count: int = 1) -> None:
        size = self._size
        if key >= size:
            size = self._grow(key)
        tree = self._tree
        get = tree.get
        i = key + 1
        while i <= size:
            left = get(i, 0) + count
            if left:
                tree[i] = left
            else:
                del tree[i]
            i += i & -i
        self.total += count

    def move(self, old: int, new: int) -> None:
        """``add(old, -1)`` then ``add(new, 1)``, in fewer steps: the two update paths meet
        and, from where they meet, cancel out."""
        size = self._size
        if new >= size:
            size = self._grow(new)
        tree = self._tree
        get = tree.get
        i, j = old + 1, new + 1
        while i != j:
            if i < j:
                if i > size:
                    break
                left = get(i, 0) - 1
                if left:
                    tree[i] = left
                else:
                    del tree[i]
                i += i & -i
            else:
                if j > size:
                    break
                tree[j] = get(j, 0) + 1
                j += j & -j

    def below(self, key: int) -> int:
        """How many counted keys are strictly smaller than ``key``."""
        if key >= self._size:
            return self.total
        get = self._tree.get
        found = 0
        i = key
        while i > 0:
            found += get(i, 0)
            i &= i - 1
        return found

    def kth(self, k: int, others: Callable[[int], int] | None = None) -> int:
        """The k-th smallest counted key (1-based), for 1 <= k <= total.

        With ``others`` (how many keys counted elsewhere lie strictly below a key, never
        decreasing as the key grows): the k-th smallest of these keys and those together,
        for 1 <= k <= total + others' total.
        """
        get = self._tree.get
        size = self._size
        total = self.total
        # Descending from the top, each candidate's node holds the keys between the position
        # reached so far and the candidate. Others' keys may lie beyond this tree's span.
        step = size if others is None else self._limit
        position = found = 0
        while step:
            candidate = position + step
            below = found + get(candidate, 0) if candidate <= size else total
            if below + (others(candidate) if others is not None else 0) < k:
                position = candidate
                found = below
            step >>= 1
        return position
