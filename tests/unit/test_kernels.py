"""The compiled kernels give what the Python rules give, to the last bit, on any profile."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.outputs import VALUES
from stream.core import features as python_features
from stream.core import lifecycle as python_lifecycle
from stream.core.churn import BANDS, ChurnModel, next_band
from stream.core.columns import Columns
from stream.core.config import DAY, EngineConfig
from stream.core.kernels.churn import band, round4
from stream.core.kernels.features import churn_features
from stream.core.kernels.lifecycle import REASONS, assess
from stream.core.kernels.params import params
from stream.core.profile import Profile

STAGES = VALUES["lifecycle_stage"]
times = st.floats(0, 400 * DAY, allow_nan=False)


@st.composite
def profiles(draw: st.DrawFn) -> tuple[Profile, float]:
    seen = draw(times)
    profile = Profile("c", seen)
    profile.last_event_ts = seen + draw(times)
    interactions = draw(st.integers(0, 40))
    if interactions:
        profile.interactions = {"page_view": interactions}
        profile.complaints = draw(st.integers(0, interactions))
        profile.engagement_recent = draw(st.floats(0, 30))
        profile.engagement_at = seen + draw(times)
    if draw(st.booleans()):
        profile.nps = draw(st.none() | st.integers(0, 10))
        profile.csat = draw(st.none() | st.integers(1, 5))
    if draw(st.integers(0, 4)):
        first = seen + draw(times)
        profile.first_purchase_ts = first
        profile.last_purchase_ts = first + draw(st.sampled_from([0.0, DAY, 95 * DAY]) | times)
        if draw(st.booleans()):
            profile.previous_purchase_ts = first + draw(times) / 3
        profile.purchases = draw(st.integers(1, 30))
        profile.frequency = draw(st.integers(0, profile.purchases))
        profile.monetary = draw(st.floats(-50, 5_000))
        profile.spend_recent = draw(st.floats(-50, 2_000))
        profile.purchases_recent = draw(st.floats(0, 12))
        profile.recent_at = profile.last_purchase_ts - draw(st.floats(0, 5 * DAY))
    now = profile.last_event_ts + draw(st.sampled_from([0.0, -3600.0]) | times)
    return profile, now


def as_columns(profile: Profile) -> Columns:
    columns = Columns.empty(1)
    for name, value in (
        ("first_seen_ts", profile.first_seen_ts),
        ("last_event_ts", profile.last_event_ts),
        ("first_purchase_ts", profile.first_purchase_ts),
        ("last_purchase_ts", profile.last_purchase_ts),
        ("previous_purchase_ts", profile.previous_purchase_ts),
        ("frequency", profile.frequency),
        ("purchases", profile.purchases),
        ("monetary", profile.monetary),
        ("spend_recent", profile.spend_recent),
        ("purchases_recent", profile.purchases_recent),
        ("recent_at", profile.recent_at),
        ("interactions", sum(profile.interactions.values())),
        ("complaints", profile.complaints),
        ("engagement_recent", profile.engagement_recent),
        ("engagement_at", profile.engagement_at),
        ("nps", -1 if profile.nps is None else profile.nps),
        ("csat", -1 if profile.csat is None else profile.csat),
        ("survey_ts", profile.survey_ts),
    ):
        getattr(columns, name)[0] = math.nan if value is None else value
    return columns


configs = st.builds(
    EngineConfig,
    churn_horizon_days=st.sampled_from([30.0, 90.0]),
    declining_min_interactions=st.sampled_from([1, 10]),
    growing_tenure_days=st.sampled_from([0.0, 180.0]),
)


@settings(max_examples=400, deadline=None)
@given(profiles(), configs)
def test_the_stage_kernel_is_the_lifecycle_rule(case, config):
    profile, now = case
    expected = python_lifecycle.assess(profile, now, config)
    stage, changes_at, reason, *facts = assess(as_columns(profile), 0, now, params(config))
    assert STAGES[stage] == expected.stage
    assert changes_at == expected.changes_at
    assert REASONS[reason].format(*facts) == expected.reason


@settings(max_examples=400, deadline=None)
@given(profiles(), configs)
def test_the_feature_kernel_is_the_churn_features(case, config):
    profile, now = case
    if profile.last_purchase_ts is None:
        return
    out = np.empty(len(python_features.FEATURE_NAMES))
    churn_features(as_columns(profile), 0, now, params(config), out)
    expected = python_features.churn_features(profile, now, config)
    assert out.tolist() == list(expected.values())


@settings(max_examples=2000, deadline=None)
@given(st.floats(0, 1) | st.integers(0, 10_000).map(lambda n: n / 10_000 + 0.00005))
def test_round4_rounds_as_python_does(x):
    assert round4(x) == round(x, 4)


@settings(max_examples=1000, deadline=None)
@given(
    st.integers(0, 10_000).map(lambda n: n / 10_000),
    st.sampled_from([None, *BANDS]),
    st.sampled_from([0.01, 0.03, 0.1]),
)
def test_the_band_kernel_is_next_band(p, current, hysteresis):
    model = ChurnModel(EngineConfig(churn_hysteresis=hysteresis))
    code = -1 if current is None else BANDS.index(current)
    assert BANDS[band(p, code, model.scorer())] == next_band(p, current, hysteresis)
