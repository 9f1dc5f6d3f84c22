"""The batch decoder accepts exactly what parse_input accepts, with the same values, and
rejects the rest with parse_input's own reasons."""

from __future__ import annotations

import json
import string
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, ConfigDict, TypeAdapter

from schemas.inputs import (
    INTERACTION_TYPES,
    MAX_CLOCK_SKEW_S,
    AnyInput,
    Identifier,
    InputRules,
    Interaction,
    InvalidInput,
    Purchase,
    parse_input,
)
from stream.core import decoding
from stream.core.decoding import (
    INTERACTION,
    PURCHASE,
    SURVEY,
    BatchDecoder,
    DecodedBatch,
    _identifiers,
    _timestamps,
)
from stream.tools.generate import generate

WALL_NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
KINDS = ("purchase", "interaction", "survey")
EXTRA_TYPES = frozenset({"custom_type", "Bad-Type", "x" * 65, "z" * 64})
DECODERS = [
    BatchDecoder(InputRules(interaction_types=INTERACTION_TYPES | EXTRA_TYPES), 8_000),
    BatchDecoder(InputRules(currencies=frozenset({"EUR", "USD"})), 8_000),
    BatchDecoder(InputRules(), 300),
]

Outcome = tuple[Any, ...]


def row(event: AnyInput) -> Outcome:
    """What the batch should hold for an event parse_input accepted (floats by repr, so that
    -0.0 and 0.0 differ)."""
    if isinstance(event, Purchase):
        kind, detail, channel = PURCHASE, event.order_id, event.channel
        amount, refund, currency, nps, csat = event.amount, event.refund, event.currency, -1, -1
    elif isinstance(event, Interaction):
        kind, detail, channel = INTERACTION, event.type, event.channel
        amount, refund, currency, nps, csat = float("nan"), False, None, -1, -1
    else:
        kind, detail, channel = SURVEY, event.survey_id, None
        amount, refund, currency = float("nan"), False, None
        nps = -1 if event.nps is None else event.nps
        csat = -1 if event.csat is None else event.csat
    return (
        "accepted",
        kind,
        repr(event.ts.timestamp()),
        repr(amount),
        refund,
        nps,
        csat,
        event.customer_id,
        event.event_id,
        detail,
        channel,
        currency,
    )


def expected(decoder: BatchDecoder, kind: str, raw: bytes) -> Outcome:
    try:
        event = parse_input(
            kind, raw, max_bytes=decoder.max_bytes, rules=decoder.rules, now=WALL_NOW
        )
    except InvalidInput as exc:
        return ("rejected", str(exc), exc.category)
    return row(event)


def outcomes(batch: DecodedBatch, count: int) -> list[Outcome]:
    """Per record of the batch: its row, or its rejection."""
    assert batch.index.dtype == np.int64 and batch.kind.dtype == np.int8
    assert batch.ts.dtype == np.float64 and batch.amount.dtype == np.float64
    assert batch.refund.dtype == np.bool_
    assert batch.nps.dtype == np.int8 and batch.csat.dtype == np.int8
    columns = (batch.customer_id, batch.event_id, batch.detail, batch.channel, batch.currency)
    assert all(len(column) == len(batch) for column in columns)
    assert list(batch.index) == sorted(set(batch.index.tolist())), "rows in batch order"
    assert [i for i, _ in batch.rejected] == sorted({i for i, _ in batch.rejected})
    found: dict[int, Outcome] = {}
    for r, i in enumerate(batch.index.tolist()):
        found[i] = (
            "accepted",
            int(batch.kind[r]),
            repr(float(batch.ts[r])),
            repr(float(batch.amount[r])),
            bool(batch.refund[r]),
            int(batch.nps[r]),
            int(batch.csat[r]),
            batch.customer_id[r],
            batch.event_id[r],
            batch.detail[r],
            batch.channel[r],
            batch.currency[r],
        )
    for i, exc in batch.rejected:
        assert i not in found
        found[i] = ("rejected", str(exc), exc.category)
    assert sorted(found) == list(range(count)), "every record accepted or rejected, once"
    assert set(batch.slow.tolist()) >= {i for i, _ in batch.rejected}
    return [found[i] for i in range(count)]


def check(decoder: BatchDecoder, kinds: list[str], records: list[bytes]) -> DecodedBatch:
    """Decode as one file's lines and as one batch per topic; both agree with parse_input."""
    want = [expected(decoder, kind, raw) for kind, raw in zip(kinds, records, strict=True)]
    batch = decoder.decode(kinds, records, WALL_NOW)
    assert outcomes(batch, len(records)) == want
    for kind in set(kinds):
        at = [i for i, k in enumerate(kinds) if k == kind]
        topic = decoder.decode(kind, [records[i] for i in at], WALL_NOW)
        assert outcomes(topic, len(at)) == [want[i] for i in at]
    return batch


# --- Strategies: JSON text built by hand, so that it can hold what a dict cannot (duplicate
# keys, NaN, lone surrogates, 5,000-digit integers, bytes that are not UTF-8). Each value is
# mostly a valid one and sometimes an odd one, so that a record is often valid as a whole.

SPACES = ["", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u1680"]
SPACES += ["\u2007", "\u2028", "\u2029", "\u202f", "\u3000", "\u200b", "\ufeff", "\u180e"]


TENTHS, QUARTERS, THIRDS, TWENTIETHS = (st.integers(0, n - 1) for n in (10, 4, 3, 20))
BOOLEANS = st.booleans()
ANY_KIND = st.sampled_from(KINDS)
SPACING = st.sampled_from(["", " ", "\n\t"])
NEAR_LIMIT = st.sampled_from([-1.0, -1e-6, 0.0, 1e-6, 1.0])


@st.composite
def mostly(draw: st.DrawFn, valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> Any:
    """``valid`` nine times in ten, else ``odd`` (on a middle value: hypothesis draws the
    ends of a range more often)."""
    return draw(odd if draw(TENTHS) == 4 else valid)


@st.composite
def strings(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """JSON strings, with non-ASCII characters as they are or as ``\\u`` escapes."""
    return json.dumps(draw(base), ensure_ascii=draw(BOOLEANS))


plain_ids = st.text(string.ascii_letters + string.digits + "_.:-", min_size=1, max_size=12)
padded_ids = st.builds(
    lambda a, core, b: a + core + b, st.sampled_from(SPACES), plain_ids, st.sampled_from(SPACES)
)
odd_ids = st.sampled_from(
    ["", "a" * 200, "a" * 201, "é" * 200, "😀" * 200, "😀" * 201, "a\nb", "a\rb", "a\u2028b"]
)
identifiers = mostly(
    strings(
        st.one_of(plain_ids, st.text(st.characters(exclude_categories=["Z", "C"]), min_size=1))
    ),
    st.one_of(
        strings(st.one_of(padded_ids, odd_ids, st.text(max_size=6), st.text("ab \n\x1c"))),
        st.sampled_from(["null", "5", "true"]),
    ),
)


@st.composite
def sometimes(draw: st.DrawFn, valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> Any:
    """``valid`` three times in four, else ``odd``."""
    return draw(odd if draw(QUARTERS) == 2 else valid)


ZONES = ["Z", "Z", "+00:00", "-00:00", "+01:00", "-05:00", "+05:30", "+05:45", "-09:30"]
ZONES += ["+14:00", "-12:00", "+23:59", "-23:59"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@st.composite
def valid_timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 times of the form the fast path reads."""
    if draw(TENTHS) == 4:
        # Around the limit of clock skew, to the microsecond.
        moment = WALL_NOW + MAX_CLOCK_SKEW_S + draw(NEAR_LIMIT)
        return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds")
    micros = draw(mostly(st.integers(0, 57 * 365 * 86_400 * 10**6), st.integers(0, 2**52)))
    zone = draw(st.sampled_from(ZONES))
    offset = timedelta() if zone == "Z" else timedelta(hours=int(zone[1:3]), minutes=int(zone[4:]))
    if zone.startswith("-"):
        offset = -offset
    local = EPOCH + timedelta(microseconds=micros) + offset
    digits = draw(st.sampled_from([0, 0, 0, 1, 3, 6, 6, 9]))
    fraction = "." + f"{local.microsecond:06}{micros % 1000:03}"[:digits] if digits else ""
    return f"{local:%Y-%m-%dT%H:%M:%S}{fraction}{zone}"


TS_EDITS: list[Callable[[str], str]] = [
    lambda t: t.replace("T", "t"),
    lambda t: t.replace("T", " "),
    lambda t: t.replace("T", "_"),
    lambda t: t.replace("Z", "z"),
    lambda t: t[:16] + "Z",  # no seconds
    lambda t: t[:19] + ".123456789012Z",
    lambda t: t[:19] + ".Z",
    lambda t: t[:19] + ",5Z",
    lambda t: t[:19],  # no zone
    lambda t: t[:19] + "+0100",
    lambda t: t[:19] + "+01",
    lambda t: t[:19] + "+01:00:00",
    lambda t: t[:19] + "+24:00",
    lambda t: t[:19] + "+12:60",
    lambda t: t[:19] + "Z ",
    lambda t: " " + t,
    lambda t: t[:5] + "13" + t[7:],
    lambda t: t[:8] + "00" + t[10:],
    lambda t: t[:8] + "32" + t[10:],
    lambda t: "2025-02-29" + t[10:],
    lambda t: "2024-02-29" + t[10:],
    lambda t: "2024-04-31" + t[10:],
    lambda t: t[:11] + "24" + t[13:],
    lambda t: t[:14] + "60" + t[16:],
    lambda t: t[:17] + "60" + t[19:],  # a leap second
    lambda t: "1969" + t[4:],
    lambda t: "1969-12-31T23:30:00-01:00",
    lambda t: "1970-01-01T00:30:00+01:00",
    lambda t: "0001" + t[4:],
    lambda t: "2300" + t[4:],
    lambda t: "9999" + t[4:],
    lambda t: "２" + t[1:],
    lambda t: t[:4] + t[5:7] + t[8:],  # basic format
]
odd_timestamps = st.builds(lambda t, edit: edit(t), valid_timestamps(), st.sampled_from(TS_EDITS))
ts_texts = mostly(
    strings(sometimes(valid_timestamps(), odd_timestamps)),
    st.sampled_from(
        ['"2026-03-01"', "1772355600", "null", '"yesterday"', '"2026-03-01T10:00:00\\u005a"']
    ),
)
floats = st.floats(0, 1e12, allow_nan=False).map(repr)
numbers = mostly(
    st.one_of(floats, floats, st.integers(0, 10**6).map(str)),
    st.one_of(
        st.integers(0, 10**13).map(str),
        st.builds(
            "{}.{}{}".format,
            st.integers(0, 9999),
            st.integers(10**13, 10**30),
            st.sampled_from(["", "e5", "e-7", "E+2"]),
        ),
        st.sampled_from(
            ["0", "-0", "-0.0", "1e12", "1000000000000.0000001", "1000000000000.0002", "1E+3"]
            + ["1e-320", "-1", "-1e-300", "true", "null", '"12.5"', "NaN", "Infinity"]
            + ["-Infinity", "1e400", "123456789012345678901234567890", "[1]", "01", "1."]
        ),
    ),
)
currencies = mostly(
    st.sampled_from(["EUR", "eur", "Eur", "USD", "usd", "GBP", "gbp", "JPY", "XXX"]).map(
        json.dumps
    ),
    st.one_of(strings(st.text("abEUR€é1 \n", max_size=4)), st.sampled_from(["978", "null"])),
)
booleans = mostly(
    st.sampled_from(["true", "false"]), st.sampled_from(["null", "1", "0", '"yes"', "[]"])
)
nps_scores = mostly(
    st.integers(0, 10).map(str),
    st.sampled_from(["7.0", "1e1", "true", '"9"', "null", "-0", str(2**70), "5.5", "-1", "11"]),
)
scores = mostly(
    st.integers(1, 5).map(str),
    st.sampled_from(
        ["7.0", "1e1", "true", "false", '"9"', "null", "-0", str(2**70), "5.5", "0", "6"]
    ),
)
types = mostly(
    st.sampled_from(sorted(INTERACTION_TYPES | EXTRA_TYPES)).map(json.dumps),
    st.one_of(
        st.sampled_from(["teleport", "Page_view", "page_view\n", "page view", ""]).map(json.dumps),
        strings(st.text(string.ascii_lowercase + string.digits + "_", min_size=1, max_size=6)),
        st.just("7"),
    ),
)
comments = mostly(
    strings(st.text(max_size=12)),
    st.sampled_from(["null", "5", json.dumps("x" * 10_000), json.dumps("x" * 10_001)]),
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**30), 10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=6),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
).map(lambda v: json.dumps(v, ensure_ascii=False))
extra_values = mostly(
    json_values,
    st.sampled_from(
        [
            "NaN",
            "-Infinity",
            "1e400",
            "1" + "0" * 4400,
            "[" * 199 + "]" * 199,
            "[" * 201 + "]" * 201,
            '"\\ud800"',
            '"\\ud83d\\ude00"',
            '"\\udc00\\ud800"',
            '"\\q"',
            '"\ud800"',  # a lone surrogate, written out as bytes that are not UTF-8
            '"a\x01b"',
            "tru",
        ]
    ),
)
extra_keys = mostly(
    st.sampled_from(
        ["note", "x", "detail", "kind", "amo\\u0075nt", "", "__class__", "model_config"]
    ),
    st.sampled_from(
        ["channel", "amount", "nps", "csat", "region", "order_id", "type", "refund", "items"]
        + ["comment", "ts", "event_type", "schema_version", "survey_id"]
    ),
)


def field(name: str, value: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    return st.tuples(st.just(json.dumps(name)), value)


def kind_fields(kind: str) -> list[st.SearchStrategy[tuple[str, str]]]:
    common = [field("event_id", identifiers), field("customer_id", identifiers)]
    common.append(field("ts", ts_texts))
    if kind == "purchase":
        return common + [
            field("order_id", identifiers),
            field("amount", numbers),
            field("currency", currencies),
        ]
    if kind == "interaction":
        return common + [field("type", types), field("channel", identifiers)]
    return common + [field("survey_id", identifiers), field("nps", nps_scores)]


def optional_fields(kind: str) -> list[st.SearchStrategy[tuple[str, str]]]:
    extras = [
        field("schema_version", mostly(st.just("1"), st.sampled_from(["1.0", "true", "2", '"1"']))),
        field(
            "event_type", mostly(st.just(json.dumps(kind)), st.sampled_from(['"survey"', "null"]))
        ),
        st.tuples(extra_keys.map(json.dumps), extra_values),
    ]
    if kind == "purchase":
        extras += [
            field("refund", booleans),
            field("items", mostly(st.integers(0, 9).map(str), scores)),
            field("channel", mostly(identifiers, st.just("null"))),
            field("region", mostly(st.just('"eu"'), st.sampled_from(["null", "5"]))),
        ]
    if kind == "survey":
        extras += [field("csat", scores), field("comment", comments)]
    return extras


@st.composite
def records(draw: st.DrawFn) -> tuple[str, bytes]:
    """A topic's kind and a record for it: mostly of that kind and valid, often not."""
    kind = draw(ANY_KIND)
    pairs = [draw(f) for f in kind_fields(kind)]
    for extra in optional_fields(kind):
        if draw(THIRDS) == 1:
            pairs.append(draw(extra))
    if kind == "survey" and draw(QUARTERS) == 2:
        del pairs[4]  # csat only, or no score
    if draw(TWENTIETHS) == 4:
        del pairs[draw(st.integers(0, len(pairs) - 1))]
    if draw(TENTHS) == 4:
        pairs.append(draw(st.sampled_from(pairs)))  # a duplicate key
    pairs = draw(st.permutations(pairs))
    space = draw(SPACING)
    body = "{" + ",".join(f"{key}:{space}{value}" for key, value in pairs) + "}"
    raw = bytearray(body.encode("utf-8", "surrogatepass"))
    mutation = draw(st.integers(0, 39))  # a middle few: hypothesis draws the ends more often
    if mutation == 10:
        del raw[draw(st.integers(1, len(raw) - 1)) :]
    elif mutation == 11:
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    elif mutation == 12:
        raw.insert(draw(st.integers(0, len(raw))), draw(st.integers(0, 255)))
    elif mutation == 13:
        raw[:0] = draw(st.sampled_from([b"\xef\xbb\xbf", b" ", b"[", b"\n"]))
    elif mutation == 14:
        raw += draw(st.sampled_from([b" ", b"\n", b" x", b",", b"}", b"\x00"]))
    topic = draw(ANY_KIND) if draw(TWENTIETHS) == 4 else kind
    return topic, bytes(raw)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(records(), min_size=1, max_size=8), st.sampled_from(range(len(DECODERS))))
def test_the_decoder_agrees_with_parse_input_on_every_record(batch, which):
    kinds = [kind for kind, _ in batch]
    check(DECODERS[which], kinds, [raw for _, raw in batch])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(valid_timestamps(), odd_timestamps), min_size=1, max_size=10))
def test_a_time_read_by_the_fast_path_is_the_instant_pydantic_reads(texts):
    seconds, ok = _timestamps(texts)
    for text_, value, read in zip(texts, seconds.tolist(), ok.tolist(), strict=True):
        if not read:
            continue
        parsed = AWARE.validate_json(json.dumps(text_))
        assert repr(parsed.timestamp()) == repr(value), text_
        assert value >= 0


AWARE = TypeAdapter(AwareDatetime, config=ConfigDict(strict=True))
IDENTIFIERS = TypeAdapter(list[Identifier], config=ConfigDict(strict=True))


def test_an_identifier_the_fast_path_takes_is_one_pydantic_takes_for_every_character():
    """``\\S`` in pydantic's (Rust) regex is Unicode's White_Space; the fast path goes by
    ``str.isspace``, which calls a few more characters space, never fewer."""
    every = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    for shape in (lambda c: c, lambda c: "a" + c + "b"):
        values = [shape(c) for c in every]
        taken = [v for v, ok in zip(values, _identifiers(values).tolist(), strict=True) if ok]
        IDENTIFIERS.validate_python(taken)  # raises if pydantic refuses any
        refused = set(values) - set(taken)
        assert len(refused) < 40  # the spaces, the line feed and U+001C-U+001F


# --- Named cases.

GOOD = {
    "purchase": {
        "event_id": "e1",
        "customer_id": "c1",
        "ts": "2026-03-01T10:00:00+01:00",
        "order_id": "o1",
        "amount": 12.5,
        "currency": "eur",
    },
    "interaction": {
        "event_id": "e2",
        "customer_id": "c1",
        "ts": "2026-03-01T10:00:00Z",
        "type": "email_open",
        "channel": "email",
    },
    "survey": {
        "event_id": "e3",
        "customer_id": "c1",
        "ts": "2026-03-01T10:00:00.25Z",
        "survey_id": "s1",
        "nps": 6,
    },
}


def body(kind: str, **changes: Any) -> bytes:
    return orjson.dumps({**GOOD[kind], **changes})


FAST = "fast"
SLOW_ACCEPTED = "slow, accepted"
REJECTED = "rejected"
NAMED = [
    ("valid purchase", "purchase", body("purchase"), FAST),
    ("valid interaction", "interaction", body("interaction"), FAST),
    ("valid survey", "survey", body("survey"), FAST),
    ("extra fields", "purchase", body("purchase", note={"a": [1, None]}), FAST),
    ("survey with csat only", "survey", body("survey", nps=None, csat=4), FAST),
    ("amount as a string", "purchase", body("purchase", amount="12.5"), REJECTED),
    ("amount true", "purchase", body("purchase", amount=True), REJECTED),
    ("amount int", "purchase", body("purchase", amount=12), FAST),
    ("amount -0.0", "purchase", body("purchase", amount=-0.0), FAST),
    ("amount at the limit", "purchase", body("purchase", amount=1e12), FAST),
    ("amount past the limit", "purchase", body("purchase", amount=1.0000000000001e12), REJECTED),
    ("amount NaN", "purchase", body("purchase")[:-1] + b',"amount":NaN}', REJECTED),
    ("NaN in an extra", "purchase", body("purchase")[:-1] + b',"x":NaN}', SLOW_ACCEPTED),
    ("schema_version true", "purchase", body("purchase", schema_version=True), REJECTED),
    ("schema_version 1.0", "purchase", body("purchase", schema_version=1.0), SLOW_ACCEPTED),
    ("schema_version 2", "purchase", body("purchase", schema_version=2), REJECTED),
    ("wrong topic", "interaction", body("purchase", event_type="purchase"), REJECTED),
    ("nps 7.0", "survey", body("survey", nps=7.0), REJECTED),
    ("nps true", "survey", body("survey", nps=True), REJECTED),
    ("nps 11", "survey", body("survey", nps=11), REJECTED),
    ("no score", "survey", body("survey", nps=None), REJECTED),
    ("big int items", "purchase", body("purchase", items=10**19), FAST),
    ("negative items", "purchase", body("purchase", items=-1), REJECTED),
    ("lower-case t", "purchase", body("purchase", ts="2026-03-01t10:00:00Z"), SLOW_ACCEPTED),
    ("+HHMM offset", "purchase", body("purchase", ts="2026-03-01T10:00:00+0100"), SLOW_ACCEPTED),
    ("no seconds", "purchase", body("purchase", ts="2026-03-01T10:00Z"), SLOW_ACCEPTED),
    ("nanoseconds", "purchase", body("purchase", ts="2026-03-01T10:00:00.123456789Z"), FAST),
    ("-00:00", "purchase", body("purchase", ts="2026-03-01T10:00:00-00:00"), FAST),
    ("no timezone", "purchase", body("purchase", ts="2026-03-01T10:00:00"), REJECTED),
    ("leap second", "purchase", body("purchase", ts="2016-12-31T23:59:60Z"), REJECTED),
    ("30 February", "purchase", body("purchase", ts="2024-02-30T10:00:00Z"), REJECTED),
    ("29 February", "purchase", body("purchase", ts="2024-02-29T10:00:00Z"), FAST),
    ("before 1970", "purchase", body("purchase", ts="1969-12-31T23:59:59Z"), REJECTED),
    ("1970 by its offset", "purchase", body("purchase", ts="1970-01-01T00:30:00+01:00"), REJECTED),
    ("1969 local", "purchase", body("purchase", ts="1969-12-31T23:30:00-01:00"), SLOW_ACCEPTED),
    ("year 1", "purchase", body("purchase", ts="0001-01-01T00:00:00+01:00"), REJECTED),
    ("a day ahead", "purchase", body("purchase", ts="2027-01-16T08:00:00Z"), FAST),
    ("past a day ahead", "purchase", body("purchase", ts="2027-01-16T08:00:00.000001Z"), REJECTED),
    ("id ending in a space", "purchase", body("purchase", customer_id="c1 "), REJECTED),
    ("id ending in NBSP", "purchase", body("purchase", customer_id="c1\xa0"), REJECTED),
    ("id with a line feed", "purchase", body("purchase", order_id="o\n1"), REJECTED),
    ("id with a return", "purchase", body("purchase", order_id="o\r1"), FAST),
    ("id ending in U+001F", "purchase", body("purchase", customer_id="c1\x1f"), SLOW_ACCEPTED),
    ("id of 200 emoji", "purchase", body("purchase", event_id="😀" * 200), FAST),
    ("id of 201 emoji", "purchase", body("purchase", event_id="😀" * 201), REJECTED),
    ("currency usd", "purchase", body("purchase", currency="usd"), FAST),
    ("currency of 4", "purchase", body("purchase", currency="EURO"), REJECTED),
    ("currency not ASCII", "purchase", body("purchase", currency="EUé"), REJECTED),
    ("unknown type", "interaction", body("interaction", type="teleport"), REJECTED),
    ("duplicate key, last wins", "purchase", body("purchase")[:-1] + b',"amount":3}', FAST),
    (
        "duplicate key, bad first",
        "purchase",
        b'{"amount":"x",' + body("purchase")[1:],
        SLOW_ACCEPTED,
    ),
    ("duplicate key, bad last", "purchase", body("purchase")[:-1] + b',"amount":"x"}', REJECTED),
    ("not UTF-8 in an extra", "purchase", body("purchase")[:-1] + b',"x":"\xff"}', REJECTED),
    (
        "surrogate in an extra",
        "purchase",
        body("purchase")[:-1] + b',"x":"\xed\xa0\x80"}',
        REJECTED,
    ),
    ("lone surrogate escape", "purchase", body("purchase")[:-1] + b',"x":"\\ud800"}', REJECTED),
    (
        "deep extra",
        "purchase",
        body("purchase")[:-1] + b',"x":' + b"[" * 201 + b"]" * 201 + b"}",
        REJECTED,
    ),
    (
        "nested extra",
        "purchase",
        body("purchase")[:-1] + b',"x":' + b"[" * 150 + b"]" * 150 + b"}",
        SLOW_ACCEPTED,
    ),
    (
        "4,400-digit extra",
        "purchase",
        body("purchase")[:-1] + b',"x":1' + b"0" * 4400 + b"}",
        REJECTED,
    ),
    ("bad JSON", "purchase", b"{not json", REJECTED),
    ("a list", "purchase", b"[1, 2]", REJECTED),
    ("empty", "purchase", b"", REJECTED),
    ("BOM", "purchase", b"\xef\xbb\xbf" + body("purchase"), REJECTED),
    ("trailing newline", "purchase", body("purchase") + b"\n", FAST),
    ("too large", "purchase", body("purchase", note="x" * 8_000), REJECTED),
]


@pytest.mark.parametrize(("kind", "raw", "path"), [n[1:] for n in NAMED], ids=[n[0] for n in NAMED])
def test_named_cases(kind, raw, path):
    decoder = DECODERS[1]
    batch = check(decoder, [kind], [raw])
    taken = {
        FAST: len(batch) == 1 and not len(batch.slow),
        SLOW_ACCEPTED: len(batch) == 1 and batch.slow.tolist() == [0],
        REJECTED: len(batch.rejected) == 1,
    }
    assert taken[path], taken


def test_a_shop_workload_takes_the_fast_path_whole():
    events = generate(customers=200, events=3_000, seed=3).events
    records = [orjson.dumps(event) for event in events]
    kinds = [event["event_type"] for event in events]
    batch = check(DECODERS[0], kinds, records)
    assert len(batch) == len(records) and not len(batch.slow)
    assert set(batch.kind.tolist()) == {PURCHASE, INTERACTION, SURVEY}


def test_a_batch_longer_than_a_slice_has_the_same_outcomes(monkeypatch):
    """A large batch is decoded a slice at a time: the rows, rejections and indices of the
    slices join up as one batch's."""
    monkeypatch.setattr(decoding, "_SLICE", 5)
    batch = check(DECODERS[1], [n[1] for n in NAMED], [n[2] for n in NAMED])
    assert len(batch) > 10 and len(batch.rejected) > 10


def test_rows_the_slow_path_accepts_keep_their_place_in_the_batch():
    records = [body("purchase", order_id=f"o{i}") for i in range(6)]
    records[1] = body("interaction", ts="2026-03-01t10:00:00Z")
    records[4] = body("survey", comment=None, nps=None, csat=5, ts="2026-03-01 10:00:00Z")
    records[5] = b"{}"
    kinds = ["purchase", "interaction", "purchase", "purchase", "survey", "purchase"]
    batch = check(DECODERS[1], kinds, records)
    assert batch.index.tolist() == [0, 1, 2, 3, 4]
    assert batch.kind.tolist() == [PURCHASE, INTERACTION, PURCHASE, PURCHASE, SURVEY]
    assert batch.detail == ["o0", "email_open", "o2", "o3", "s1"]
    assert batch.slow.tolist() == [1, 4, 5]
    assert [i for i, _ in batch.rejected] == [5]


def test_the_values_of_a_batch():
    batch = DECODERS[0].decode(
        ["purchase", "interaction", "survey"],
        [body("purchase", refund=True, channel="web"), body("interaction"), body("survey")],
        WALL_NOW,
    )
    assert batch.ts.tolist() == [1772355600.0, 1772359200.0, 1772359200.25]
    assert batch.amount.tolist()[0] == 12.5 and np.isnan(batch.amount[1:]).all()
    assert batch.refund.tolist() == [True, False, False]
    assert batch.nps.tolist() == [-1, -1, 6] and batch.csat.tolist() == [-1, -1, -1]
    assert batch.currency == ["EUR", None, None]
    assert batch.channel == ["web", "email", None]
    assert batch.detail == ["o1", "email_open", "s1"]


def test_interaction_types_the_contract_refuses_stay_refused_when_configured():
    """``Bad-Type`` is in the rules but not of the contract's pattern: parse_input refuses it,
    so the decoder does too; ``custom_type`` is both."""
    raws = [body("interaction", type=t) for t in ("custom_type", "Bad-Type", "x" * 65, "z" * 64)]
    batch = check(DECODERS[0], ["interaction"] * 4, raws)
    assert batch.detail == ["custom_type", "z" * 64]
    assert batch.slow.tolist() == [1, 2]


def test_an_empty_batch():
    batch = DECODERS[0].decode("purchase", [], WALL_NOW)
    assert len(batch) == 0 and batch.rejected == [] and batch.ts.dtype == np.float64


def test_kinds_are_checked():
    with pytest.raises(ValueError, match="unknown kind"):
        DECODERS[0].decode("refund", [b"{}"], WALL_NOW)
    with pytest.raises(ValueError, match="unknown kinds"):
        DECODERS[0].decode(["purchase", "refund"], [b"{}", b"{}"], WALL_NOW)
    with pytest.raises(ValueError, match="2 kinds for 1 records"):
        DECODERS[0].decode(["purchase", "survey"], [b"{}"], WALL_NOW)
