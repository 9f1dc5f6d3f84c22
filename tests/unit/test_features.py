import math

import pytest

from stream.core.config import DAY, EngineConfig
from stream.core.features import FEATURE_NAMES, churn_features
from stream.core.lifecycle import RECENT_TAU_S
from stream.core.profile import Profile


def buyer(**fields: object) -> Profile:
    profile = Profile("c1", 0.0)
    profile.first_purchase_ts, profile.last_purchase_ts = 0.0, 60 * DAY
    profile.frequency, profile.monetary = 4, 250.0
    profile.spend_recent, profile.purchases_recent, profile.recent_at = 80.0, 1.0, 60 * DAY
    for name, value in fields.items():
        setattr(profile, name, value)
    return profile


def test_keys_follow_the_declared_order():
    assert tuple(churn_features(buyer(), 70 * DAY, EngineConfig())) == FEATURE_NAMES


def test_cadence_features_match_the_lifecycle_definition():
    config = EngineConfig()
    features = churn_features(buyer(), 120 * DAY, config)
    # Usual gap: (30 days * 2 prior gaps + 60 days own span) / (2 + 3 gaps) = 24 days.
    assert features["usual_gap_days"] == pytest.approx(24.0)
    assert features["recency_days"] == pytest.approx(60.0)
    assert features["overdue_ratio"] == pytest.approx(2.5)
    assert features["tenure_days"] == pytest.approx(120.0)
    assert features["monetary_log"] == pytest.approx(math.log1p(250.0))


def test_recent_sums_decay_with_the_clock():
    fade = math.exp(-30 * DAY / RECENT_TAU_S)
    features = churn_features(buyer(), 90 * DAY, EngineConfig())
    assert features["purchases_recent"] == pytest.approx(fade)
    assert features["spend_recent_log"] == pytest.approx(math.log1p(80.0 * fade))


def test_missing_survey_is_flagged_and_a_detractor_is_marked():
    config = EngineConfig()
    silent = churn_features(buyer(), 70 * DAY, config)
    assert (silent["nps_missing"], silent["csat_missing"], silent["is_detractor"]) == (1, 1, 0)
    unhappy = churn_features(buyer(nps=3, complaints=2), 70 * DAY, config)
    assert (unhappy["nps"], unhappy["nps_missing"], unhappy["is_detractor"]) == (3, 0, 1)
    assert unhappy["complaints"] == 2
    assert churn_features(buyer(csat=2), 70 * DAY, config)["is_detractor"] == 1


def test_a_purchase_newer_than_the_clock_counts_as_no_silence():
    features = churn_features(buyer(), 59 * DAY, EngineConfig())
    assert features["recency_days"] == 0 and features["overdue_ratio"] == 0
