"""Scripted customers: silence alone must move them to declining, churned, then reactivated."""

import re

import pytest

from stream.core import lifecycle
from stream.core.config import EngineConfig
from stream.core.engine import Engine
from stream.core.profile import Profile
from tests.unit.events import EMITTED, at, interaction, purchase


def _stages_over_silence(gap_days: float, purchases: int, horizon_days: float = 90.0):
    engine = Engine(EngineConfig(allowed_lateness_s=0, churn_horizon_days=horizon_days))
    # A second, steady customer keeps the population non-trivial.
    for i in range(purchases):
        engine.process(purchase("steady", i * gap_days), 0, EMITTED)
        engine.process(purchase("story", i * gap_days), 0, EMITTED)
    last = (purchases - 1) * gap_days
    transitions = []
    day = last
    while day < last + horizon_days + 5:
        day += 0.25
        for change in engine.tick(0, EMITTED, wall_ts=at(day).timestamp()):
            if change.customer_id == "story" and change.dimension == "lifecycle_stage":
                transitions.append((day - last, change.from_, change.to, change.reason))
    return engine, transitions, last


@pytest.mark.parametrize("gap_days", [10, 30])
def test_silent_buyer_declines_on_their_own_cadence_then_churns(gap_days):
    engine, transitions, last = _stages_over_silence(gap_days, purchases=8)
    stages = [t[2] for t in transitions]
    assert stages == ["declining", "churned"], transitions
    declined_after, _, _, reason = transitions[0]
    usual_gap = (30 * 2 + gap_days * 7) / (2 + 7)
    # Declining after twice the usual gap (within one tick), well before the horizon.
    assert 2 * usual_gap <= declined_after <= 2 * usual_gap + 0.5
    assert declined_after < 90
    assert "no purchase for" in reason and "usual gap" in reason
    churned_after = transitions[1][0]
    assert 90 <= churned_after <= 90.5

    changes = engine.process(purchase("story", last + 100), 0, EMITTED).outputs
    moved = [(c.from_, c.to) for c in changes if c.dimension == "lifecycle_stage"]
    assert moved == [("churned", "reactivated")]


@pytest.mark.parametrize("past_horizon_h", [0.5, 1.5, 24])
def test_a_purchase_just_past_the_horizon_is_a_reactivation_before_the_clock_gets_there(
    past_horizon_h,
):
    # The clock lags event time by the allowed lateness (an hour), so the customer's stage may
    # still say declining when a purchase lands just past the churn horizon.
    engine = Engine(EngineConfig())
    for i in range(8):
        engine.process(purchase("steady", i * 10.0), 0, EMITTED)
        engine.process(purchase("story", i * 10.0), 0, EMITTED)
    back = 70 + 90 + past_horizon_h / 24
    for day in range(71, int(back)):
        engine.process(purchase("steady", day), 0, EMITTED)
    changes = engine.process(purchase("story", back), 0, EMITTED).outputs
    stages = [c.to for c in changes if c.dimension == "lifecycle_stage"]
    assert stages[-1:] == ["reactivated"]


def test_a_late_purchase_from_before_the_churn_is_no_reactivation():
    engine = Engine(EngineConfig())
    engine.process(purchase("steady", 0), 0, EMITTED)
    engine.process(purchase("story", 0), 0, EMITTED)
    engine.process(purchase("steady", 100), 0, EMITTED)
    assert engine.profiles["story"].lifecycle_stage == "churned"
    # Dated day 50, it arrives after the clock churned the customer: in event time they were
    # never silent for the 90-day horizon, so they did not come back from churn.
    changes = engine.process(purchase("story", 50), 0, EMITTED).outputs
    stages = [(c.from_, c.to) for c in changes if c.dimension == "lifecycle_stage"]
    assert stages and stages[-1][1] != "reactivated", stages


@pytest.mark.parametrize(
    ("days", "lateness_days", "stage"),
    [
        ((0, 94.99, 95), 1 / 24, "growing"),  # back at 94.99: the order at 95 follows it
        ((0, 100, 50), 60, "growing"),  # the late order at 50 fills the silence
        ((0, 50, 150), 60, "reactivated"),
        ((0, 100, 100), 1 / 24, "reactivated"),  # two orders the day they came back
    ],
)
def test_reactivation_does_not_depend_on_arrival_order(days, lateness_days, stage):
    stages = set()
    for order in (days, days[::-1], sorted(days)):
        engine = Engine(EngineConfig(allowed_lateness_s=lateness_days * 86_400))
        for day in order:
            engine.process(purchase("story", day), 0, EMITTED)
        stages.add(engine.profiles["story"].lifecycle_stage)
    assert stages == {stage}


def test_a_profile_saved_with_its_reactivation_time_keeps_its_stage():
    engine = Engine(EngineConfig())
    for day in (0, 10, 200):
        engine.process(purchase("story", day), 0, EMITTED)
    profile = engine.profiles["story"]
    state = profile.to_state()
    del state["previous_purchase_ts"]
    state["reactivated_ts"] = state["last_purchase_ts"]
    restored = Profile.from_state(state)
    assert lifecycle.assess(restored, at(201).timestamp(), engine.config).stage == "reactivated"


def test_declining_comes_later_for_a_slower_buyer():
    _, fast, _ = _stages_over_silence(10, purchases=8)
    _, slow, _ = _stages_over_silence(30, purchases=8)
    assert fast[0][0] < slow[0][0]


def test_new_then_growing_then_mature():
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    stages = []
    for i in range(12):
        result = engine.process(purchase("c", i * 20.0), 0, EMITTED)
        stages += [c.to for c in result.outputs if c.dimension == "lifecycle_stage"]
    assert stages[:2] == ["new", "growing"]
    assert stages[-1] == "mature"


def test_a_fast_buyer_matures_when_their_pace_fades_with_no_input():
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    days = [i * 30.0 for i in range(8)] + [211.0, 212.0, 213.0, 214.0]
    for day in days:
        engine.process(purchase("c", day), 0, EMITTED)
    assert engine.profiles["c"].lifecycle_stage == "growing"
    moves = []
    day = days[-1]
    while not moves:
        day += 0.25
        moves = [(c.from_, c.to) for c in engine.tick(0, EMITTED, wall_ts=at(day).timestamp())]
    assert moves == [("growing", "mature")]
    assert day - days[-1] < 30


@pytest.mark.parametrize(
    ("interaction_days", "min_interactions", "declines"),
    [
        ((), 10, False),  # no engagement to judge: nothing says it fell
        (range(0, 100, 5), 10, True),  # engaged early on, silent since
        (range(0, 100, 5), 30, False),  # the same 20 interactions, too few to judge by here
        (range(0, 260, 13), 10, False),  # engaged all along
    ],
)
def test_smaller_orders_make_a_customer_declining_only_when_their_engagement_falls_too(
    interaction_days, min_interactions, declines
):
    # On their usual cadence throughout; only the order values drop, to 5% of usual.
    config = EngineConfig(allowed_lateness_s=0, declining_min_interactions=min_interactions)
    engine = Engine(config)
    events = [purchase("c", day, 100 if day < 200 else 5) for day in range(0, 260, 10)]
    events += [interaction("c", day) for day in interaction_days]
    stages = []
    for event in sorted(events, key=lambda e: e.ts):
        for change in engine.process(event, 0, EMITTED).outputs:
            if change.dimension == "lifecycle_stage":
                stages.append((change.to, change.reason))
    declined = [reason for stage, reason in stages if stage == "declining"]
    if declines:
        assert declined and "engagement falling" in declined[0]
    else:
        assert not declined and stages[-1][0] == "mature"
    # The engine asks for a stage on an interaction only when engagement can decide it.
    profile = engine.profiles["c"]
    can_judge = sum(profile.interactions.values()) >= engine.config.declining_min_interactions
    assert lifecycle.reads_engagement(profile, engine.config) is can_judge


def test_a_churned_customer_who_comes_back_with_a_small_order_is_reactivated():
    # Engaged while buying large orders, then silent past the horizon: their first order
    # back is small and their engagement has faded, but they came back. The
    # spend-and-engagement rule judges them from their next order on.
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    events = [purchase("c", day, 100) for day in range(0, 100, 10)]
    events += [interaction("c", day / 2) for day in range(0, 100, 5)]
    for event in sorted(events, key=lambda e: e.ts):
        engine.process(event, 0, EMITTED)
    engine.tick(0, EMITTED, wall_ts=at(190).timestamp())
    assert engine.profiles["c"].lifecycle_stage == "churned"
    changes = engine.process(purchase("c", 200, 5), 0, EMITTED).outputs
    moved = [(c.from_, c.to) for c in changes if c.dimension == "lifecycle_stage"]
    assert moved == [("churned", "reactivated")]
    changes = engine.process(purchase("c", 205, 5), 0, EMITTED).outputs
    moved = [(c.to, c.reason) for c in changes if c.dimension == "lifecycle_stage"]
    assert moved and moved[0][0] == "declining" and "engagement falling" in moved[0][1]


@pytest.mark.parametrize("refunded", [False, True])
def test_refunds_of_the_latest_orders_count_as_falling_spend(refunded):
    # The same cadence and order values; only whether the last three orders came back.
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    events = [purchase("c", day, 100, order_id=f"o{day}") for day in range(0, 210, 10)]
    events += [interaction("c", day) for day in range(0, 100, 5)]
    if refunded:
        events += [
            purchase("c", day + 1, 100, order_id=f"o{day}", refund=True) for day in (180, 190, 200)
        ]
    stages = []
    for event in sorted(events, key=lambda e: e.ts):
        for change in engine.process(event, 0, EMITTED).outputs:
            if change.dimension == "lifecycle_stage":
                stages.append((change.to, change.reason))
    if refunded:
        assert stages[-1][0] == "declining" and "engagement falling" in stages[-1][1]
        share = re.search(r"recent orders at (\d+)% of the usual value", stages[-1][1])
        assert share and int(share.group(1)) < 100 * engine.config.declining_spend_ratio
    else:
        assert stages[-1][0] == "mature"
