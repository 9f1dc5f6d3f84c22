import math

import pytest

from stream.core.config import DAY, EngineConfig
from stream.core.features import FEATURE_NAMES, churn_features
from stream.core.lifecycle import RECENT_TAU_S
from stream.core.profile import Profile

SILENCE_FEATURES = ("recency_log", "overdue_log", "dropout_evidence")


def buyer(**fields: object) -> Profile:
    profile = Profile("c1", 0.0)
    profile.first_purchase_ts, profile.last_purchase_ts = 0.0, 60 * DAY
    profile.frequency, profile.monetary = 4, 250.0
    profile.spend_recent, profile.purchases_recent, profile.recent_at = 80.0, 1.0, 60 * DAY
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.purchases = profile.frequency  # lifetime, as without a rolling window
    return profile


def test_keys_follow_the_declared_order():
    assert tuple(churn_features(buyer(), 70 * DAY, EngineConfig())) == FEATURE_NAMES


def test_cadence_features_match_the_lifecycle_definition():
    config = EngineConfig()
    features = churn_features(buyer(), 120 * DAY, config)
    # Usual gap: (30 days * 2 prior gaps + 60 days own span) / (2 + 3 gaps) = 24 days.
    assert features["usual_gap_log"] == pytest.approx(math.log(24.0))
    assert features["recency_log"] == pytest.approx(math.log1p(60.0))
    assert features["overdue_log"] == pytest.approx(math.log1p(2.5))
    # BG/NBD-style: 4 purchases, silence 60 days against alpha 30 + span 60 days.
    assert features["dropout_evidence"] == pytest.approx(4 * math.log(150 / 90))
    assert features["frequency_log"] == pytest.approx(math.log(4))
    assert features["monetary_log"] == pytest.approx(math.log1p(250.0))


def test_silence_features_only_rise_with_silence_and_grow_slowly():
    config = EngineConfig()
    days = [0, 1, 10, 45, 90, 180, 365, 730, 3650]
    rows = [churn_features(buyer(), (60 + d) * DAY, config) for d in days]
    for name in SILENCE_FEATURES:
        seen = [row[name] for row in rows]
        assert seen == sorted(seen) and len(set(seen)) == len(seen), name
        # Logarithmic: ten years of silence is not a hundred times one month's.
        assert seen[-1] < 10 * seen[3], name
    others = [name for name in FEATURE_NAMES if name not in SILENCE_FEATURES]
    # Besides the decayed recent sums, nothing else depends on the clock.
    clocked = {"spend_recent_log", "purchases_recent", "engagement_log"}
    for name in others:
        if name not in clocked:
            assert len({row[name] for row in rows}) == 1, name


def test_recent_sums_decay_with_the_clock():
    fade = math.exp(-30 * DAY / RECENT_TAU_S)
    features = churn_features(buyer(), 90 * DAY, EngineConfig())
    assert features["purchases_recent"] == pytest.approx(fade)
    assert features["spend_recent_log"] == pytest.approx(math.log1p(80.0 * fade))
    engaged = buyer(engagement_recent=4.0, engagement_at=60 * DAY)
    features = churn_features(engaged, 90 * DAY, EngineConfig())
    assert features["engagement_log"] == pytest.approx(math.log1p(4.0 * fade))


def test_missing_survey_is_flagged_and_a_detractor_is_marked():
    config = EngineConfig()
    silent = churn_features(buyer(), 70 * DAY, config)
    assert (silent["nps_missing"], silent["csat_missing"], silent["is_detractor"]) == (1, 1, 0)
    unhappy = churn_features(buyer(nps=3, complaints=2), 70 * DAY, config)
    assert (unhappy["nps"], unhappy["nps_missing"], unhappy["is_detractor"]) == (3, 0, 1)
    assert unhappy["complaints_log"] == pytest.approx(math.log1p(2))
    assert churn_features(buyer(csat=2), 70 * DAY, config)["is_detractor"] == 1


def test_a_purchase_newer_than_the_clock_counts_as_no_silence():
    features = churn_features(buyer(), 59 * DAY, EngineConfig())
    assert all(features[name] == 0 for name in SILENCE_FEATURES)
