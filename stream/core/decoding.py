"""Raw input values to columns, a batch at a time, accepting exactly what ``parse_input`` does.

:func:`schemas.inputs.parse_input` is the contract: a pydantic model per topic, 8-11 us a
record. :class:`BatchDecoder` reads the same bytes with msgspec into typed structs and checks
whole columns at once (numpy, and a kernel for event times), at 1.3-2 us a record. It only
takes what it is sure the contract accepts, with the values the contract gives; every other
record goes to ``parse_input`` itself, whose event is used if it accepts and whose
:class:`InvalidInput` (with pydantic's readable reason) is the record's rejection if it does
not. So a record never gets a value, or a rejection, that the contract would not have given
it. A batch is one topic's records (``decode("purchase", records, now)``) or a file's lines
with a kind each (``decode(kinds, records, now)``); the rows come out in batch order.

What goes to ``parse_input`` (the slow path):

- anything msgspec refuses: bad JSON, a missing field, a wrong type, a duplicated key whose
  earlier value has the wrong type, ``NaN``/``Infinity`` literals and numbers out of range
  (pydantic reads those, then rejects or keeps them as an extra), ``7.0`` for an integer;
- payloads over ``max_bytes``, over :data:`LONG_RECORD` bytes (pydantic refuses integers of
  more than 4,300 digits) or, past :data:`SHORT_RECORD` bytes, with more than
  :data:`MAX_NESTING` ``[`` and ``{`` (pydantic refuses nesting past 200; msgspec skips unknown
  fields without such a limit), and batches with bytes that are not UTF-8 (msgspec skips an
  unknown field's string without decoding it);
- a ``ts`` not of the form ``YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)``, or with a date
  or time that does not exist, a year outside 1970-2200, or before 1970 or more than
  :data:`~schemas.inputs.MAX_CLOCK_SKEW_S` past ``wall_now`` (pydantic also takes lower-case
  ``t``/``z``, a space, ``+HHMM`` and omitted seconds: those are right, only slower);
- identifiers (``event_id``, ``customer_id``, ``order_id``, ``survey_id``, an interaction's
  ``channel``) that are empty, longer than 200 characters, hold a line feed or start or end
  with a character that ``str.isspace`` calls space (a superset of the Unicode ``White_Space``
  that pydantic's ``\\S`` excludes: U+001C-U+001F are not, so they take the slow path);
- amounts below 0 or above 10^12, a currency that is not three ASCII letters or not in
  ``rules.currencies``, an interaction type the contract does not accept (checked once, by
  ``parse_input`` itself, for each type in ``rules.interaction_types``), a survey score out of
  range or a survey without one.

Unknown fields are allowed and not kept: nothing downstream reads them (the engine reads the
fields below, a dead letter keeps the original bytes), nor ``items``, ``region`` or
``comment``, which are checked but not returned.

>>> decoder = BatchDecoder(InputRules(), max_bytes=10_000)
>>> good = b'{"event_id": "e1", "customer_id": "c1", "ts": "2024-05-01T10:00:00+02:00",'
>>> good += b' "order_id": "o1", "amount": 12.5, "currency": "eur"}'
>>> batch = decoder.decode("purchase", [good, b'{"amount": "12.5"}'], wall_now=1.8e9)
>>> batch.index.tolist(), batch.ts.tolist(), batch.currency, batch.detail
([0], [1714550400.0], ['EUR'], ['o1'])
>>> [(i, exc.category) for i, exc in batch.rejected]
[(1, 'validation')]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, compress, repeat
from operator import attrgetter, eq
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
import numpy.typing as npt

from schemas.inputs import (
    EARLIEST_TS,
    MAX_AMOUNT,
    MAX_CLOCK_SKEW_S,
    AnyInput,
    InputRules,
    Interaction,
    InvalidInput,
    Purchase,
    Survey,
    parse_input,
)
from stream.core.kernels.timestamps import NOT_READ, micros_since_epoch

PURCHASE, INTERACTION, SURVEY = 0, 1, 2
KIND_CODES = {"purchase": PURCHASE, "interaction": INTERACTION, "survey": SURVEY}
"""The ``kind`` column's codes, by the name parse_input takes."""

SHORT_RECORD = 256
"""Up to this many bytes a record cannot nest past :data:`MAX_NESTING`, so is not counted."""
MAX_NESTING = 128
"""Past :data:`SHORT_RECORD` bytes, a record with more ``[`` and ``{`` than this (in strings
too) takes the slow path: pydantic refuses nesting deeper than 200, msgspec does not."""
LONG_RECORD = 4096
"""Longer records take the slow path: pydantic refuses integers of more than 4,300 digits
anywhere in a value, msgspec skips them in unknown fields."""
ABSENT = -1
"""An absent survey score."""

_IDENTIFIER_MAX = 200
_OUT_OF_RANGE = -2
_NPS: dict[int | None, int] = {None: ABSENT, **{score: score for score in range(11)}}
_CSAT: dict[int | None, int] = {None: ABSENT, **{score: score for score in range(1, 6)}}
_CURRENCY_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_CURRENCY_CACHE = 10_000
_ASCII_SPACE = np.array([chr(code).isspace() for code in range(128)], dtype=np.bool_)
_SLICE = 4096
"""Records decoded together; a larger batch is decoded a slice at a time."""
_CHUNK = 512
"""Records decoded by one call of ``map``; a record msgspec refuses costs its chunk a second
pass, one record at a time."""
_MSGSPEC_REFUSALS = (msgspec.DecodeError, ValueError, RecursionError)


class _Purchase(msgspec.Struct, kw_only=True, gc=False):
    schema_version: Literal[1] = 1
    event_type: Literal["purchase"] = "purchase"
    event_id: str
    customer_id: str
    ts: str
    order_id: str
    amount: float
    currency: str
    refund: bool = False
    items: Annotated[int, msgspec.Meta(ge=0)] | None = None
    channel: str | None = None
    region: str | None = None


class _Interaction(msgspec.Struct, kw_only=True, gc=False):
    schema_version: Literal[1] = 1
    event_type: Literal["interaction"] = "interaction"
    event_id: str
    customer_id: str
    ts: str
    type: str
    channel: str


class _Survey(msgspec.Struct, kw_only=True, gc=False):
    schema_version: Literal[1] = 1
    event_type: Literal["survey"] = "survey"
    event_id: str
    customer_id: str
    ts: str
    survey_id: str
    nps: int | None = None
    csat: int | None = None
    comment: Annotated[str, msgspec.Meta(max_length=10_000)] | None = None


_STRUCTS: dict[str, type[msgspec.Struct]] = {
    "purchase": _Purchase,
    "interaction": _Interaction,
    "survey": _Survey,
}
_FIELD_NAMES = {
    PURCHASE: "event_id customer_id ts order_id channel amount currency refund",
    INTERACTION: "event_id customer_id ts type channel",
    SURVEY: "event_id customer_id ts survey_id nps csat",
}
_FIELDS = {
    code: [attrgetter(name) for name in names.split()] for code, names in _FIELD_NAMES.items()
}
"""Per kind, the readers of the fields columns are made of, in the order ``_fast`` takes them."""


@dataclass(frozen=True)
class DecodedBatch:
    """The accepted records of a batch as columns, in batch order, and the rejected ones.

    Row ``r`` is the record at ``index[r]`` of the batch. ``detail`` is a purchase's
    ``order_id``, an interaction's ``type`` or a survey's ``survey_id``; ``amount`` is NaN,
    ``currency`` and ``channel`` None for the kinds that have none (a survey has no
    ``channel`` field), ``nps`` and ``csat`` -1 when absent.
    """

    index: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int8]
    """:data:`PURCHASE`, :data:`INTERACTION` or :data:`SURVEY`."""
    ts: npt.NDArray[np.float64]
    """Event time, exactly ``event.ts.timestamp()``."""
    amount: npt.NDArray[np.float64]
    refund: npt.NDArray[np.bool_]
    nps: npt.NDArray[np.int8]
    csat: npt.NDArray[np.int8]
    customer_id: list[str]
    event_id: list[str]
    detail: list[str]
    channel: list[str | None]
    currency: list[str | None]
    """Upper case, as the model reads it."""
    rejected: list[tuple[int, InvalidInput]] = field(default_factory=list)
    """(index in the batch, parse_input's refusal), in batch order."""
    slow: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Indices of the records that parse_input decided (accepted or rejected)."""

    def __len__(self) -> int:
        return len(self.index)


class BatchDecoder:
    """Decodes batches of raw JSON input values under ``rules`` and ``max_bytes``, the
    arguments ``parse_input`` would be given."""

    def __init__(self, rules: InputRules, max_bytes: int) -> None:
        self.rules = rules
        self.max_bytes = max_bytes
        self._decoders = {
            KIND_CODES[kind]: msgspec.json.Decoder(struct).decode
            for kind, struct in _STRUCTS.items()
        }
        self._types = frozenset(t for t in rules.interaction_types if _contract_takes_type(t))
        self._currencies: dict[str, str] = {}
        """Currencies as sent -> as read, for those the fast path accepts."""

    def decode(
        self, kinds: str | Sequence[str], records: Sequence[bytes], wall_now: float
    ) -> DecodedBatch:
        """Decode ``records``, all of kind ``kinds`` (one topic's batch) or each of the kind at
        its position in ``kinds`` (a file's lines); event times may run up to
        :data:`~schemas.inputs.MAX_CLOCK_SKEW_S` past ``wall_now`` (epoch seconds)."""
        count = len(records)
        codes = None
        if isinstance(kinds, str):
            if kinds not in KIND_CODES:
                raise ValueError(f"unknown kind {kinds!r}; one of {', '.join(KIND_CODES)}")
        else:
            if len(kinds) != count:
                raise ValueError(f"{len(kinds)} kinds for {count} records")
            codes = np.fromiter(map(KIND_CODES.get, kinds, repeat(-1)), dtype=np.int8, count=count)
            if (codes < 0).any():
                unknown = sorted(set(kinds) - KIND_CODES.keys())
                raise ValueError(f"unknown kinds {unknown}; one of {', '.join(KIND_CODES)}")
        if count <= _SLICE:
            return self._slice(kinds, codes, records, wall_now)
        # A slice at a time keeps its structs and strings in the processor's caches: one of
        # 100,000 records cost twice as much a record as slices of a few thousand.
        slices = []
        for start in range(0, count, _SLICE):
            end = start + _SLICE
            these = kinds if isinstance(kinds, str) else kinds[start:end]
            some = None if codes is None else codes[start:end]
            slices.append((start, self._slice(these, some, records[start:end], wall_now)))
        return _joined(slices)

    def _slice(
        self,
        kinds: str | Sequence[str],
        codes: npt.NDArray[np.int8] | None,
        records: Sequence[bytes],
        wall_now: float,
    ) -> DecodedBatch:
        readable = self._readable(records)
        groups: list[tuple[int, list[int]]]
        if isinstance(kinds, str):
            groups = [(KIND_CODES[kinds], np.flatnonzero(readable).tolist())]
            kind_of: Callable[[int], str] = lambda i: kinds  # noqa: E731
        else:
            assert codes is not None
            groups = [(c, np.flatnonzero(readable & (codes == c)).tolist()) for c in range(3)]
            kind_of = kinds.__getitem__
        count = len(records)

        unsure = np.flatnonzero(~readable).tolist()
        parts = []
        for code, at in groups:
            if not at:
                continue
            raws = records if len(at) == count else [records[i] for i in at]
            structs, decoded, refused = _decode(self._decoders[code], raws, at)
            part, not_sure = self._fast(code, structs, decoded, wall_now)
            parts.append(part)
            unsure += refused
            unsure += not_sure
        unsure.sort()

        rejected: list[tuple[int, InvalidInput]] = []
        late = _Rows()
        for i in unsure:
            try:
                event = parse_input(
                    kind_of(i), records[i], max_bytes=self.max_bytes, rules=self.rules, now=wall_now
                )
            except InvalidInput as exc:
                rejected.append((i, exc))
            else:
                late.add(i, event)
        if late.index:
            parts.append(late.batch())
        batch = _merged(parts) if len(parts) > 1 else parts[0] if parts else _Rows().batch()
        return replace(batch, rejected=rejected, slow=np.array(unsure, dtype=np.int64))

    def _readable(self, records: Sequence[bytes]) -> npt.NDArray[np.bool_]:
        """Per record: whether msgspec may read it (see the module's docstring)."""
        count = len(records)
        lengths = np.fromiter(map(len, records), dtype=np.int64, count=count)
        readable = lengths <= min(self.max_bytes, LONG_RECORD)
        for i in np.flatnonzero(readable & (lengths > SHORT_RECORD)).tolist():
            raw = records[i]
            readable[i] = raw.count(b"[") + raw.count(b"{") <= MAX_NESTING
        # Checked for the whole batch at once: a record cut inside a character cannot be
        # completed by the next, since the newline between them is no continuation byte.
        joined = b"\n".join(records)
        if not joined.isascii() and not _utf8(joined):
            readable &= np.fromiter(map(_utf8, records), dtype=np.bool_, count=count)
        return readable

    def _fast(
        self, code: int, structs: list[Any], at: list[int], wall_now: float
    ) -> tuple[DecodedBatch, list[int]]:
        """The structs of one kind that the contract surely accepts, as columns, and the
        indices of the others: every check of the models and of parse_input that msgspec's
        types did not make."""
        count = len(structs)
        if not count:
            return _Rows().batch(), []
        columns = [list(map(get, structs)) for get in _FIELDS[code]]
        event_id, customer_id, ts, detail = columns[:4]
        # An interaction's identifier is its channel; the others', their order or survey id.
        named = columns[4] if code == INTERACTION else detail
        ok = _identifiers(event_id, customer_id, named)
        seconds, timely = _timestamps(ts)
        ok &= timely & (seconds >= EARLIEST_TS) & (seconds <= wall_now + MAX_CLOCK_SKEW_S)
        amount = np.full(count, math.nan)
        refund = np.zeros(count, dtype=np.bool_)
        nps = csat = np.full(count, ABSENT, dtype=np.int8)
        channel: Sequence[str | None] = columns[4] if code != SURVEY else [None] * count
        currency: Sequence[str | None] = [None] * count
        if code == PURCHASE:
            amount = np.fromiter(columns[5], dtype=np.float64, count=count)
            ok &= (amount >= 0) & (amount <= MAX_AMOUNT)
            known, currency = self._read_currencies(columns[6])
            ok &= known
            refund = np.fromiter(columns[7], dtype=np.bool_, count=count)
        elif code == INTERACTION:
            ok &= np.fromiter(map(self._types.__contains__, detail), dtype=np.bool_, count=count)
        else:
            nps = np.fromiter(map(_NPS.get, columns[4], repeat(_OUT_OF_RANGE)), np.int8, count)
            csat = np.fromiter(map(_CSAT.get, columns[5], repeat(_OUT_OF_RANGE)), np.int8, count)
            ok &= (nps != _OUT_OF_RANGE) & (csat != _OUT_OF_RANGE) & ((nps >= 0) | (csat >= 0))
        if ok.all():
            return (
                DecodedBatch(
                    index=np.array(at, dtype=np.int64),
                    kind=np.full(count, code, dtype=np.int8),
                    ts=seconds,
                    amount=amount,
                    refund=refund,
                    nps=nps,
                    csat=csat,
                    customer_id=customer_id,
                    event_id=event_id,
                    detail=detail,
                    channel=list(channel),
                    currency=list(currency),
                ),
                [],
            )
        keep = ok.tolist()
        return (
            DecodedBatch(
                index=np.array(at, dtype=np.int64)[ok],
                kind=np.full(int(ok.sum()), code, dtype=np.int8),
                ts=seconds[ok],
                amount=amount[ok],
                refund=refund[ok],
                nps=nps[ok],
                csat=csat[ok],
                customer_id=list(compress(customer_id, keep)),
                event_id=list(compress(event_id, keep)),
                detail=list(compress(detail, keep)),
                channel=list(compress(channel, keep)),
                currency=list(compress(currency, keep)),
            ),
            [i for i, sure in zip(at, keep, strict=True) if not sure],
        )

    def _read_currencies(
        self, sent: Sequence[str]
    ) -> tuple[npt.NDArray[np.bool_], list[str | None]]:
        """Per currency as sent: whether the fast path accepts it, and as the model reads it
        (upper case), or None."""
        cache = self._currencies
        read: list[str | None] = list(map(cache.get, sent))
        if None in read:
            allowed = self.rules.currencies
            for r, upper in enumerate(read):
                code = sent[r]
                if upper is not None or not _currency_code(code):
                    continue
                upper = code.upper()
                if allowed is None or upper in allowed:
                    read[r] = upper
                    if len(cache) < _CURRENCY_CACHE:
                        cache[code] = upper
        known = np.fromiter(map(bool, read), dtype=np.bool_, count=len(read))
        return known, read


@dataclass
class _Rows:
    """Rows of the events parse_input accepted, to merge with the fast path's."""

    index: list[int] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    amount: list[float] = field(default_factory=list)
    refund: list[bool] = field(default_factory=list)
    nps: list[int] = field(default_factory=list)
    csat: list[int] = field(default_factory=list)
    customer_id: list[str] = field(default_factory=list)
    event_id: list[str] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)
    channel: list[str | None] = field(default_factory=list)
    currency: list[str | None] = field(default_factory=list)

    def add(self, i: int, event: AnyInput) -> None:
        amount, refund, nps, csat = math.nan, False, ABSENT, ABSENT
        channel = currency = None
        if isinstance(event, Purchase):
            code, detail, channel = PURCHASE, event.order_id, event.channel
            amount, refund, currency = event.amount, event.refund, event.currency
        elif isinstance(event, Interaction):
            code, detail, channel = INTERACTION, event.type, event.channel
        else:
            assert isinstance(event, Survey)
            code, detail = SURVEY, event.survey_id
            nps = ABSENT if event.nps is None else event.nps
            csat = ABSENT if event.csat is None else event.csat
        self.index.append(i)
        self.kind.append(code)
        self.ts.append(event.ts.timestamp())
        self.amount.append(amount)
        self.refund.append(refund)
        self.nps.append(nps)
        self.csat.append(csat)
        self.customer_id.append(event.customer_id)
        self.event_id.append(event.event_id)
        self.detail.append(detail)
        self.channel.append(channel)
        self.currency.append(currency)

    def batch(self) -> DecodedBatch:
        return DecodedBatch(
            index=np.array(self.index, dtype=np.int64),
            kind=np.array(self.kind, dtype=np.int8),
            ts=np.array(self.ts, dtype=np.float64),
            amount=np.array(self.amount, dtype=np.float64),
            refund=np.array(self.refund, dtype=np.bool_),
            nps=np.array(self.nps, dtype=np.int8),
            csat=np.array(self.csat, dtype=np.int8),
            customer_id=self.customer_id,
            event_id=self.event_id,
            detail=self.detail,
            channel=self.channel,
            currency=self.currency,
        )


def _merged(parts: list[DecodedBatch]) -> DecodedBatch:
    """All parts' rows, in batch order."""
    order = np.argsort(np.concatenate([part.index for part in parts]), kind="stable")
    return _stacked(parts, order.tolist())


def _joined(slices: list[tuple[int, DecodedBatch]]) -> DecodedBatch:
    """Consecutive slices of a batch, each decoded with indices from its own start."""
    return _stacked(
        [part for _, part in slices],
        None,
        index=np.concatenate([part.index + start for start, part in slices]),
        rejected=[(i + start, exc) for start, part in slices for i, exc in part.rejected],
        slow=np.concatenate([part.slow + start for start, part in slices]),
    )


_ARRAYS = ("index", "kind", "ts", "amount", "refund", "nps", "csat")
_STRINGS = ("customer_id", "event_id", "detail", "channel", "currency")


def _stacked(parts: list[DecodedBatch], rows: list[int] | None, **given: Any) -> DecodedBatch:
    """The parts' rows one after another, or in ``rows`` order; ``given`` fields as given."""
    fields: dict[str, Any] = {}
    for name in _ARRAYS:
        joined = np.concatenate([getattr(part, name) for part in parts])
        fields[name] = joined if rows is None else joined[rows]
    for name in _STRINGS:
        every = [value for part in parts for value in getattr(part, name)]
        fields[name] = every if rows is None else [every[r] for r in rows]
    return DecodedBatch(**{**fields, **given})


def _decode(
    decode: Callable[[bytes], Any], raws: Sequence[bytes], at: list[int]
) -> tuple[list[Any], list[int], list[int]]:
    """The structs msgspec reads from ``raws`` (the records at ``at``), their indices, and the
    indices of the records it refuses."""
    structs: list[Any] = []
    decoded: list[int] = []
    refused: list[int] = []
    for start in range(0, len(raws), _CHUNK):
        chunk = raws[start : start + _CHUNK]
        try:
            structs += map(decode, chunk)
        except _MSGSPEC_REFUSALS:
            del structs[len(decoded) :]
            for i, raw in zip(at[start : start + _CHUNK], chunk, strict=True):
                try:
                    structs.append(decode(raw))
                except _MSGSPEC_REFUSALS:
                    refused.append(i)
                else:
                    decoded.append(i)
        else:
            decoded += at[start : start + _CHUNK]
    return structs, decoded, refused


def _contract_takes_type(kind: str) -> bool:
    """Whether parse_input accepts an interaction of this type (its pattern and length)."""
    probe = msgspec.json.encode(
        {
            "event_id": "e",
            "customer_id": "c",
            "ts": "2000-01-01T00:00:00Z",
            "type": kind,
            "channel": "c",
        }
    )
    try:
        parse_input("interaction", probe, max_bytes=len(probe), rules=InputRules(frozenset({kind})))
    except InvalidInput:
        return False
    return True


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def _currency_code(code: str) -> bool:
    """Whether ``code`` matches ``^[A-Za-z]{3}$``."""
    return len(code) == 3 and _CURRENCY_LETTERS.issuperset(code)


def _identifiers(*columns: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Per row of the columns: whether each is surely a valid ``Identifier``: 1-200
    characters, ``^\\S(.*\\S)?$`` (no line feed, and no space first or last by
    ``str.isspace``, which calls all of Unicode's ``White_Space`` space and U+001C-U+001F
    too). The columns are checked as one, since each check costs as much for one value."""
    values = list(chain.from_iterable(columns))
    count = len(values)
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=count)
    ok = (lengths >= 1) & (lengths <= _IDENTIFIER_MAX)
    joined = "".join(values)
    if "\n" in joined:
        ok &= np.fromiter(("\n" not in v for v in values), dtype=np.bool_, count=count)
    if joined.isascii() and joined:
        # The first and last characters of each, read from the values laid end to end.
        text = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
        ends = np.cumsum(lengths)
        last = len(text) - 1
        firsts = text[np.minimum(ends - lengths, last)]
        lasts = text[np.maximum(ends - 1, 0)]
        ok &= ~(_ASCII_SPACE[firsts] | _ASCII_SPACE[lasts])
    else:
        ok &= np.fromiter(map(eq, map(str.strip, values), values), dtype=np.bool_, count=count)
    rows = len(columns[0]) if columns else 0
    every = ok[:rows]
    for start in range(rows, count, rows or 1):
        every = every & ok[start : start + rows]
    return every


def _timestamps(texts: Sequence[str]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Epoch seconds of the times the fast path reads (see
    :mod:`stream.core.kernels.timestamps`), and per text whether it is one."""
    count = len(texts)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=count)
    joined = "".join(texts)
    if not joined.isascii():
        plain = np.fromiter(map(str.isascii, texts), dtype=np.bool_, count=count)
        lengths[~plain] = 0
        joined = "".join(compress(texts, plain.tolist()))
    starts = np.cumsum(lengths) - lengths
    micros = np.empty(count, dtype=np.int64)
    text = np.frombuffer(joined.encode("ascii") or b"\0", dtype=np.uint8)
    micros_since_epoch(text, starts, lengths, micros)
    # Below 2**53 both are exact, so the division rounds once, as timedelta.total_seconds().
    return micros / 1e6, micros != NOT_READ
