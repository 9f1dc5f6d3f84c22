"""The batch engine's scores against the exact definition, at every instant, and its
bounded de-duplication window."""

from __future__ import annotations

import random
from collections import deque
from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.inputs import Purchase
from stream.core.batch import BatchEngine
from stream.core.config import DAY, EngineConfig
from stream.core.kernels import dedup
from stream.core.kernels.dedup import Window
from tests.reference import exact_rfm

START = datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def _purchases(seed: int, count: int, customers: int) -> list[Purchase]:
    """Purchases in time order; few distinct amounts and many repeat buyers, so that equal
    values (frequency above all) straddle the cut points."""
    rng = random.Random(seed)
    ts = START
    found = []
    for n in range(count):
        ts += rng.choice([0.0, 1.0, rng.uniform(0, 3 * DAY)])
        found.append(
            Purchase(
                event_id=f"e{n}",
                customer_id=f"c{rng.randrange(customers)}",
                ts=datetime.fromtimestamp(ts, UTC),
                order_id=f"o{n}",
                amount=rng.choice([5.0, 10.0, 10.0, 25.0, rng.uniform(1, 500)]),
                currency="EUR",
            )
        )
    return found


def _disagreements(engine: BatchEngine, done: list[Purchase]) -> list[tuple[int, int]]:
    """Per buyer and score, (stored, exact) where they differ."""
    exact = exact_rfm((p.customer_id, p.ts, p.amount) for p in done)
    c = engine.columns
    found = []
    for customer_id, want in exact.items():
        slot = engine.slots[customer_id]
        stored = (int(c.r_score[slot]), int(c.f_score[slot]), int(c.m_score[slot]))
        found += [(s, w) for s, w in zip(stored, (want.r, want.f, want.m), strict=True) if s != w]
    return found


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 400))
def test_scores_are_exact_after_every_batch(seed: int, batch: int) -> None:
    """Margin 0: every stored score is the exact score of the population as it is, after
    every batch, however the events are cut into batches; silent customers included."""
    engine = BatchEngine(EngineConfig(), margin=0.0)
    purchases = _purchases(seed, 1_500, 300)
    for start in range(0, len(purchases), batch):
        engine.process(purchases[start : start + batch])
        assert _disagreements(engine, purchases[: start + batch]) == []


def test_a_margin_keeps_scores_near_and_mostly_exact() -> None:
    engine = BatchEngine(EngineConfig(), margin=0.005)
    purchases = _purchases(3, 6_000, 800)
    for start in range(0, len(purchases), 97):
        engine.process(purchases[start : start + 97])
        done = purchases[: start + 97]
        wrong = _disagreements(engine, done)
        assert all(abs(s - w) == 1 for s, w in wrong)
        buyers = len({p.customer_id for p in done})
        assert len(wrong) <= 0.03 * 3 * buyers


def test_the_window_holds_the_latest_ids() -> None:
    window = Window.empty(5)
    held: deque[int] = deque(maxlen=5)
    rng = np.random.default_rng(1)
    for key in rng.integers(1, 12, 500).tolist():
        assert dedup.seen(window, key) == (key in held)
        if key not in held:
            dedup.remember(window, key)
            held.append(key)
    assert sorted(k for k in window.table.tolist() if k) == sorted(held)


def test_a_repeat_changes_nothing_within_the_window() -> None:
    config = EngineConfig(dedup_window_ids=3)
    engine = BatchEngine(config)
    purchases = _purchases(5, 6, 1)
    first = engine.process(purchases)
    assert first
    # The last three ids are still held; the first three have left the window.
    assert engine.process(purchases[3:]) == []
    assert int(engine.counts[0]) == 3
    engine.process(purchases[:1])
    assert int(engine.columns.frequency[engine.slots[purchases[0].customer_id]]) == 7
