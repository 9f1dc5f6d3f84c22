"""Which customers can a population shift have re-scored? Those whose value a cut point crossed.

A silent customer's R, F and M scores change only when the population moves a score
threshold (:class:`stream.core.scores.Thresholds`) across their own value. Customers are filed
by coarse buckets of their keys (an hour of last purchase, the purchase count, 1% of spend), so
a sweep visits the buckets between each old and new cut point and returns just those
customers: the cost follows the customers who may change, not everyone. Their keys are kept
too, so that (``exact``) only those whose value lies between the two cut points, whose score
the move did change, are returned, not their bucket neighbours.

>>> index = CrossingIndex()
>>> index.move("a", None, RfmKeys(86_400 * 10, 2, 1000))
>>> index.move("b", None, RfmKeys(86_400 * 50, 7, 9000))
>>> old = Cuts((86_400 * 5,), (1,), (500,), ())
>>> sorted(index.crossed(old, Cuts((86_400 * 20,), (1,), (500,), ())))
['a']

A cut that moves within a bucket without passing anyone's value crosses nobody, though the
bucket is visited:

>>> old = Cuts((86_400 * 10 + 20,), (1,), (500,), ())
>>> new = Cuts((86_400 * 10 + 10,), (1,), (500,), ())
>>> sorted(index.crossed(old, new)), sorted(index.crossed(old, new, exact=False))
([], ['a'])
"""

from __future__ import annotations

from collections.abc import Iterable

from stream.core.buckets import POSITIONS, BucketCounts
from stream.core.scores import Cuts, RfmKeys


class CrossingIndex:
    __slots__ = ("_files",)

    def __init__(self) -> None:
        self._files: tuple[dict[int, dict[str, int]], ...] = ({}, {}, {})
        """Per dimension and bucket, its customers and their keys on that dimension."""

    def move(self, customer_id: str, old: RfmKeys | None, new: RfmKeys | None) -> None:
        if old == new:
            return
        for position, files, old_key, new_key in zip(
            POSITIONS, self._files, old or (None,) * 3, new or (None,) * 3, strict=True
        ):
            if old_key == new_key:
                continue
            new_bucket = None if new_key is None else int(position(new_key))
            if old_key is not None:
                old_bucket = int(position(old_key))
                members = files.get(old_bucket)
                if old_bucket != new_bucket and members is not None:
                    members.pop(customer_id, None)
                    if not members:
                        del files[old_bucket]
            if new_key is not None and new_bucket is not None:
                members = files.get(new_bucket)
                if members is None:
                    files[new_bucket] = {customer_id: new_key}
                else:
                    members[customer_id] = new_key

    def crossed(self, old: Cuts, new: Cuts, *, exact: bool = True) -> set[str]:
        """The customers whose value lies between an old cut point and its new one, where
        the move changed their score; not ``exact``: everyone filed in the buckets between."""
        found: set[str] = set()
        pairs: Iterable[tuple[int, tuple[int, ...], tuple[int, ...]]] = (
            (0, old.recency, new.recency),
            (1, old.frequency, new.frequency),
            (2, old.monetary + old.tiers, new.monetary + new.tiers),
        )
        for dimension, before, after in pairs:
            position, files = POSITIONS[dimension], self._files[dimension]
            for a, b in zip(before, after, strict=True):
                if a == b:
                    continue
                lowest, highest = (a, b) if a < b else (b, a)
                low, high = int(position(lowest)), int(position(highest))
                if high - low < len(files):
                    near = [files.get(bucket, {}) for bucket in range(low, high + 1)]
                else:
                    near = [members for bucket, members in files.items() if low <= bucket <= high]
                for members in near:
                    if exact:
                        # Counted below the cut on one side and not on the other.
                        found.update(c for c, key in members.items() if lowest < key <= highest)
                    else:
                        found.update(members)
        return found

    def counts(self) -> BucketCounts:
        """How many customers each bucket holds: what a worker shares of its buyers."""
        hours, frequencies, spends = (
            {bucket: len(members) for bucket, members in files.items()} for files in self._files
        )
        return hours, frequencies, spends

    def everyone(self) -> set[str]:
        found: set[str] = set()
        for members in self._files[1].values():
            found.update(members)
        return found
