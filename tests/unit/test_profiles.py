"""The write-back cache over the profile table, on a store without Faust's."""

from types import SimpleNamespace

from stream.core.profile import Profile
from stream.worker.profiles import TableProfiles, decode


class _MemoryStore:
    """What the cache uses of Faust's memory store."""

    def __init__(self):
        self.data, self._key_partition = {}, {}

    def get(self, key):
        return self.data.get(key)


def _profiles(max_cached):
    store = _MemoryStore()
    return TableProfiles(SimpleNamespace(data=store), max_cached=max_cached), store


def test_changed_profiles_are_written_a_slice_at_a_time_each_once():
    profiles, store = _profiles(max_cached=1)
    for partition, customers in ((0, "abcde"), (2, "fg")):
        profiles.partition = partition
        for customer in customers:
            profiles[customer] = Profile(customer, 0.0)
    profiles["a"].frequency = 3  # changed again: still written once, as it is now

    slices = []
    while True:
        changelog, written = profiles.flush("changelog", 3)
        if not changelog:
            break
        slices.append({p: [key.decode() for key, _ in records] for p, records in changelog.items()})
        assert {p: list(w) for p, w in written.items()} == slices[-1]
        # Over its limit, the cache is kept while it holds profiles not written yet.
        assert bool(profiles._cache) == (len(slices) < 3)
    assert slices == [{0: ["a", "b", "c"]}, {0: ["d", "e"], 2: ["f"]}, {2: ["g"]}]
    assert decode(store.data[b"a"]).frequency == 3
    assert store._key_partition == {k.encode(): 0 for k in "abcde"} | {b"f": 2, b"g": 2}


def test_a_customer_is_located_in_the_partition_that_holds_them_whatever_their_key_names():
    profiles, _ = _profiles(max_cached=10)
    profiles.partition = 3
    profiles["a"] = Profile("a", 0.0)
    assert profiles.locate("a", {0, 3}) == (3, profiles["a"])  # changed, not yet written
    profiles.flush("changelog", 10)
    profiles.forget()
    partition, found = profiles.locate("a", {1, 3})
    assert (partition, found.customer_id) == (3, "a")  # from the store
    assert profiles.locate("a", {0, 1}) is None  # a partition this worker does not hold
    assert profiles.locate("nobody", {0, 1, 2, 3}) is None
