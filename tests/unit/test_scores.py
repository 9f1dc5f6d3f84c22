from hypothesis import given, settings
from hypothesis import strategies as st

from stream.core.counts import CountTree
from stream.core.scores import Population, rfm_keys
from tests.reference import exact_rfm

buyers = st.lists(
    st.tuples(
        st.integers(1_600_000_000, 1_700_000_000),
        st.integers(1, 30),
        st.floats(0, 5000, allow_nan=False).map(lambda v: round(v, 2)),
    ),
    min_size=1,
    max_size=80,
)


@given(st.lists(st.integers(0, 255), max_size=200), st.integers(0, 256))
def test_count_tree_matches_counting(keys, probe):
    tree = CountTree(bits=8)
    for key in keys:
        tree.add(key)
    assert tree.below(probe) == sum(1 for k in keys if k < probe)
    for k in range(1, len(keys) + 1):
        assert tree.kth(k) == sorted(keys)[k - 1]


@settings(max_examples=200)
@given(buyers)
def test_population_scores_equal_the_exact_definition(rows):
    population = Population()
    for ts, frequency, monetary in rows:
        population.replace(None, rfm_keys(ts, frequency, monetary))
    # Spread each buyer's frequency over separate purchase rows for the batch oracle.
    purchases = []
    for i, (ts, frequency, monetary) in enumerate(rows):
        purchases += [(f"c{i}", ts, monetary / frequency)] * (frequency - 1)
        purchases.append((f"c{i}", ts, monetary - (monetary / frequency) * (frequency - 1)))
    exact = exact_rfm(purchases)
    keys = [
        rfm_keys(ts, frequency, round(sum(p[2] for p in purchases if p[0] == f"c{i}"), 2))
        for i, (ts, frequency, _) in enumerate(rows)
    ]
    counted = [population.score(k) for k in keys]  # from the trees: no cut points yet
    thresholds = population.thresholds()
    for i, scores in enumerate(counted):
        assert scores == thresholds.score(keys[i]) == population.score(keys[i])
        assert (scores.r, scores.f) == (exact[f"c{i}"].r, exact[f"c{i}"].f)
        assert 1 <= scores.m <= 5


def test_equal_values_get_equal_scores_and_removal_restores_scores():
    population = Population()
    a = rfm_keys(1_700_000_000, 3, 120.0)
    b = rfm_keys(1_700_000_000, 3, 120.0)
    c = rfm_keys(1_600_000_000, 1, 10.0)
    for keys in (a, b, c):
        population.replace(None, keys)
    assert population.score(a) == population.score(b)
    before = population.score(c)
    extra = rfm_keys(1_500_000_000, 9, 9000.0)
    population.replace(None, extra)
    population.replace(extra, None)
    assert population.score(c) == before
    assert len(population) == 3


def test_value_tier_pyramid_on_one_hundred_buyers():
    population = Population()
    keys = [rfm_keys(1_700_000_000 + i, 1, float(i + 1)) for i in range(100)]
    for k in keys:
        population.replace(None, k)
    tiers = [population.score(k).tier for k in keys]
    assert tiers.count("vip") == 1
    assert tiers.count("major") == 4
    assert tiers.count("ordinary") == 15
    assert tiers.count("small") == 80


@given(st.lists(st.integers(0, 255), min_size=1, max_size=60), st.data())
def test_count_tree_move_equals_remove_then_add(keys, data):
    moved, reference = CountTree(bits=8), CountTree(bits=8)
    for key in keys:
        moved.add(key)
        reference.add(key)
    old = data.draw(st.sampled_from(keys))
    new = data.draw(st.integers(0, 255))
    moved.move(old, new)
    reference.add(old, -1)
    reference.add(new, 1)
    assert moved._tree == reference._tree and moved.total == reference.total
