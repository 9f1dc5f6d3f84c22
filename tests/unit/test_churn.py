import math
import pickle
import random

import pytest
from river import drift

from schemas.outputs import ChurnRisk
from stream.core.churn import ChurnModel, Scorecard, next_band, sample_silence_s
from stream.core.config import DAY, EngineConfig
from stream.core.engine import Engine
from stream.core.features import churn_features
from stream.core.profile import Profile
from tests.unit.events import EMITTED, at, interaction, purchase, survey

CONFIG = EngineConfig()
H = CONFIG.churn_horizon_s


def buyer(customer: str, last_day: float = 0.0, **fields: object) -> Profile:
    profile = Profile(customer, 0.0)
    profile.first_purchase_ts = min(0.0, last_day * DAY)
    profile.last_purchase_ts = last_day * DAY
    profile.frequency, profile.monetary = 3, 90.0
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.purchases = profile.frequency  # lifetime, as without a rolling window
    return profile


def assess(
    model: ChurnModel,
    profile: Profile,
    now: float,
    *,
    partition: int = 0,
    purchased: bool = False,
    rescore: bool = True,
    cause_id: str | None = None,
) -> list[ChurnRisk]:
    return model.assess(
        profile,
        partition,
        now,
        purchased=purchased,
        rescore=rescore,
        cause_id=cause_id or f"tick:{now:.0f}",
        cause_ts=now,
        emitted_at=EMITTED,
    )


def snapshot_time(profile: Profile) -> float:
    assert profile.last_purchase_ts is not None
    sample = sample_silence_s(profile.customer_id, profile.last_purchase_ts, H)
    return profile.last_purchase_ts + sample + 1.0


def buy(model: ChurnModel, profile: Profile, ts: float, partition: int = 0) -> None:
    profile.last_purchase_ts = ts
    profile.frequency += 1
    assess(model, profile, ts, partition=partition, purchased=True, cause_id=f"buy:{ts}")


def counts(model: ChurnModel) -> tuple[int, int, int]:
    metrics = model.metrics()
    return metrics["labelled"], metrics["labelled_churned"], metrics["pending"]


# -- delayed labels -------------------------------------------------------------------------


def test_a_snapshot_waits_for_its_sampled_silence():
    model = ChurnModel(CONFIG)
    profile = buyer("c1")
    assess(model, profile, snapshot_time(profile) - 2.0)
    assert counts(model) == (0, 0, 0)
    assess(model, profile, snapshot_time(profile))
    assert counts(model) == (0, 0, 1)


def test_purchase_within_the_horizon_labels_the_snapshot_not_churned_at_its_horizon():
    model = ChurnModel(CONFIG)
    profile = buyer("c1")
    taken = snapshot_time(profile)
    assess(model, profile, taken)
    buy(model, profile, taken + 10 * DAY)
    assert counts(model) == (0, 0, 1)  # decided, learnt when the horizon passes
    model.advance(0, taken + H - 1.0)
    assert counts(model) == (0, 0, 1)
    model.advance(0, taken + H)
    assert counts(model) == (1, 0, 0)


def test_silence_past_the_horizon_labels_the_snapshot_churned():
    model = ChurnModel(CONFIG)
    profile = buyer("c1")
    taken = snapshot_time(profile)
    assess(model, profile, taken)
    model.advance(0, taken + H - 1.0)
    assert counts(model) == (0, 0, 1)
    model.advance(0, taken + H)
    assert counts(model) == (1, 1, 0)


def test_a_purchase_seen_after_the_horizon_still_labels_churned():
    model = ChurnModel(CONFIG)
    profile = buyer("c1")
    taken = snapshot_time(profile)
    assess(model, profile, taken)
    buy(model, profile, taken + H + DAY)
    model.advance(0, taken + H)
    assert counts(model) == (1, 1, 0)


def test_labels_are_learnt_in_the_order_their_snapshots_were_taken():
    # A purchase decides a snapshot early, but it is learnt with the others taken at its
    # time, so the labels learnt so far never over-represent recent purchases.
    model = ChurnModel(CONFIG)
    first, second = buyer("c1"), buyer("c2")
    t1, t2 = sorted((snapshot_time(first), snapshot_time(second)))
    early, late = (first, second) if snapshot_time(first) == t1 else (second, first)
    assess(model, early, t1)
    assess(model, late, t2)
    buy(model, late, t2 + DAY)
    model.advance(0, t1 + H)
    assert counts(model) == (1, 1, 1)
    model.advance(0, t2 + H)
    assert counts(model) == (2, 1, 0)


def test_a_late_purchase_from_before_the_snapshot_drops_it_unlabelled():
    model = ChurnModel(CONFIG)
    profile = buyer("c1")
    taken = snapshot_time(profile)
    assess(model, profile, taken)
    model.assess(
        profile,
        0,
        taken,
        purchased=True,
        rescore=True,
        cause_id="late",
        cause_ts=taken - 60,
        emitted_at=EMITTED,
    )
    assert model.metrics()["labelled"] == 0
    assert model.metrics()["dropped_stale"] == 1


def test_long_silences_are_sampled_about_once_per_horizon():
    # The model is asked about customers silent for years, so it learns from them too.
    model = ChurnModel(CONFIG)
    profile = buyer("c1")
    first = snapshot_time(profile)
    for day in range(int(4 * H / DAY)):
        now = day * DAY
        model.advance(0, now)
        assess(model, profile, now)
    metrics = model.metrics()
    assert metrics["snapshots"] == 4 if first < H / 2 else 3
    assert (metrics["labelled"], metrics["labelled_churned"]) == (3, 3)


def test_pending_snapshots_are_bounded_per_customer_and_in_all():
    model = ChurnModel(CONFIG, max_pending=3)
    profiles = [buyer(f"c{i}") for i in range(10)]
    for profile in sorted(profiles, key=snapshot_time):
        for extra_day in range(3):
            assess(model, profile, snapshot_time(profile) + extra_day * DAY)
    metrics = model.metrics()
    assert (metrics["pending"], metrics["snapshots"]) == (3, 3)
    assert metrics["skipped_full"] == 7 * 3


def test_page_views_wait_for_the_next_re_evaluation():
    model = ChurnModel(CONFIG)
    profile = buyer("c1", last_day=0, nps=9)
    [first] = assess(model, profile, DAY)
    assert assess(model, profile, 200 * DAY, rescore=False, cause_id="page-view") == []
    assert profile.churn_probability == first.probability
    [moved] = assess(model, profile, 200 * DAY)
    assert moved.probability > first.probability


# -- bands and emission ---------------------------------------------------------------------


def scripted(model: ChurnModel, probabilities: list[float]) -> None:
    script = iter(probabilities)
    model._probability = lambda values: next(script)


def emitted_bands(config: EngineConfig, probabilities: list[float]) -> list[tuple[str, ...]]:
    model = ChurnModel(config)
    scripted(model, probabilities)
    profile = buyer("c1")
    found = []
    for day, _ in enumerate(probabilities):
        for risk in assess(model, profile, day * DAY):
            found.append((risk.previous_band, risk.band, risk.probability))
    return found


def test_hysteresis_stops_flapping_around_both_boundaries():
    quiet = EngineConfig(churn_step=0.9)
    around_low = [0.30, 0.34, 0.32, 0.35, 0.31, 0.36, 0.34, 0.31, 0.32, 0.30]
    assert emitted_bands(quiet, around_low) == [
        (None, "low", 0.30),
        ("low", "medium", 0.36),
        ("medium", "low", 0.30),
    ]
    around_high = [0.64, 0.68, 0.65, 0.69, 0.67, 0.64, 0.635, 0.63]
    assert emitted_bands(quiet, around_high) == [
        (None, "medium", 0.64),
        ("medium", "high", 0.69),
        ("high", "medium", 0.63),
    ]


def test_a_jump_crosses_both_boundaries_at_once():
    assert next_band(0.95, "low", 0.03) == "high"
    assert next_band(0.05, "high", 0.03) == "low"


def test_emits_when_the_probability_moves_more_than_the_step():
    config = EngineConfig(churn_step=0.1)
    assert emitted_bands(config, [0.10, 0.15, 0.19, 0.205, 0.25, 0.10, 0.05]) == [
        (None, "low", 0.10),
        ("low", "low", 0.205),
        ("low", "low", 0.10),
    ]


def test_profile_keeps_the_last_emitted_probability_and_band():
    model = ChurnModel(EngineConfig(churn_step=0.1))
    scripted(model, [0.20, 0.25, 0.70])
    profile = buyer("c1")
    assess(model, profile, DAY)
    assess(model, profile, 2 * DAY)
    assert (profile.churn_probability, profile.churn_band) == (0.20, "low")
    [risk] = assess(model, profile, 3 * DAY)
    assert (profile.churn_probability, profile.churn_band) == (0.70, "high")
    assert (risk.previous_band, risk.horizon_days) == ("low", 90)


def test_prospects_get_no_churn_risk():
    model = ChurnModel(CONFIG)
    assert assess(model, Profile("p", 0.0), DAY) == []


def test_cold_start_prior_rises_with_overdue_ratio():
    model = ChurnModel(CONFIG)
    probabilities = []
    for silence_days in (1, 40, 70, 100, 150):
        risk = assess(model, buyer(f"c{silence_days}"), silence_days * DAY)[0]
        assert risk.model_version == "prior/1"
        assert risk.top_features[0].feature in {"usual_gap_log", "overdue_log"}
        probabilities.append(risk.probability)
    assert probabilities == sorted(probabilities)
    assert probabilities[0] < 0.33 and probabilities[-1] >= 0.66


# -- learning -------------------------------------------------------------------------------


def customer(r: random.Random, name: str, churner: bool) -> Profile:
    """A buyer whose complaints and NPS hint at churn, with the silence drawn independently,
    so the cold-start prior cannot tell the classes apart and only learning can."""
    complaints = sum(r.random() < (0.5 if churner else 0.1) for _ in range(4))
    nps = r.randint(0, 7) if churner else r.randint(4, 10)
    return buyer(name, frequency=r.randint(2, 8), complaints=complaints, nps=nps)


def label(model: ChurnModel, profile: Profile, churner: bool, r: random.Random, **at: int) -> None:
    """Snapshot ``profile`` at its sampled silence, then let its outcome happen."""
    partition = at.get("partition", 0)
    taken = at.get("taken", snapshot_time(profile))
    assess(model, profile, taken, partition=partition)
    if not churner:
        buy(model, profile, taken + r.uniform(1, 80) * DAY, partition=partition)
    model.advance(partition, taken + H)


def learn_population(model: ChurnModel, n: int, seed: int, flip: bool = False) -> None:
    """Each customer on its own partition: a snapshot, then its outcome."""
    r = random.Random(seed)
    for i in range(n):
        churner = r.random() < 0.4
        profile = customer(r, f"s{seed}-{i}", churner != flip)
        label(model, profile, churner, r, partition=seed * 100_000 + i)


def held_out(n: int, seed: int) -> list[tuple[dict[str, float], int]]:
    r = random.Random(seed)
    found = []
    for i in range(n):
        churner = r.random() < 0.4
        profile = customer(r, f"h{i}", churner)
        found.append((churn_features(profile, snapshot_time(profile), CONFIG), int(churner)))
    return found


def auc(scored: list[tuple[float, int]]) -> float:
    """Mann-Whitney: the share of (churner, stayer) pairs ranked the right way round."""
    positives = [p for p, y in scored if y]
    negatives = [p for p, y in scored if not y]
    wins = sum((p > q) + 0.5 * (p == q) for p in positives for q in negatives)
    return wins / (len(positives) * len(negatives))


def test_the_learnt_model_ranks_churners_first():
    model = ChurnModel(CONFIG, warmup_labels=200, blend_labels=200)
    test_set = held_out(400, seed=99)
    prior_auc = auc([(model.predict(x)[0], y) for x, y in test_set])
    learn_population(model, 1500, seed=1)
    metrics = model.metrics()
    assert metrics["model_version"] == "logreg/1"
    assert metrics["labelled"] == 1500 and metrics["pending"] == 0
    learnt_auc = auc([(model.predict(x)[0], y) for x, y in test_set])
    assert abs(prior_auc - 0.5) < 0.1
    assert learnt_auc > 0.75
    assert metrics["rolling_roc_auc"] > 0.7 and math.isfinite(metrics["log_loss"])


def test_the_learnt_model_beats_recency_when_more_than_silence_matters():
    """Frequent buyers come back even after long silences, one-off buyers rarely do; recency
    alone cannot see that, the learnt model must."""
    r = random.Random(11)

    def draw(name: str) -> tuple[Profile, float, bool]:
        frequency = r.choice([1, 1, 1, 2, 4, 8, 16])
        silence = r.uniform(0, 2.5 * H)
        z = 1.2 * silence / H - 0.8 * math.log2(frequency) + 0.3
        profile = buyer(name, frequency=frequency)
        profile.first_purchase_ts = -frequency * 20 * DAY
        return profile, silence, r.random() < 1 / (1 + math.exp(-z))

    model = ChurnModel(CONFIG)
    for i in range(6000):
        profile, silence, churner = draw(f"t{i}")
        if silence >= sample_silence_s(profile.customer_id, 0.0, H):
            label(model, profile, churner, r, partition=i, taken=silence)
    assert model.metrics()["prior_share"] == 0.0
    test_set = [draw(f"h{i}") for i in range(1500)]
    recency = auc([(silence, churner) for _, silence, churner in test_set])
    learnt = auc(
        [
            (model.predict(churn_features(profile, silence, CONFIG))[0], churner)
            for profile, silence, churner in test_set
        ]
    )
    assert learnt > recency + 0.05


def test_the_prior_serves_until_warmup_then_fades_out_by_label_count():
    model = ChurnModel(CONFIG, warmup_labels=100, blend_labels=400)
    probe = churn_features(buyer("probe", frequency=1), 60 * DAY, CONFIG)
    prior, version = model.predict(probe)
    learn_population(model, 99, seed=12)
    assert model.predict(probe) == (prior, version) == (prior, "prior/1")
    learn_population(model, 1, seed=13)
    assert model.metrics()["prior_share"] == 0.75
    assert model.predict(probe)[1] == "logreg/1"
    learn_population(model, 300, seed=14)
    assert model.metrics()["prior_share"] == 0.0
    z = _log_odds(model, tuple(probe.values()))
    assert model.predict(probe)[0] == round(1 / (1 + math.exp(-z)), 4)


def _log_odds(model: ChurnModel, values: tuple[float, ...]) -> float:
    """The learnt model's log-odds as the kernels score it, from the folded coefficients."""
    scorer = model.scorer()
    weighted: float = sum(v * k for v, k in zip(values, scorer.slopes.tolist(), strict=True))
    return scorer.intercept + weighted


def test_fast_scoring_matches_river_on_the_standardised_features():
    model = ChurnModel(CONFIG, warmup_labels=10)
    learn_population(model, 100, seed=3)
    for features, _ in held_out(20, seed=4):
        values = tuple(features.values())
        expected = model.model.classifier.predict_proba_one(model.model.scaled(values))[True]
        z = _log_odds(model, values)
        assert 1 / (1 + math.exp(-z)) == pytest.approx(expected, abs=1e-12)


def test_a_shift_in_what_predicts_churn_swaps_in_a_challenger():
    model = ChurnModel(CONFIG, blend_labels=500, challenge_labels=300)
    learn_population(model, 1500, seed=5)
    assert model.metrics()["model_version"] == "logreg/1"
    learn_population(model, 1500, seed=6, flip=True)  # now the complainers stay
    metrics = model.metrics()
    assert metrics["drift_alarms"] >= 1 and metrics["drift_resets"] >= 1
    assert metrics["model_version"] == f"logreg/{1 + metrics['drift_resets']}"
    flipped = [(x, 1 - y) for x, y in held_out(400, seed=7)]
    assert auc([(model.predict(x)[0], y) for x, y in flipped]) > 0.7


class OneAlarm(drift.ADWIN):
    """ADWIN that also reports one rising error at its ``at``-th update."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at
        self.seen = 0

    def update(self, x: float) -> None:
        super().update(x)
        self.seen += 1
        if self.seen == self.at:
            self._drift_detected = True

    @property
    def estimation(self) -> float:
        return 1.0 if self.seen == self.at else float(super().estimation)


def test_an_alarm_without_a_better_challenger_keeps_the_serving_model():
    # On a steady population a fresh model is no better than one that has learnt far more
    # of the same, so the challenger an alarm starts does not replace it.
    model = ChurnModel(CONFIG, blend_labels=500, challenge_labels=200)
    learn_population(model, 2000, seed=8)
    model.drift = OneAlarm(at=10)
    learn_population(model, 600, seed=9)
    metrics = model.metrics()
    assert (metrics["drift_alarms"], metrics["drift_resets"]) == (1, 0)
    assert model.challenger is None and metrics["model_version"] == "logreg/1"


def test_scorecard_auc_is_exact_overall_and_over_the_window():
    r = random.Random(21)
    scored = [
        (round(r.random() ** (2 if y else 1), 2), y) for y in (r.random() < 0.3 for _ in range(600))
    ]
    card = Scorecard(window=250)
    for probability, y in scored:
        card.update(int(y), probability)
    figures = card.figures()
    assert figures["roc_auc"] == pytest.approx(auc(scored), abs=1e-12)
    assert figures["rolling_roc_auc"] == pytest.approx(auc(scored[-250:]), abs=1e-12)
    losses = [
        -math.log(p if y else 1 - p)
        for p, y in ((min(max(p, 1e-6), 1 - 1e-6), y) for p, y in scored)
    ]
    assert figures["log_loss"] == pytest.approx(sum(losses) / 600)
    assert figures["rolling_log_loss"] == pytest.approx(sum(losses[-250:]) / 250)
    assert math.isnan(Scorecard().figures()["roc_auc"])


# -- state ----------------------------------------------------------------------------------


def test_state_round_trip_continues_identically():
    model = ChurnModel(CONFIG, warmup_labels=50, blend_labels=150)
    learn_population(model, 300, seed=7)
    waiting = buyer("waiting")
    taken = snapshot_time(waiting)
    assess(model, waiting, taken)
    restored = ChurnModel.from_bytes(model.to_bytes(), CONFIG)
    assert restored.metrics() == model.metrics()
    assert restored.metrics()["pending"] == 1
    test_set = held_out(50, seed=8)
    assert [restored.predict(x) for x, _ in test_set] == [model.predict(x) for x, _ in test_set]
    for each in (model, restored):
        each.advance(0, taken + H)
        learn_population(each, 100, seed=9)
    assert restored.metrics() == model.metrics()
    assert [restored.predict(x) for x, _ in test_set] == [model.predict(x) for x, _ in test_set]


def test_state_for_another_horizon_is_refused():
    data = ChurnModel(CONFIG).to_bytes()
    with pytest.raises(ValueError, match="60"):
        ChurnModel.from_bytes(data, EngineConfig(churn_horizon_days=60))


def test_state_in_the_older_format_is_refused():
    older = pickle.dumps((1, {"horizon_s": H}))
    with pytest.raises(ValueError, match="older format"):
        ChurnModel.from_bytes(older, CONFIG)


# -- through the engine ---------------------------------------------------------------------


def shop_history() -> list:
    """Regulars buy every 20 days for the whole year; lapsers buy three times and go quiet."""
    events = []
    for i in range(30):
        offset = i * 0.3
        events += [purchase(f"regular{i}", offset + day) for day in range(0, 361, 20)]
        events += [purchase(f"lapser{i}", offset + day) for day in (0, 15, 30)]
    return sorted(events, key=lambda event: event.ts)


def run_engine(events: list, model: ChurnModel) -> tuple[Engine, list[ChurnRisk]]:
    engine = Engine(CONFIG, churn=model)
    outputs = []
    day = 0
    for event in events:
        while at(day) <= event.ts:
            outputs += engine.tick(0, EMITTED, wall_ts=at(day).timestamp())
            day += 1
        outputs += engine.process(event, 0, EMITTED).outputs
    while day <= 365:
        outputs += engine.tick(0, EMITTED, wall_ts=at(day).timestamp())
        day += 1
    return engine, [o for o in outputs if isinstance(o, ChurnRisk)]


def test_engine_learns_from_purchases_and_silence():
    events = shop_history()
    model = ChurnModel(CONFIG, warmup_labels=20, blend_labels=20)
    engine, risks = run_engine(events, model)
    metrics = model.metrics()
    assert 0 < metrics["labelled_churned"] < metrics["labelled"]
    assert metrics["model_version"] == "logreg/1"
    bands = {cid: p.churn_band for cid, p in engine.profiles.items()}
    assert all(bands[f"regular{i}"] == "low" for i in range(30))
    assert all(bands[f"lapser{i}"] == "high" for i in range(30))
    assert len({risk.event_id for risk in risks}) == len(risks)

    _, again = run_engine(events, ChurnModel(CONFIG, warmup_labels=20, blend_labels=20))
    assert [r.model_dump() for r in again] == [r.model_dump() for r in risks]


def test_complaints_and_survey_answers_rescore_at_once_page_views_wait():
    engine = Engine(CONFIG, churn=ChurnModel(CONFIG))
    engine.process(purchase("c1", 0), 0, EMITTED)
    before = engine.profiles["c1"].churn_probability

    def rescored(event: object) -> bool:
        scored = []
        original = engine.churn.assess

        def spy(*args: object, **kwargs: object) -> list[ChurnRisk]:
            scored.append(kwargs["rescore"])
            return original(*args, **kwargs)

        engine.churn.assess = spy
        engine.process(event, 0, EMITTED)
        engine.churn.assess = original
        return scored[-1]

    assert not rescored(interaction("c1", 0.5, "page_view"))
    assert rescored(interaction("c1", 0.6, "complaint"))
    assert rescored(survey("c1", 0.7, nps=2))
    assert not rescored(survey("c1", 0.65, nps=10))  # older than the answer already kept
    assert engine.profiles["c1"].churn_probability == before  # nothing moved enough to emit


def test_dropping_a_partition_forgets_its_pending_snapshots():
    model = ChurnModel(CONFIG)
    for partition, name in ((1, "a"), (2, "b")):
        profile = buyer(name)
        assess(model, profile, snapshot_time(profile), partition=partition)
    assert counts(model) == (0, 0, 2)
    model.drop_partition(1)
    assert counts(model) == (0, 0, 1) and model.metrics()["dropped_revoked"] == 1
    model.advance(1, 10 * H)  # nothing left there to label
    model.advance(2, 10 * H)
    assert counts(model) == (1, 1, 0)


def test_silent_customers_are_rechecked_less_often_as_the_silence_grows_but_snapshotted_on_time():
    model = ChurnModel(CONFIG)
    engine = Engine(CONFIG, churn=model)
    engine.process(purchase("c1", 0), 0, EMITTED)
    rescored: list[float] = []
    snapshots: list[float] = []
    original = model.assess

    def spy(profile: Profile, partition: int, now: float, **kwargs: object) -> list[ChurnRisk]:
        if kwargs["rescore"]:
            rescored.append(now)
        found = original(profile, partition, now, **kwargs)  # type: ignore[arg-type]
        snapshot = model.waiting[0].open.get("c1")
        if snapshot is not None and snapshot.taken_at not in snapshots:
            snapshots.append(snapshot.taken_at)
        return found

    model.assess = spy  # type: ignore[method-assign]
    for day in range(1, 731):
        engine.tick(0, EMITTED, wall_ts=at(day).timestamp())

    bought = at(0).timestamp()
    silences = [(t - bought) / DAY for t in rescored]
    gaps = [b - a for a, b in zip(silences, silences[1:], strict=False)]
    # A half usual gap (15 days for a one-time buyer) apart at first, then half the silence.
    assert min(gaps) >= 1.0
    spacing = zip(silences, gaps, strict=False)
    assert all(gap <= max(15.0, silence / 2) + 2.0 for silence, gap in spacing)
    assert sum(silence > 365 for silence in silences) <= 4

    # Snapshots at the sampled silence, then whenever the previous one is labelled, within
    # a tick of that moment, however far apart the re-checks are.
    wanted = [bought + sample_silence_s("c1", bought, H)] + [t + H for t in snapshots[:-1]]
    assert all(0 <= got - want <= DAY for got, want in zip(snapshots, wanted, strict=True))
    assert snapshots[-1] + H > at(729).timestamp() - CONFIG.allowed_lateness_s
