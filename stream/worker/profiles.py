"""The engine's profiles, kept in the Faust table: a cache in front, written back per batch.

The engine reads and writes a plain mapping. Here that mapping caches profiles, notes which
changed, and after each batch writes every changed profile once to the table's store and
returns the changelog records the worker produces (one record per customer per batch
instead of one per event), a slice at a time. Writes go through the store with the partition
of the batch in Faust's current-event context, which is what its RocksDB store files keys by.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
from faust.streams import _current_event
from faust.types import TP

from stream.core.profile import Profile


class _Message:
    """What Faust's stores read from ``current_event().message``."""

    __slots__ = ("topic", "partition", "tp")

    def __init__(self, tp: TP) -> None:
        self.topic, self.partition, self.tp = tp.topic, tp.partition, tp


class _Event:
    __slots__ = ("message", "__weakref__")

    def __init__(self, tp: TP) -> None:
        self.message = _Message(tp)


def encode(profile: Profile) -> bytes:
    return orjson.dumps(profile.to_state())


def decode(raw: bytes) -> Profile:
    return Profile.from_state(orjson.loads(raw))


class TableProfiles(MutableMapping[str, Profile]):
    """A write-back cache over the table's store, for the partitions this worker owns."""

    def __init__(self, table: Any, max_cached: int = 200_000) -> None:
        self._table = table
        self._cache: dict[str, Profile] = {}
        self._dirty: dict[int, dict[str, Profile]] = {}
        self._max_cached = max_cached
        self.partition = 0
        """The partition whose events the engine is processing; set by the worker."""

    @property
    def _store(self) -> Any:
        return self._table.data

    def __getitem__(self, customer_id: str) -> Profile:
        profile = self._cache.get(customer_id)
        if profile is None:
            raw = self._store.get(customer_id.encode())
            if raw is None:
                raise KeyError(customer_id)
            profile = self._cache[customer_id] = decode(raw)
        return profile

    def __setitem__(self, customer_id: str, profile: Profile) -> None:
        self._cache[customer_id] = profile
        self._dirty.setdefault(self.partition, {})[customer_id] = profile

    def __delitem__(self, customer_id: str) -> None:
        raise TypeError("profiles are never deleted by the engine")

    def __iter__(self) -> Iterator[str]:
        raise TypeError("iterate stored profiles with TableProfiles.stored(partitions)")

    def __len__(self) -> int:
        return len(self._store)

    def flush(
        self, topic: str, limit: int
    ) -> tuple[dict[int, list[tuple[bytes, bytes]]], dict[int, dict[str, Profile]]]:
        """Write up to ``limit`` changed profiles to the store; return their changelog records
        and the profiles, per partition. The others stay changed, for the next call."""
        store = self._store
        serialized = hasattr(store, "_set")
        changelog: dict[int, list[tuple[bytes, bytes]]] = {}
        written: dict[int, dict[str, Profile]] = {}
        room = limit
        for partition in list(self._dirty):
            if not room:
                break
            dirty = self._dirty[partition]
            profiles = written[partition] = dict(itertools.islice(dirty.items(), room))
            room -= len(profiles)
            if len(profiles) == len(dirty):
                del self._dirty[partition]
            else:
                for customer_id in profiles:
                    del dirty[customer_id]
            records = changelog[partition] = []
            event = _Event(TP(topic, partition))
            token = _current_event.set(weakref.ref(event))  # type: ignore[arg-type]
            try:
                for customer_id, profile in profiles.items():
                    key, value = customer_id.encode(), encode(profile)
                    if serialized:
                        store._set(key, value)
                    else:
                        store.data[key] = value
                        store._key_partition[key] = partition
                    records.append((key, value))
            finally:
                _current_event.reset(token)
        # Not while some are unwritten: the cache is where they are.
        if not self._dirty and len(self._cache) > self._max_cached:
            self._cache.clear()
        return changelog, written

    def locate(self, customer_id: str, partitions: set[int]) -> tuple[int, Profile] | None:
        """The partition of ``partitions`` whose store holds the customer, and their profile:
        wherever their events came in, whichever partition their key names."""
        for partition in partitions:  # changed, and not written to the store yet
            dirty = self._dirty.get(partition)
            if dirty is not None and customer_id in dirty:
                return partition, dirty[customer_id]
        key = customer_id.encode()
        store = self._store
        raw = None
        if hasattr(store, "_dbs"):
            for partition in sorted(partitions):
                db = store._dbs.get(partition)
                raw = None if db is None else db.get(key)
                if raw is not None:
                    break
        else:
            partition = store._key_partition.get(key)
            if partition in partitions:
                raw = store.data[key]
        if raw is None:
            return None
        return partition, self._cache.get(customer_id) or decode(raw)

    def forget(self) -> None:
        """Drop the cache (partitions moved); the store is the truth."""
        self._cache.clear()
        self._dirty.clear()

    def stored(self, partitions: set[int]) -> Iterator[tuple[int, Profile]]:
        """Every stored profile of the given partitions, with its partition."""
        store = self._store
        if hasattr(store, "_dbs"):
            for partition in sorted(partitions):
                db = store._dbs.get(partition)
                if db is not None:
                    for _, raw in store._visible_items(db):
                        yield partition, decode(raw)
        else:
            for key, partition in list(store._key_partition.items()):
                if partition in partitions:
                    yield partition, decode(store.data[key])
