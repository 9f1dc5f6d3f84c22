"""Spend in one currency: the settings, the rules the shells parse with, and the engine's
conversion of every purchase and refund."""

from __future__ import annotations

import orjson
import pytest

from schemas.inputs import InputRules, InvalidInput, parse_input
from stream.config import Settings
from stream.core.config import EngineConfig, EngineConfigError
from stream.core.currency import exchange_rates
from stream.core.engine import Engine
from tests.unit.events import EMITTED, purchase

BODY = {
    "event_id": "e1",
    "customer_id": "c1",
    "ts": "2024-01-01T10:00:00Z",
    "order_id": "o1",
    "amount": 10,
}


ANY = InputRules()


def _purchase(currency: str, rules: InputRules = ANY):
    raw = orjson.dumps({**BODY, "currency": currency})
    return parse_input("purchase", raw, max_bytes=10_000, rules=rules)


def test_a_code_in_any_case_is_read_in_upper_case():
    assert _purchase("usd").currency == "USD"


def test_without_a_base_currency_every_currency_is_accepted():
    assert Engine(EngineConfig()).rules.currencies is None
    assert _purchase("JPY").currency == "JPY"


def test_with_a_base_currency_only_those_with_a_rate_are_accepted():
    rules = Engine(EngineConfig(currency="eur", fx_rates="usd=0.5")).rules
    assert rules.currencies == {"EUR", "USD"}
    assert _purchase("usd", rules).currency == "USD"
    with pytest.raises(InvalidInput) as caught:
        _purchase("JPY", rules)
    assert caught.value.category == "unknown_currency"
    assert str(caught.value) == (
        "currency JPY is neither STREAM_ENGINE_CURRENCY nor in STREAM_ENGINE_FX_RATES; add its "
        "rate there to count its purchases"
    )


def test_spend_counts_in_the_base_currency_refunds_too():
    engine = Engine(EngineConfig(currency="EUR", fx_rates="USD=0.5, GBP=1.25"))
    engine.process(purchase("c1", 0, 100.0, currency="USD"), 0, EMITTED)
    engine.process(purchase("c1", 1, 40.0, currency="GBP"), 0, EMITTED)
    engine.process(purchase("c1", 2, 8.0, currency="EUR"), 0, EMITTED)
    engine.process(purchase("c1", 3, 20.0, currency="USD", refund=True), 0, EMITTED)
    assert engine.profiles["c1"].monetary == pytest.approx(50 + 50 + 8 - 10)
    assert engine.added_up_currencies() == []


def test_without_a_base_currency_a_mix_is_named_for_the_shells_to_warn_of():
    engine = Engine(EngineConfig())
    engine.process(purchase("c1", 0, 100.0, currency="USD"), 0, EMITTED)
    assert engine.added_up_currencies() == []
    engine.process(purchase("c2", 1, 100.0, currency="EUR"), 0, EMITTED)
    assert engine.added_up_currencies() == ["EUR", "USD"]
    assert engine.profiles["c1"].monetary == engine.profiles["c2"].monetary == 100.0


@pytest.mark.parametrize(
    ("rates", "complaint"),
    [
        ("USD", "has 'USD'; expected CODE=RATE entries such as USD=0.92"),
        ("DOLLAR=1", "has 'DOLLAR=1'; expected CODE=RATE entries such as USD=0.92"),
        ("USD=0", "has 'USD=0'; a rate must be a positive number"),
        ("USD=-1", "has 'USD=-1'; a rate must be a positive number"),
        ("USD=nan", "has 'USD=nan'; a rate must be a positive number"),
        ("USD=x", "has 'USD=x'; a rate must be a positive number"),
        ("USD=1,usd=2", "gives USD twice (the base currency is EUR)"),
        ("EUR=1", "gives EUR twice (the base currency is EUR)"),
    ],
)
def test_a_malformed_rate_is_refused_naming_the_variable(monkeypatch, rates, complaint):
    monkeypatch.setenv("STREAM_ENGINE_CURRENCY", "EUR")
    monkeypatch.setenv("STREAM_ENGINE_FX_RATES", rates)
    with pytest.raises(EngineConfigError) as caught:
        Settings.from_env()
    assert str(caught.value) == f"STREAM_ENGINE_FX_RATES={rates!r} {complaint}"


def test_rates_without_a_base_currency_are_refused(monkeypatch):
    monkeypatch.setenv("STREAM_ENGINE_FX_RATES", "USD=0.9")
    with pytest.raises(EngineConfigError, match="needs a base currency to convert to"):
        Settings.from_env()


@pytest.mark.parametrize("code", ["EURO", "E1R", "€"])
def test_a_base_currency_that_is_no_code_is_refused(monkeypatch, code):
    monkeypatch.setenv("STREAM_ENGINE_CURRENCY", code)
    with pytest.raises(EngineConfigError) as caught:
        Settings.from_env()
    assert str(caught.value) == (
        f"STREAM_ENGINE_CURRENCY={code!r} is not a three-letter ISO 4217 code such as EUR"
    )


def test_blank_entries_are_ignored():
    assert exchange_rates("EUR", " USD=0.92, ,") == {"EUR": 1.0, "USD": 0.92}


def test_the_rolling_window_and_recent_spend_count_in_the_base_currency():
    converted = Engine(EngineConfig(currency="EUR", fx_rates="USD=0.5", window_days=30))
    native = Engine(EngineConfig(window_days=30))
    for day, amount, refund in [(0, 100.0, False), (1, 40.0, False), (2, 20.0, True)]:
        order = {"order_id": f"o{day if not refund else 0}", "refund": refund}
        converted.process(purchase("c1", day, amount, currency="USD", **order), 0, EMITTED)
        native.process(purchase("c1", day, amount / 2, **order), 0, EMITTED)
    mine, theirs = converted.profiles["c1"], native.profiles["c1"]
    assert mine.monetary == pytest.approx(theirs.monetary) == pytest.approx(60.0)
    assert mine.spend_recent == pytest.approx(theirs.spend_recent)
    assert {k: v[1] for k, v in mine.window.items()} == pytest.approx(
        {k: v[1] for k, v in theirs.window.items()}
    )


def test_a_purchase_without_a_rate_that_skipped_the_rules_changes_nothing():
    engine = Engine(EngineConfig(currency="EUR", fx_rates="USD=0.5"))
    engine.process(purchase("c1", 0, 10.0), 0, EMITTED)
    clock = engine.clock(0).now
    with pytest.raises(ValueError, match="currency JPY has no rate"):
        engine.process(purchase("c2", 200, 10.0, currency="JPY"), 0, EMITTED)
    assert engine.clock(0).now == clock  # c1 not made due, so their change is not lost
    assert "c2" not in engine.profiles and engine.currencies == {"EUR"}
