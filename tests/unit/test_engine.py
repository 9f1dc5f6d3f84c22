import json
import random

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from schemas.inputs import parse_input
from schemas.outputs import ChurnRisk, SegmentChange
from stream.core import rfm
from stream.core.churn import ChurnModel
from stream.core.config import EngineConfig
from stream.core.engine import Engine
from stream.core.lookup import current_profile
from stream.core.profile import Profile
from stream.tools.generate import generate
from tests.contracts import validator
from tests.reference import exact_rfm
from tests.unit.events import EMITTED, START, at, interaction, purchase, survey


def test_repeated_event_id_changes_nothing():
    engine = Engine(EngineConfig())
    event = purchase("c1", 1, 30)
    first = engine.process(event, 0, EMITTED)
    state = engine.profiles["c1"].to_state()
    again = engine.process(event, 0, EMITTED)
    assert first.status == "processed" and first.outputs
    assert again.status == "duplicate" and again.outputs == []
    assert engine.profiles["c1"].to_state() == state


def test_a_purchase_replayed_after_a_burst_of_page_views_is_still_a_duplicate():
    # At-least-once delivery replays the uncommitted tail: a bot's 64 page views after the
    # purchase are in it too.
    engine = Engine(EngineConfig())
    order = purchase("c1", 1, 30)
    engine.process(order, 0, EMITTED)
    for i in range(64):
        engine.process(interaction("c1", 1 + i / 86_400), 0, EMITTED)
    assert engine.process(order, 0, EMITTED).status == "duplicate"
    assert engine.profiles["c1"].frequency == 1


def test_a_profile_saved_with_one_list_of_ids_still_knows_its_purchases():
    engine = Engine(EngineConfig())
    order = purchase("c1", 1, 30)
    engine.process(order, 0, EMITTED)
    state = engine.profiles["c1"].to_state()
    state["recent_ids"], state["purchase_ids"] = state["purchase_ids"], state["recent_ids"]
    del state["purchase_ids"]
    engine.profiles["c1"] = Profile.from_state(state)
    assert engine.process(order, 0, EMITTED).status == "duplicate"


@pytest.mark.parametrize("order", [(10, 2), (2, 10)])
def test_of_two_answers_at_the_same_time_the_less_satisfied_counts(order):
    engine = Engine(EngineConfig())
    for nps in order:
        engine.process(survey("c1", 2, nps=nps), 0, EMITTED)
    assert (engine.profiles["c1"].nps, engine.profiles["c1"].satisfaction) == (2, "detractor")


def test_reasons_name_a_refund_and_never_count_negative_days():
    engine = Engine(EngineConfig(allowed_lateness_s=3600))
    engine.process(purchase("c1", 1, 500, order_id="o-1"), 0, EMITTED)
    again = engine.process(purchase("c1", 1, 20, order_id="o-2"), 0, EMITTED)
    [stage] = [c for c in again.outputs if c.dimension == "lifecycle_stage"]
    assert stage.reason == "2 purchases in 0 days"
    for other in ("c2", "c3", "c4", "c5"):  # c1's 520 is then the top fifth: ordinary
        engine.process(purchase(other, 1, 100), 0, EMITTED)
    refund = engine.process(purchase("c1", 1.5, 500, order_id="o-1", refund=True), 0, EMITTED)
    tier = refund.outputs[-1]  # after the others' re-evaluation the refund moved
    assert (tier.dimension, tier.to) == ("value_tier", "small")
    assert tier.reason.endswith("after refund of o-1")


def test_detractor_survey_is_a_segment_change_at_once():
    engine = Engine(EngineConfig())
    engine.process(purchase("c1", 1), 0, EMITTED)
    result = engine.process(survey("c1", 2, nps=3), 0, EMITTED)
    [change] = [c for c in result.outputs if c.dimension == "satisfaction"]
    assert (change.from_, change.to) == (None, "detractor")
    result = engine.process(survey("c1", 3, nps=10, csat=2), 0, EMITTED)
    assert not [c for c in result.outputs if c.dimension == "satisfaction"]


def test_prospect_has_no_scores_until_first_purchase():
    engine = Engine(EngineConfig())
    result = engine.process(interaction("p", 1), 0, EMITTED)
    assert [(c.dimension, c.to) for c in result.outputs] == [("lifecycle_stage", "prospect")]
    profile = engine.profiles["p"]
    assert profile.r_score is None and profile.rfm_segment is None and profile.value_tier is None


def test_outputs_have_deterministic_ids():
    engine_a, engine_b = Engine(EngineConfig()), Engine(EngineConfig())
    events = [purchase(f"c{i % 3}", i) for i in range(9)]
    ids_a = [o.event_id for e in events for o in engine_a.process(e, 0, EMITTED).outputs]
    ids_b = [o.event_id for e in events for o in engine_b.process(e, 0, EMITTED).outputs]
    assert ids_a == ids_b and len(set(ids_a)) == len(ids_a)


def test_profile_state_round_trips():
    engine = Engine(EngineConfig())
    engine.process(purchase("c", 1, 10), 0, EMITTED)
    engine.process(interaction("c", 2, "complaint"), 0, EMITTED)
    engine.process(survey("c", 3, csat=4), 0, EMITTED)
    profile = engine.profiles["c"]
    assert Profile.from_state(profile.to_state()) == profile


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_order_within_lateness_gives_the_same_profile(rng: random.Random):
    config = EngineConfig(allowed_lateness_s=10 * 86_400)
    events = [purchase(f"c{i % 4}", i * 0.5, 10 + i) for i in range(20)]
    events += [interaction(f"c{i % 4}", i * 0.7) for i in range(10)]
    events += [survey("c1", 3, nps=5), survey("c1", 4, nps=9)]
    events += [purchase(f"c{i % 4}", i * 0.5 + 0.1, 10 + i, refund=True) for i in range(0, 20, 3)]
    events.sort(key=lambda e: e.ts)
    shuffled = list(events)
    # Shuffle only within windows shorter than the allowed lateness.
    for start in range(0, len(shuffled), 6):
        window = shuffled[start : start + 6]
        rng.shuffle(window)
        shuffled[start : start + 6] = window
    finals = []
    for order in (events, shuffled):
        engine = Engine(config)
        for event in order:
            engine.process(event, 0, EMITTED)
        finals.append(
            {
                cid: (
                    p.frequency,
                    round(p.monetary, 6),
                    p.last_purchase_ts,
                    p.first_purchase_ts,
                    p.nps,
                    dict(p.interactions),
                    round(p.spend_recent, 6),
                )
                for cid, p in engine.profiles.items()
            }
        )
    assert finals[0] == finals[1]


def test_a_refund_that_arrives_before_its_order_still_cancels_it():
    order = purchase("c", 1, 80, order_id="o-1")
    refund = purchase("c", 1.01, 80, order_id="o-1", refund=True)
    later = purchase("c", 1.02, 30, order_id="o-2")
    spends = []
    for arrival in ([order, refund, later], [refund, order, later]):
        engine = Engine(EngineConfig())
        outputs = []
        for event in arrival:
            outputs += engine.process(event, 0, EMITTED).outputs
            # Read while the refund is ahead of its order: nothing spent yet, never less.
            assert current_profile(engine, engine.profiles["c"], 0).monetary >= 0
        assert all(o.monetary >= 0 for o in outputs if isinstance(o, SegmentChange))
        spends.append(engine.profiles["c"].monetary)
    assert spends == [30.0, 30.0]


def test_final_scores_match_the_exact_batch_after_a_reevaluation_round():
    rng = random.Random(7)
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    rows = []
    for i in range(3000):
        customer = f"c{int(rng.paretovariate(1.2)) % 400}"
        day = i / 30
        amount = round(rng.lognormvariate(3, 1), 2)
        rows.append((customer, day, amount))
        engine.process(purchase(customer, day, amount), 0, EMITTED)
    # One full re-evaluation interval later every customer has been re-scored.
    last = engine.clock(0).now
    engine.tick(0, EMITTED, wall_ts=last + 86_400)
    exact = exact_rfm((c, d * 86_400, a) for c, d, a in rows)
    for customer, want in exact.items():
        profile = engine.profiles[customer]
        got = (profile.r_score, profile.f_score, profile.m_score, profile.rfm_segment)
        assert got == (want.r, want.f, want.m, want.segment), customer
        assert profile.value_tier == want.tier


def test_tick_touches_only_customers_whose_state_can_change():
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    for i in range(500):
        engine.process(purchase(f"c{i}", i / 10, 10 + i), 0, EMITTED)
    engine.tick(0, EMITTED, wall_ts=engine.clock(0).now + 86_400)
    touched = []
    original = engine.profiles.get

    class Spy(dict):
        def get(self, key, default=None):
            touched.append(key)
            return original(key, default)

    engine.profiles = Spy(engine.profiles)
    engine.tick(0, EMITTED, wall_ts=engine.clock(0).now + 86_400)
    assert touched == []
    # A newcomer shifts the cut points a little: only customers next to them are re-scored.
    engine.process(purchase("newcomer", 52, 10_000), 0, EMITTED)
    touched.clear()
    engine.tick(0, EMITTED, wall_ts=engine.clock(0).now + 86_400)
    assert 0 < len(set(touched)) < 60


def test_rolling_window_forgets_old_purchases():
    engine = Engine(EngineConfig(allowed_lateness_s=0, window_days=30))
    engine.process(purchase("c", 0, 100), 0, EMITTED)
    engine.process(purchase("c", 10, 50), 0, EMITTED)
    engine.process(purchase("other", 35, 5), 0, EMITTED)
    engine.tick(0, EMITTED, wall_ts=engine.clock(0).now + 86_400)
    profile = engine.profiles["c"]
    assert (profile.frequency, profile.monetary) == (1, 50.0)
    assert rfm.keys(profile) is not None


@pytest.mark.parametrize("refund_first", [False, True])
def test_a_refund_leaves_the_rolling_window_with_its_order(refund_first):
    engine = Engine(EngineConfig(allowed_lateness_s=0, window_days=365))
    order = purchase("c", 0, 100, order_id="o-1")
    refund = purchase("c", 10, 100, order_id="o-1", refund=True)
    for event in [refund, order] if refund_first else [order, refund]:
        engine.process(event, 0, EMITTED)
    engine.process(purchase("c", 200, 50, order_id="o-2"), 0, EMITTED)
    spends = []
    for day in (366, 376):  # o-1 has left the window; the day its refund is dated has too
        engine.tick(0, EMITTED, wall_ts=at(day).timestamp())
        profile = engine.profiles["c"]
        spends.append((profile.frequency, profile.monetary))
    assert spends == [(1, 50.0), (1, 50.0)]


def test_a_purchase_is_scored_without_the_orders_that_left_the_window_before_it():
    # o-1 leaves at day 30, but the due index looks at the customer only in the next hour:
    # the purchase between must not announce F=2 and take it back at the tick.
    engine = Engine(EngineConfig(allowed_lateness_s=0, window_days=30))
    engine.process(purchase("c", 0, 100, order_id="o-1"), 0, EMITTED)
    engine.process(purchase("other", 29, 5), 0, EMITTED)
    changes = engine.process(purchase("c", 30 + 1 / 24 / 6, 10, order_id="o-2"), 0, EMITTED)
    assert (engine.profiles["c"].frequency, engine.profiles["c"].monetary) == (1, 10.0)
    assert {c.frequency for c in changes.outputs if isinstance(c, SegmentChange)} == {1}


def test_a_late_purchase_dated_before_the_window_counts_in_neither_frequency_nor_spend():
    engine = Engine(EngineConfig(allowed_lateness_s=50 * 86_400, window_days=30))
    engine.process(purchase("c", 100, 20), 0, EMITTED)
    engine.process(purchase("c", 200, 20), 0, EMITTED)
    engine.process(purchase("c", 10, 1_000), 0, EMITTED)  # late: the clock is at day 150
    profile = engine.profiles["c"]
    assert (profile.frequency, profile.monetary, profile.purchases) == (1, 20.0, 3)


def test_in_the_window_a_refund_takes_off_at_most_its_own_order():
    engine = Engine(EngineConfig(allowed_lateness_s=0, window_days=365))
    engine.process(purchase("c", 0, 30, order_id="o-1"), 0, EMITTED)
    engine.process(purchase("c", 1, 50, order_id="o-2"), 0, EMITTED)
    for day in (2, 3):  # two refunds of o-1's whole amount, each its own event
        engine.process(purchase("c", day, 30, order_id="o-1", refund=True), 0, EMITTED)
    engine.process(purchase("c", 4, 500, order_id="o-unseen", refund=True), 0, EMITTED)
    profile = engine.profiles["c"]
    assert (profile.frequency, profile.monetary) == (2, 50.0)


def test_a_window_saved_one_entry_per_event_still_loads():
    engine = Engine(EngineConfig(allowed_lateness_s=0, window_days=30))
    engine.process(purchase("c", 0, 100), 0, EMITTED)
    state = engine.profiles["c"].to_state()
    state["window"] = [[at(0).timestamp(), 100.0, 1.0]]
    profile = Profile.from_state(state)
    restarted = Engine(EngineConfig(allowed_lateness_s=0, window_days=30), {"c": profile})
    restarted.adopt(profile, 0)
    restarted.process(purchase("c", 20, 50), 0, EMITTED)
    assert (profile.frequency, profile.monetary) == (2, 150.0)
    restarted.tick(0, EMITTED, wall_ts=at(31).timestamp())
    assert (profile.frequency, profile.monetary) == (1, 50.0)


def test_a_one_time_buyer_whose_purchase_left_the_window_goes_on_ageing_not_growing():
    # The stage follows the customer's whole purchase history: the window trims F and M only.
    engine = Engine(EngineConfig(allowed_lateness_s=0, window_days=30))
    engine.process(purchase("once", 0), 0, EMITTED)
    stages = []
    for day in range(1, 100):
        for change in engine.tick(0, EMITTED, wall_ts=at(day).timestamp()):
            if change.dimension == "lifecycle_stage":
                stages.append(change.to)
    assert engine.profiles["once"].frequency == 0
    assert stages == ["declining", "churned"]


def test_outputs_built_without_validation_satisfy_the_models_and_json_schemas():
    # The engine builds outputs without pydantic's validation (stream.core.changes.trusted):
    # every kind of output it makes must still pass both contracts, byte for byte.
    config = EngineConfig()
    engine = Engine(config, churn=ChurnModel(config, warmup_labels=20))
    workload = generate(customers=300, events=6000, days=365, seed=3, start=START)
    outputs = []
    for body in workload.events:
        event = parse_input(body["event_type"], orjson.dumps(body), max_bytes=100_000)
        outputs += engine.process(event, 0, EMITTED).outputs
    validators = {
        model: validator(topic)
        for topic, model in schemas.TOPIC_MODELS.items()
        if model in (SegmentChange, ChurnRisk)
    }
    kinds = {
        o.dimension if isinstance(o, SegmentChange) else o.model_version.split("/")[0]
        for o in outputs
    }
    assert kinds == {"rfm_segment", "value_tier", "lifecycle_stage", "satisfaction"} | {
        "prior",
        "logreg",
    }
    for output in random.Random(5).sample(outputs, 2000):
        text = output.model_dump_json(by_alias=True)
        validated = type(output).model_validate_json(text)
        assert validated == output
        assert validated.model_dump_json(by_alias=True) == text
        rebuilt = type(output)(**{k: v for k, v in output if k != "schema_version"})
        assert rebuilt == output and rebuilt.model_fields_set == output.model_fields_set
        validators[type(output)].validate(json.loads(text))


def test_interactions_leave_scores_to_the_sweep():
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    for i in range(50):
        engine.process(purchase(f"c{i}", i / 10, 10 + i), 0, EMITTED)
    engine.tick(0, EMITTED, wall_ts=engine.clock(0).now + 86_400)
    top = engine.profiles["c49"]
    stored = (top.r_score, top.f_score, top.m_score, top.rfm_segment)
    # Newcomers, later and bigger, move the cut points past the top customer's values; their
    # page view scores them against nobody.
    for i in range(50):
        engine.process(purchase(f"new{i}", 6, 500 + i), 0, EMITTED)
    result = engine.process(interaction("c49", 6), 0, EMITTED)
    assert result.outputs == []
    assert (top.r_score, top.f_score, top.m_score, top.rfm_segment) == stored
    # The next sweep re-scores everyone a cut crossed, exactly.
    changes = engine.tick(0, EMITTED, wall_ts=engine.clock(0).now + 86_400)
    assert "c49" in {c.customer_id for c in changes}
    for cid, profile in engine.profiles.items():
        scores = engine.population.score(rfm.keys(profile))
        assert (profile.r_score, profile.f_score, profile.m_score) == scores[:3], cid
        assert profile.value_tier == scores.tier


def test_adopting_stored_profiles_restores_the_partition_clock():
    engine = Engine(EngineConfig(allowed_lateness_s=60))
    engine.process(purchase("a", 1), 2, EMITTED)
    engine.process(purchase("b", 5), 2, EMITTED)
    restarted = Engine(EngineConfig(allowed_lateness_s=60))
    for profile in engine.profiles.values():
        restarted.adopt(Profile.from_state(profile.to_state()), 2)
    assert restarted.clock(2).now == engine.clock(2).now


class Stored(dict):
    """Profiles as a write-back store keeps them: encoded when the engine stores them."""

    def __init__(self):
        super().__init__()
        self.saved = {}

    def __setitem__(self, customer_id, profile):
        super().__setitem__(customer_id, profile)
        self.saved[customer_id] = orjson.dumps(profile.to_state())


@pytest.mark.parametrize("split", [774, 1048, 3001, 3514])
def test_a_restarted_engine_emits_the_same_outputs_with_the_same_ids(split):
    # DOMAIN.md: the same input history gives the same ids, so a consumer can de-duplicate
    # after a restart. The daily sweeps must fall at the same points of the input.
    config = EngineConfig()
    workload = generate(customers=300, events=6000, days=200, seed=11, start=START)
    events = [
        parse_input(e["event_type"], orjson.dumps(e), max_bytes=10_000) for e in workload.events
    ]

    def run(engine, events):
        return [o.model_dump() for e in events for o in engine.process(e, 0, EMITTED).outputs]

    expected = run(Engine(config, churn=ChurnModel(config)), events)
    # Restarted from what the engine wrote back, as the worker's table holds it: a change the
    # engine made to a profile without storing it is lost, as it would be.
    stored = Stored()
    before = Engine(config, stored, churn=ChurnModel(config))
    emitted_before = len(run(before, events[:split]))
    restarted = Engine(config, churn=ChurnModel.from_bytes(before.churn.to_bytes(), config))
    for raw in stored.saved.values():
        restored = Profile.from_state(orjson.loads(raw))
        restarted.profiles[restored.customer_id] = restored
        restarted.adopt(restored, 0)
    after = run(restarted, events[split:])
    assert after and after == expected[emitted_before:]


def test_silent_buyers_are_rescored_within_the_hour_of_a_population_shift():
    # Ten small buyers the same day put the first one's spend above all of theirs: the exact
    # M goes from 1 to 5. A silent customer must not wait a day for that.
    engine = Engine(EngineConfig(allowed_lateness_s=0))
    engine.process(purchase("big", 0.0, 500.0), 0, EMITTED)
    for i in range(10):
        engine.process(purchase(f"small{i}", 0.1 + i * 0.01, 1.0), 0, EMITTED)
    engine.tick(0, EMITTED, wall_ts=at(0.2 + 1 / 24).timestamp())
    big = engine.profiles["big"]
    assert (big.m_score, big.value_tier) == (5, "ordinary")
