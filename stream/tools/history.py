"""Historical event files, as read by ``stream replay`` and ``stream backtest``.

Two formats, told apart by the first non-blank byte (``{`` means JSONL) unless ``--format``
says which:

- JSONL in our schema: one input event per line; ``event_type`` (``purchase``,
  ``interaction``, ``survey``) names its topic. Without one, the type is read off the field only
  that type has (``order_id``, ``type``, ``survey_id``).
- CSV of transactions with a header row: one purchase per row, from the columns named by
  ``--customer-col``, ``--time-col``, ``--amount-col`` and optionally ``--order-col``, in
  ``--currency``. With ``--order-col``, the rows of one customer's order (a file of line
  items) are one purchase of their summed amount, at the earliest row's time; without it,
  each row is one. With ``--quantity-col`` the amount column is a unit price.
  ``--delimiter whitespace`` reads space-aligned files such as CDNOW's. An amount (and a
  quantity) is a plain number such as ``1234.50``: a decimal point, no currency symbol and no
  thousands separator; an exponent is read too, as R writes 100000 (``1e+05``). Rows of empty
  cells, as spreadsheets write below their data, are skipped like blank lines.

Timestamps without a timezone (plain dates, or date-times without an offset) are read as UTC,
so a plain date is midnight UTC (DOMAIN.md). A line without an ``event_id`` (every CSV row)
gets one made from what it says (:class:`ContentIds`), and a CSV row without an order column
gets that as its ``order_id``: reading the same file again, an export that overlaps it or the
same file grown longer gives the same ids for the same rows, so the engine drops the copies,
while rows that differ never share an id, whatever their files are called.

Each line becomes a :class:`Record`, the JSON value as it would go on its topic, or a
:class:`Rejected` with the line number and a reason; validation of the records themselves is
``schemas.inputs.parse_input``'s, as in the worker. Files ending in ``.gz`` are decompressed.
Files are UTF-8, with or without a byte-order mark; a file with no usable line is an error
(:func:`require_events`), not an empty success.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import gzip
import hashlib
import io
import math
import re
import unicodedata
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar

import orjson

from schemas.inputs import CURRENCY_CODE, SCHEMA_VERSION
from stream.tools.options import UsageError

KINDS = ("purchase", "interaction", "survey")
TELLTALE_FIELDS = (("order_id", "purchase"), ("type", "interaction"), ("survey_id", "survey"))
WHITESPACE = "whitespace"
DELIMITERS = {",": "','", ";": "';'", "\t": "'\\t'", "|": "'|'", WHITESPACE: WHITESPACE}
"""The delimiters a header read as one column is checked for, each as ``--delimiter`` takes it."""
MAX_ROW_LINES = 10
"""Lines one CSV row may span (quoted fields with line breaks in them). A longer row is taken
for a quote left open, as is one that runs to the end of the file: its first line is rejected
and the lines after it are read again, so one stray quote cannot swallow the rest of the file
into one field."""
NOT_A_TIME = "is not an ISO 8601 date or date-time such as 2024-01-05 or 2024-01-05 10:00:00"
"""Why a CSV time is refused, with examples: a spreadsheet writes dates as its locale shows
them (05/01/2024), which no reader can tell from the 1st of May."""
PROGRESS_LINES = 10_000
"""How often, in lines, a reader tells its ``progress`` how far it has read."""
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
"""An amount as a CSV file should write it. Python's ``float`` takes more: ``1_000``, digits of
other scripts, ``nan`` and ``inf``, none of which a transaction export means as an amount."""


class HistoryError(UsageError):
    """The file cannot be used at all (missing, unreadable, without the named columns, or
    without a usable event)."""


class Record(NamedTuple):
    line: int
    kind: str
    """``purchase``, ``interaction`` or ``survey``: which input topic it belongs on."""
    value: bytes
    merged: tuple[int, ...] = ()
    """The later lines of a CSV order summed into this one."""

    @property
    def lines(self) -> tuple[int, ...]:
        return (self.line, *self.merged)


class Rejected(NamedTuple):
    line: int
    reason: str

    @property
    def lines(self) -> tuple[int, ...]:
        return (self.line,)


@dataclass(frozen=True)
class CsvColumns:
    """Where a CSV file keeps each purchase field."""

    customer: str = "customer_id"
    time: str = "ts"
    amount: str = "amount"
    order: str | None = None
    quantity: str | None = None
    """With it, ``amount`` is a unit price and a row's amount is quantity times price."""
    currency: str = "EUR"
    delimiter: str = ","
    """One character, or ``whitespace`` for runs of blanks (leading blanks ignored)."""


class Rejections:
    """Rejected lines grouped by reason: how many, and the first line with each; with
    ``out`` (``--rejected-out``, opened by the command), also every one as a ``line,reason``
    CSV row. A reason that names the line's values is grouped by its summary, which does not
    (see ``schemas.reasons``)."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.by_reason: dict[str, list[int]] = {}  # reason -> [count, first line]
        self.total = 0
        self._writer = csv.writer(out) if out else None
        if self._writer:
            self._writer.writerow(("line", "reason"))

    def add(self, lines: tuple[int, ...], reason: str, summary: str | None = None) -> None:
        """Reject ``lines``: one line, or every line of a CSV order."""
        self.total += len(lines)
        if self._writer:
            self._writer.writerows((line, reason) for line in lines)
        group = reason if summary is None else summary
        seen = self.by_reason.get(group)
        if seen is None:
            self.by_reason[group] = [len(lines), lines[0]]
        else:
            seen[0] += len(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "reasons": [
                {"reason": reason, "count": count, "first_line": line}
                for reason, (count, line) in sorted(
                    self.by_reason.items(), key=lambda item: (-item[1][0], item[1][1])
                )
            ],
        }


def describe(rejected: dict[str, Any], limit: int = 10) -> list[str]:
    """Readable lines for :meth:`Rejections.as_dict`, most frequent reason first."""
    reasons = rejected["reasons"]
    shown = [
        f"{r['count']} x {r['reason']} (first at line {r['first_line']})" for r in reasons[:limit]
    ]
    if len(reasons) > limit:
        shown.append(f"... and {_counted(len(reasons) - limit, 'other reason')}")
    return shown


def _counted(count: int, thing: str) -> str:
    return f"{count} {thing}" + ("" if count == 1 else "s")


def require_events(source: str, events: int, rejections: Rejections) -> None:
    """Raise :class:`HistoryError` when ``source`` gave no events: a wrong file or wrong
    column options, not a run with nothing to do. The message gives the top reasons."""
    if events:
        return
    if not rejections.total:
        raise HistoryError(f"{source} has no events to read")
    reasons = "; ".join(describe(rejections.as_dict(), limit=3))
    raise HistoryError(f"{source}: all {rejections.total} lines were rejected: {reasons}")


class ContentIds:
    """Event ids for the lines of one file, from their content.

    An id hashes the event's content and how many identical lines came before it in the file:
    two identical rows are two purchases (CDNOW has such rows), yet reading the file again
    gives both the same ids as before. The file name is left out, so that monthly exports
    that share one (``jan/orders.csv``, ``feb/orders.csv``) do not share ids.
    """

    def __init__(self) -> None:
        self._seen: dict[bytes, int] = {}  # content digest -> lines with it so far

    def next(self, content: bytes) -> str:
        """The id of the next line whose event is ``content`` (unambiguous bytes, e.g. JSON)."""
        digest = hashlib.blake2b(content, digest_size=16).digest()
        earlier = self._seen.get(digest, 0)
        self._seen[digest] = earlier + 1
        return digest.hex() if not earlier else f"{digest.hex()}-{earlier + 1}"


def read_history(
    path: Path,
    columns: CsvColumns | None = None,
    fmt: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Record | Rejected]:
    """Every line of ``path`` as a :class:`Record` or a :class:`Rejected`, in file order.

    ``fmt`` is ``jsonl`` or ``csv``; ``None`` looks at the file. ``progress(lines read)`` is
    called every ``PROGRESS_LINES`` lines: a CSV of line items is read whole before its first
    order comes out. Raises :class:`HistoryError` when the file cannot be read or lacks a
    named CSV column.
    """
    path = Path(path)
    try:
        fmt = fmt or detect_format(path)
        with _open(path) as raw:
            if fmt == "jsonl":
                yield from _jsonl(raw, progress)
            elif fmt == "csv":
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                yield from _csv(text, path.name, columns or CsvColumns(), progress)
            else:
                raise HistoryError(f"unknown format {fmt!r}; expected jsonl or csv")
    # gzip finds a file that is not gzip (an OSError), cut short or corrupt only as it reads.
    except (OSError, EOFError, zlib.error) as exc:
        raise HistoryError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except UnicodeDecodeError as exc:
        raise HistoryError(
            f"cannot read {path}: it is not UTF-8 (it has byte 0x{exc.object[exc.start]:02x}, "
            f"{exc.reason}); convert it to UTF-8 first"
        ) from None


def detect_format(path: Path) -> str:
    with _open(path) as raw:
        start = raw.read(4096).removeprefix(codecs.BOM_UTF8).lstrip()
    return "jsonl" if start.startswith(b"{") else "csv"


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def utc_rfc3339(text: str) -> str | None:
    """``text`` (ISO 8601, basic or extended) as RFC 3339, naive read as UTC; None if not ISO.

    >>> utc_rfc3339("1997-01-01"), utc_rfc3339("19970101")
    ('1997-01-01T00:00:00+00:00', '1997-01-01T00:00:00+00:00')
    >>> utc_rfc3339("2024-03-05T10:30:00+01:00"), utc_rfc3339("05/03/2024")
    ('2024-03-05T10:30:00+01:00', None)
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


_Line = TypeVar("_Line", str, bytes)


def _numbered(
    lines: Iterable[_Line], progress: Callable[[int], None] | None
) -> Iterator[tuple[int, _Line]]:
    for number, line in enumerate(lines, 1):
        if progress is not None and not number % PROGRESS_LINES:
            progress(number)
        yield number, line


def _jsonl(lines: IO[bytes], progress: Callable[[int], None] | None) -> Iterator[Record | Rejected]:
    ids = ContentIds()
    for number, line in _numbered(lines, progress):
        line = (line.removeprefix(codecs.BOM_UTF8) if number == 1 else line).strip()
        if not line:
            continue
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield Rejected(number, "not valid JSON")
            continue
        if not isinstance(event, dict):
            yield Rejected(number, "not a JSON object")
            continue
        changed = False
        kind = event.get("event_type")
        if kind is None:
            kind = next((k for field, k in TELLTALE_FIELDS if field in event), None)
            event["event_type"] = kind
            changed = True
        if kind not in KINDS:
            yield Rejected(
                number,
                f"event_type {kind!r} is not one of {', '.join(KINDS)}"
                if kind is not None
                else "no event_type, and no order_id, type or survey_id to tell it by",
            )
            continue
        ts = event.get("ts")
        if isinstance(ts, str):
            try:
                naive = datetime.fromisoformat(ts).tzinfo is None
            except ValueError:
                naive = False  # parse_input gives the reason
            if naive:
                event["ts"] = utc_rfc3339(ts)
                changed = True
        if "event_id" not in event:
            # With sorted keys, after a time without a timezone is read as UTC, so that key
            # order and a missing "Z" do not make the same event another one.
            event["event_id"] = ids.next(orjson.dumps(event, option=orjson.OPT_SORT_KEYS))
            changed = True
        yield Record(number, kind, orjson.dumps(event) if changed else line)


def _csv(
    text: IO[str], source: str, columns: CsvColumns, progress: Callable[[int], None] | None
) -> Iterator[Record | Rejected]:
    rows = _rows(text, columns.delimiter, progress)
    header = _header(rows, source)
    if header is None:
        return  # nothing but blank lines: require_events says so
    wanted = [columns.customer, columns.time, columns.amount]
    if columns.order is not None:
        wanted.append(columns.order)
    if columns.quantity is not None:
        wanted.append(columns.quantity)
    missing = [name for name in wanted if name not in header]
    delimiter = _likely_delimiter(header, wanted, columns.delimiter) if missing else None
    if delimiter is not None:
        raise HistoryError(
            f"{source} looks delimited by {DELIMITERS[delimiter]}: its header is the one column "
            f"{header[0]!r}; read it with --delimiter {DELIMITERS[delimiter]}"
        )
    if missing:
        raise HistoryError(
            f"{source} has no column {', '.join(map(repr, missing))}; its header has "
            f"{', '.join(map(repr, header))} (name them with --customer-col, --time-col, "
            "--amount-col, --order-col, --quantity-col)"
        )
    at = [header.index(name) for name in wanted]
    width = max(at) + 1
    if columns.order is not None:
        yield from _orders(_purchase_rows(rows, header, at, width, columns), columns)
        return
    ids = ContentIds()
    for item in _purchase_rows(rows, header, at, width, columns):
        if isinstance(item, Rejected):
            yield item
            continue
        number, customer, ts, value, _ = item
        own_id = ids.next(orjson.dumps([customer, ts, value, None, columns.currency]))
        yield Record(number, "purchase", _purchase(own_id, customer, ts, own_id, value, columns))


def _purchase(
    event_id: str, customer: str, ts: str, order: str, amount: float, columns: CsvColumns
) -> bytes:
    return orjson.dumps(
        {
            "event_type": "purchase",
            "schema_version": SCHEMA_VERSION,
            "event_id": event_id,
            "customer_id": customer,
            "ts": ts,
            "order_id": order,
            "amount": amount,
            "currency": columns.currency,
        }
    )


def _orders(rows: Iterator[_Row | Rejected], columns: CsvColumns) -> Iterator[Record | Rejected]:
    """One purchase per customer and order: a file of line items has a row per product
    bought, and counting each as a purchase would inflate frequency and shorten cadence.

    The amounts are summed, at the earliest row's time. The whole file is read first and an
    order comes out at its first line, so output stays in line order. An order of one row
    gets the id it would get if orders were not grouped.
    """
    found: list[_Order | Rejected] = []
    orders: dict[tuple[str, str], _Order] = {}
    for item in rows:
        if isinstance(item, Rejected):
            found.append(item)
            continue
        assert item.order is not None
        order = orders.get((item.customer, item.order))
        if order is None:
            order = _Order(item)
            found.append(order)
            orders[item.customer, item.order] = order
        else:
            order.add(item)
    ids = ContentIds()
    for entry in found:
        if isinstance(entry, Rejected):
            yield entry
            continue
        customer, order_id, ts, value = (
            entry.first.customer,
            entry.order_id,
            entry.ts,
            entry.amount(),
        )
        own_id = ids.next(orjson.dumps([customer, ts, value, order_id, columns.currency]))
        event = _purchase(own_id, customer, ts, order_id, value, columns)
        yield Record(entry.first.line, "purchase", event, tuple(row.line for row in entry.later))


class _Order:
    """The rows of one customer's order, as :func:`_orders` gathers them."""

    def __init__(self, first: _Row) -> None:
        assert first.order is not None
        self.first = first
        self.order_id = first.order
        self.ts = first.ts
        self.later: list[_Row] = []

    def add(self, row: _Row) -> None:
        self.later.append(row)
        if datetime.fromisoformat(row.ts) < datetime.fromisoformat(self.ts):
            self.ts = row.ts

    def amount(self) -> float:
        if not self.later:
            return self.first.amount
        # In decimal, as the file writes them: 0.10 + 0.20 is 0.30, not 0.30000000000000004.
        rows = [self.first, *self.later]
        return float(sum(Decimal(repr(row.amount)) for row in rows))


class _Row(NamedTuple):
    line: int
    customer: str
    ts: str
    amount: float
    order: str | None


def _purchase_rows(
    rows: Iterator[tuple[int, list[str]] | Rejected],
    header: list[str],
    at: list[int],
    width: int,
    columns: CsvColumns,
) -> Iterator[_Row | Rejected]:
    """The purchase fields of each row, or why they are not usable."""
    times: dict[str, str | None] = {}  # dates repeat a lot in transaction logs
    for item in rows:
        if isinstance(item, Rejected):
            yield item
            continue
        number, row = item
        if _blank(row):
            continue
        if len(row) < width:
            yield Rejected(
                number, f"{_counted(len(row), 'field')} where the header has {len(header)}"
            )
            continue
        fields = [row[i].strip() for i in at]
        empty = next((header[i] for i, field in zip(at, fields, strict=True) if not field), None)
        if empty is not None:  # say so in the file's terms, before validation does in ours
            yield Rejected(number, f"{empty} is empty")
            continue
        customer, when, amount = fields[0], fields[1], fields[2]
        if when in times:
            ts = times[when]
        else:
            ts = times[when] = utc_rfc3339(when)
        if ts is None:
            yield Rejected(number, f"{columns.time} {NOT_A_TIME}")
            continue
        try:
            value = _amount(amount, columns.amount)
            if columns.quantity is not None:
                value = _line_total(fields[-1], amount, columns.quantity)
        except ValueError as exc:
            yield Rejected(number, str(exc))
            continue
        yield _Row(number, customer, ts, value, fields[3] if columns.order is not None else None)


def _line_total(quantity: str, price: str, column: str) -> float:
    """Quantity times unit price, in decimal (3 x 1.10 is 3.30, not 3.3000000000000003)."""
    _amount(quantity, column)
    total = float(Decimal(quantity) * Decimal(price))
    if not math.isfinite(total):
        raise ValueError(f"{column} times the price is not a finite number")
    return total


def _amount(text: str, column: str) -> float:
    """``text`` as an amount, or a ValueError whose message is the reason it is not one.

    The reason names the kind of problem, never the value: rejections are counted by reason.
    """
    if PLAIN_NUMBER.fullmatch(text):
        value = float(text)
        if math.isfinite(value):
            return value
        reason = "is not a finite number"  # too large for a float, such as 1e999
    elif text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        reason = "is not a finite number"
    elif any(unicodedata.category(char) == "Sc" for char in text):
        reason = (
            "has a currency symbol; expected a plain number such as 1234.50 (the currency is "
            "given by --currency)"
        )
    elif "," in text:
        reason = (
            "has a comma; expected a plain number such as 1234.50, with a decimal point and "
            "no thousands separator"
        )
    else:
        reason = (
            "is not a plain number such as 1234.50 (a decimal point, no currency symbol, "
            "no thousands separator)"
        )
    raise ValueError(f"{column} {reason}")


class _Lines:
    """A file's lines for ``csv.reader``, numbered, noting the ones each row takes; the lines
    of a row that turned out unreadable can be put back to be read again."""

    def __init__(self, text: IO[str], progress: Callable[[int], None] | None) -> None:
        self._text = _numbered(text, progress)
        self._again: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []
        self.ended = False
        """Whether the reader asked past the last line. It does so for a row only from inside
        a quoted field: a row that ends cleanly ends with its line."""

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            line = self._again.popleft()
        else:
            try:
                line = next(self._text)
            except StopIteration:
                self.ended = True
                raise
        self.taken.append(line)
        return line[1]

    def put_back(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))
        self.ended = False


def _rows(
    text: IO[str], delimiter: str, progress: Callable[[int], None] | None
) -> Iterator[tuple[int, list[str]] | Rejected]:
    """``(line number, fields)`` of each row, or why it cannot be read; a quoted field may
    span lines in CSV, up to ``MAX_ROW_LINES``."""
    if delimiter == WHITESPACE:
        for number, line in _numbered(text, progress):
            yield number, line.split()
        return
    lines = _Lines(text, progress)
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        lines.taken = []
        error = None
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL byte
            error = f"unreadable CSV: {exc}"
        taken = lines.taken
        if len(taken) > MAX_ROW_LINES or (len(taken) > 1 and lines.ended):
            # The row's first line opened a quote that its own line did not close. One that
            # only the file's end closes would take the lines up to it into one field.
            runs = (
                f"over more than {MAX_ROW_LINES} lines"
                if len(taken) > MAX_ROW_LINES
                else "to the end of the file"
            )
            error = (
                f"a quoted field runs {runs}: a quote left open? (the lines after this one "
                "are read again)"
            )
            lines.put_back(taken[1:])
        if error is not None:
            yield Rejected(taken[0][0], error)
        else:
            yield taken[0][0], row


def _header(rows: Iterator[tuple[int, list[str]] | Rejected], source: str) -> list[str] | None:
    """The column names on the first row that is not blank; None if there is none."""
    for item in rows:
        if isinstance(item, Rejected):
            raise HistoryError(f"cannot read the header of {source}: {item.reason}")
        if not _blank(item[1]):
            return [name.strip() for name in item[1]]
    return None


def _likely_delimiter(header: list[str], wanted: list[str], delimiter: str) -> str | None:
    """The delimiter that a header read as one column seems to use instead of ``delimiter``:
    the one that splits it into the wanted column names, else a common one it contains."""
    if len(header) != 1:
        return None
    others = [other for other in DELIMITERS if other != delimiter]
    for other in others:
        names = header[0].split() if other == WHITESPACE else header[0].split(other)
        if set(wanted) <= {name.strip() for name in names}:
            return other
    # Blanks are too common inside a single column name to suggest on their own.
    return next((other for other in others if other != WHITESPACE and other in header[0]), None)


def _blank(row: list[str]) -> bool:
    """A row with nothing in it: a blank line, or only empty cells (``,,,``), as a spreadsheet
    exports the rows below its data that were once formatted."""
    return not any(field.strip() for field in row)


# -- the options both commands share ------------------------------------------------------


def add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="JSONL or CSV (.gz too)")
    parser.add_argument(
        "--format", choices=("jsonl", "csv"), help="default: JSONL if the file starts with '{'"
    )
    group = parser.add_argument_group(
        "CSV files (one purchase per row, or per order with --order-col; header required)"
    )
    group.add_argument(
        "--customer-col", type=column, default="customer_id", help="default %(default)s"
    )
    group.add_argument(
        "--time-col",
        type=column,
        default="ts",
        help="ISO 8601 date or date-time; without a timezone read as UTC; default %(default)s",
    )
    group.add_argument(
        "--amount-col",
        type=column,
        default="amount",
        help="a plain number such as 1234.50 or 1e+05: no thousands separator, no currency "
        "symbol; default %(default)s",
    )
    group.add_argument(
        "--order-col",
        type=column,
        help="default: the row's event id. The rows of one customer with the same order id "
        "(line items) are one purchase of their summed amount, at the earliest row's time",
    )
    group.add_argument(
        "--quantity-col",
        type=column,
        help="default: none. With it, --amount-col is a unit price and a row's amount is "
        "quantity times price",
    )
    group.add_argument(
        "--currency", type=currency, default="EUR", help="ISO 4217 code; default %(default)s"
    )
    group.add_argument(
        "--delimiter",
        default=",",
        help="one character, or 'whitespace' for space-aligned columns; default ','",
    )
    parser.add_argument(
        "--rejected-out",
        type=Path,
        metavar="FILE.csv",
        help="write line,reason for every rejected line, in line order (an order's lines "
        "together, at its first) ('-': standard output)",
    )


def column(text: str) -> str:
    """An argparse ``type``: a column name as the header is read, without the blanks around
    it, so that a name copied with them from the file still matches."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a column name cannot be empty")
    return text.strip()


def currency(text: str) -> str:
    """An argparse ``type``: a currency code that purchases accept, checked before the file is
    read rather than found on every row of it."""
    if not re.fullmatch(CURRENCY_CODE, text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 4217 code: three letters, such as EUR or USD"
        )
    return text.upper()


def columns_from(args: argparse.Namespace) -> CsvColumns:
    delimiter = "\t" if args.delimiter == "\\t" else args.delimiter
    if delimiter != WHITESPACE and len(delimiter) != 1:
        raise HistoryError(f"--delimiter {args.delimiter!r} must be one character or whitespace")
    return CsvColumns(
        customer=args.customer_col,
        time=args.time_col,
        amount=args.amount_col,
        order=args.order_col,
        quantity=args.quantity_col,
        currency=args.currency,
        delimiter=delimiter,
    )
