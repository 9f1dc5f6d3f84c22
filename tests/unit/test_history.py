"""Reading history files: CSV and JSONL, plain dates as midnight UTC, rejected lines with
reasons, deterministic ids that let the engine drop a second replay."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import orjson
import pytest

from schemas.inputs import InputRules, parse_input
from stream.core.config import EngineConfig
from stream.core.engine import Engine
from stream.tools import history
from stream.tools.history import (
    CsvColumns,
    HistoryError,
    Record,
    Rejected,
    Rejections,
    read_history,
    require_events,
    utc_rfc3339,
)
from stream.tools.replay import beyond_dedup, valid_events

MAX = 100_000
NOT_PLAIN = (
    "is not a plain number such as 1234.50 (a decimal point, no currency symbol, "
    "no thousands separator)"
)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _events(items):
    return [orjson.loads(item.value) for item in items if isinstance(item, Record)]


def _rejected(items):
    return [(item.line, item.reason) for item in items if isinstance(item, Rejected)]


def test_csv_rows_become_purchases_with_ids_that_are_also_their_orders(tmp_path):
    path = _write(
        tmp_path,
        "shop.csv",
        "customer_id,ts,amount\n"
        "c1,2024-03-05,12.5\n"
        "c2,2024-03-05T10:30:00+01:00,7\n"
        "c1,2024-03-06 08:00:00,3.25\n",
    )
    events = _events(read_history(path))
    assert [e["customer_id"] for e in events] == ["c1", "c2", "c1"]
    assert len({e["event_id"] for e in events}) == 3
    assert [e["order_id"] for e in events] == [e["event_id"] for e in events]
    assert [e["amount"] for e in events] == [12.5, 7.0, 3.25]
    assert {e["currency"] for e in events} == {"EUR"}
    parsed = [parse_input("purchase", orjson.dumps(e), max_bytes=MAX) for e in events]
    # A plain date is midnight UTC, a naive date-time is UTC, an offset is kept.
    assert parsed[0].ts == datetime(2024, 3, 5, tzinfo=UTC)
    assert parsed[1].ts == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert parsed[2].ts == datetime(2024, 3, 6, 8, tzinfo=UTC)


def test_csv_columns_currency_and_order_are_configurable(tmp_path):
    path = _write(
        tmp_path,
        "orders.csv",
        "when;who;order;total;note\n2024-01-02;alice;A-1;99.90;gift\n",
    )
    columns = CsvColumns(
        customer="who", time="when", amount="total", order="order", currency="USD", delimiter=";"
    )
    (event,) = _events(read_history(path, columns))
    assert event["customer_id"] == "alice"
    assert event["order_id"] == "A-1"
    assert event["currency"] == "USD"
    assert event["ts"] == "2024-01-02T00:00:00+00:00"


def test_space_aligned_files_with_basic_iso_dates_are_read(tmp_path):
    # The layout of CDNOW_master.txt: leading blanks, runs of spaces, YYYYMMDD dates.
    path = _write(
        tmp_path,
        "cdnow.txt",
        " customer_id  date number_of_cds  dollar_value\n"
        " 00001 19970101  1   11.77\n"
        " 00002 19970112  5   77.00\n",
    )
    columns = CsvColumns(time="date", amount="dollar_value", delimiter="whitespace")
    events = _events(read_history(path, columns))
    assert [(e["customer_id"], e["ts"], e["amount"]) for e in events] == [
        ("00001", "1997-01-01T00:00:00+00:00", 11.77),
        ("00002", "1997-01-12T00:00:00+00:00", 77.0),
    ]


def test_bad_csv_rows_are_rejected_with_their_line_and_reason(tmp_path):
    path = _write(
        tmp_path,
        "bad.csv",
        "customer_id,ts,amount\n"
        "c1,05/03/2024,10\n"
        "c2,2024-03-05,ten\n"
        "c3,2024-03-05\n"
        "\n"
        "c5\n"
        'c4,2024-03-05,"1.5"\n',
    )
    items = list(read_history(path))
    assert _rejected(items) == [
        (2, "ts is not an ISO 8601 date or date-time such as 2024-01-05 or 2024-01-05 10:00:00"),
        (3, f"amount {NOT_PLAIN}"),
        (4, "2 fields where the header has 3"),
        (6, "1 field where the header has 3"),
    ]
    assert [(item.line, orjson.loads(item.value)["customer_id"]) for item in items[4:]] == [
        (7, "c4")
    ]


def test_amounts_are_plain_decimal_numbers(tmp_path):
    amounts = ["10", "-2", "+3.", ".5", "1.5e2", "0012.50"]
    path = _write(
        tmp_path,
        "ok.csv",
        "customer_id,ts,amount\n" + "".join(f"c1,2024-01-01,{amount}\n" for amount in amounts),
    )
    assert [e["amount"] for e in _events(read_history(path))] == [10, -2, 3, 0.5, 150, 12.5]


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ('"10,50"', "has a comma; expected a plain number such as 1234.50, with a decimal point "
         "and no thousands separator"),
        ('"1,000.50"', "has a comma; expected a plain number such as 1234.50, with a decimal "
         "point and no thousands separator"),
        ("€20", "has a currency symbol; expected a plain number such as 1234.50 (the currency "
         "is given by --currency)"),
        ("$20", "has a currency symbol; expected a plain number such as 1234.50 (the currency "
         "is given by --currency)"),
        ("1_000", NOT_PLAIN),
        ("１２", NOT_PLAIN),
        ("12 EUR", NOT_PLAIN),
        ("", "is empty"),
        ("nan", "is not a finite number"),
        ("-Infinity", "is not a finite number"),
        ("inf", "is not a finite number"),
        ("1e999", "is not a finite number"),
    ],
)  # fmt: skip
def test_an_amount_that_is_not_a_plain_number_says_what_was_expected(tmp_path, amount, reason):
    path = _write(tmp_path, "x.csv", f"customer_id,ts,total\nc1,2024-01-01,{amount}\n")
    assert _rejected(read_history(path, CsvColumns(amount="total"))) == [(2, f"total {reason}")]


def test_a_missing_csv_column_names_what_the_header_has(tmp_path):
    path = _write(tmp_path, "x.csv", "id,date,value\n1,2024-01-01,3\n")
    with pytest.raises(HistoryError, match=r"no column 'customer_id', 'ts', 'amount'.*'id'"):
        list(read_history(path))


@pytest.mark.parametrize(
    ("header", "delimiter", "suggested"),
    [
        ("customer_id;ts;amount", ",", "';'"),
        ("customer_id\tts\tamount", ",", "'\\t'"),
        ("who|when|total", ",", "'|'"),  # other column names: told by the character alone
        ("customer_id  ts  amount", ",", "whitespace"),
        ("customer_id,ts,amount", ";", "','"),
        ("customer_id,ts,amount", "whitespace", "','"),
    ],
)
def test_a_header_read_as_one_column_suggests_the_delimiter_it_uses(
    tmp_path, header, delimiter, suggested
):
    path = _write(tmp_path, "x.csv", f"{header}\n")
    with pytest.raises(HistoryError) as error:
        list(read_history(path, CsvColumns(delimiter=delimiter)))
    assert str(error.value) == (
        f"x.csv looks delimited by {suggested}: its header is the one column {header!r}; "
        f"read it with --delimiter {suggested}"
    )


def test_a_one_column_header_without_a_delimiter_names_the_column_options(tmp_path):
    path = _write(tmp_path, "x.csv", "customer id\nc1\n")
    with pytest.raises(HistoryError, match=r"its header has 'customer id' \(name them with"):
        list(read_history(path))


def test_jsonl_lines_go_to_the_topic_their_event_type_names(tmp_path):
    lines = [
        {"event_type": "purchase", "event_id": "p1", "customer_id": "c1",
         "ts": "2024-01-01T10:00:00Z", "order_id": "o1", "amount": 5, "currency": "EUR"},
        {"event_type": "interaction", "event_id": "i1", "customer_id": "c1",
         "ts": "2024-01-01T09:00:00Z", "type": "page_view", "channel": "web"},
        {"event_id": "s1", "customer_id": "c1", "ts": "2024-01-02T00:00:00Z",
         "survey_id": "nps", "nps": 9},
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    items = list(read_history(path))
    assert [(item.line, item.kind) for item in items] == [
        (1, "purchase"),
        (2, "interaction"),
        (3, "survey"),  # no event_type: told by survey_id
    ]
    assert items[0].value == orjson.dumps(lines[0])  # untouched lines go as they were
    assert orjson.loads(items[2].value)["event_type"] == "survey"


def test_jsonl_naive_times_are_utc_and_missing_ids_come_from_the_event(tmp_path):
    path = _write(
        tmp_path,
        "old.jsonl",
        '{"event_type": "purchase", "customer_id": "c1", "ts": "2023-12-31", '
        '"order_id": "o1", "amount": 1, "currency": "EUR"}\n'
        # The same event written another way: its type told by order_id, keys reordered,
        # the time in full.
        '{"currency": "EUR", "amount": 1, "order_id": "o1", "customer_id": "c1", '
        '"ts": "2023-12-31T00:00:00+00:00"}\n'
        '{"event_type": "purchase", "customer_id": "c1", "ts": "2023-12-31", '
        '"order_id": "o2", "amount": 1, "currency": "EUR"}\n',
    )
    events = [parse_input(item.kind, item.value, max_bytes=MAX) for item in read_history(path)]
    assert events[0].ts == datetime(2023, 12, 31, tzinfo=UTC)
    first, again, other = (event.event_id for event in events)
    assert again != first != other  # a repeat in one file is a second event
    (copy,) = read_history(_write(tmp_path, "copy.jsonl", path.read_text().splitlines()[1]))
    assert orjson.loads(copy.value)["event_id"] == first


def test_bad_jsonl_lines_are_rejected_with_reasons(tmp_path):
    path = _write(
        tmp_path,
        "bad.jsonl",
        '{"event_type": "purchase", "customer_id": "c1"\n'
        "[1, 2]\n"
        '{"event_type": "refund", "customer_id": "c1"}\n'
        '{"customer_id": "c1", "ts": "2024-01-01"}\n',
    )
    assert _rejected(read_history(path)) == [
        (1, "not valid JSON"),
        (2, "not a JSON object"),
        (3, "event_type 'refund' is not one of purchase, interaction, survey"),
        (4, "no event_type, and no order_id, type or survey_id to tell it by"),
    ]


def test_format_is_detected_and_gzip_is_read(tmp_path):
    path = tmp_path / "events.data.gz"
    with gzip.open(path, "wt") as out:
        out.write(
            '\n  {"event_type": "interaction", "event_id": "i1", "customer_id": "c1", '
            '"ts": "2024-01-01T09:00:00Z", "type": "login", "channel": "app"}\n'
        )
    (item,) = read_history(path)
    assert item.kind == "interaction" and item.line == 2


def test_a_jsonl_file_may_start_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.txt"
    path.write_bytes(
        b'\xef\xbb\xbf{"event_type": "interaction", "event_id": "i1", "customer_id": "c1", '
        b'"ts": "2024-01-01T09:00:00Z", "type": "login", "channel": "app"}\n'
    )
    (item,) = read_history(path)
    assert isinstance(item, Record) and item.kind == "interaction"


def test_a_csv_field_over_the_limit_rejects_its_row_only(tmp_path):
    path = _write(
        tmp_path,
        "notes.csv",
        f"customer_id,ts,amount\nc1,2024-01-01,{'9' * 200_000}\nc2,2024-01-02,3\n",
    )
    items = list(read_history(path))
    assert _rejected(items) == [(2, "unreadable CSV: field larger than field limit (131072)")]
    assert [e["customer_id"] for e in _events(items)] == ["c2"]


def test_a_quote_left_open_rejects_its_row_and_the_rows_after_it_are_read(tmp_path):
    rows = [f"c{i},2024-01-02,5,ok" for i in range(40)]
    rows[3] = 'c3,2024-01-02,5,"6 inch screen'  # never closed: it used to swallow the file
    rows[30] = 'c30,2024-01-02,5,"closes"'
    path = _write(tmp_path, "open.csv", "customer_id,ts,amount,note\n" + "\n".join(rows) + "\n")
    items = list(read_history(path))
    [(line, reason)] = _rejected(items)
    assert line == 5 and reason.startswith("a quoted field runs over more than 10 lines")
    assert len(_events(items)) == 39


def test_a_quote_left_open_near_the_end_does_not_swallow_the_last_rows(tmp_path):
    header = "customer_id,ts,amount,note\n"
    rows = 'c1,2024-01-01,5,"5 inch\nc2,2024-01-02,6,x\nc3,2024-01-03,7,y\n'
    items = list(read_history(_write(tmp_path, "tail.csv", header + rows)))
    assert _rejected(items) == [
        (2, "a quoted field runs to the end of the file: a quote left open? (the lines after "
         "this one are read again)")
    ]  # fmt: skip
    assert [e["customer_id"] for e in _events(items)] == ["c2", "c3"]
    # A last row's own open quote swallows nothing, and its purchase is whole.
    last = _write(tmp_path, "last.csv", header + 'c4,2024-01-04,8,"5 inch\n')
    assert [e["customer_id"] for e in _events(read_history(last))] == ["c4"]


def test_a_quoted_field_may_span_a_few_lines(tmp_path):
    path = _write(tmp_path, "notes.csv", 'customer_id,ts,amount,note\nc1,2024-01-01,5,"a\nb"\n')
    [event] = _events(read_history(path))
    assert event["customer_id"] == "c1"


@pytest.mark.parametrize("fmt", [None, "csv"])
def test_a_file_that_cannot_be_decoded_is_refused_whatever_the_format_option(tmp_path, fmt):
    not_gzip = _write(tmp_path, "fake.csv.gz", "customer_id,ts,amount\n")
    with pytest.raises(HistoryError, match=r"cannot read .*fake.csv.gz: Not a gzipped file"):
        list(read_history(not_gzip, fmt=fmt))
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("customer_id,ts,amount\nJosé,2024-01-01,5\n".encode("latin-1"))
    with pytest.raises(HistoryError, match=r"latin1.csv: it is not UTF-8 \(it has byte 0xe9"):
        list(read_history(latin1, fmt=fmt))


def test_a_blank_file_has_no_lines_and_no_usable_events_is_an_error(tmp_path):
    assert list(read_history(_write(tmp_path, "blank.csv", "  \n\n \n"))) == []
    with pytest.raises(HistoryError, match=r"^blank.csv has no events to read$"):
        require_events("blank.csv", 0, Rejections())
    rejections = Rejections()
    for line, reason in [(2, "a"), (3, "b"), (4, "a"), (5, "c"), (6, "d")]:
        rejections.add((line,), reason)
    with pytest.raises(HistoryError) as error:
        require_events("bad.csv", 0, rejections)
    assert str(error.value) == (
        "bad.csv: all 5 lines were rejected: 2 x a (first at line 2); 1 x b (first at line 3); "
        "1 x c (first at line 5); ... and 1 other reason"
    )
    require_events("good.csv", 1, rejections)


def test_rejections_group_reasons_and_list_every_line(tmp_path):
    out = tmp_path / "rejected.csv"
    with out.open("w", newline="") as file:
        rejections = Rejections(file)
        for lines, reason in [((3,), "b"), ((5, 7), "a"), ((9,), "b")]:
            rejections.add(lines, reason)
    assert rejections.as_dict() == {
        "total": 4,
        "reasons": [
            {"reason": "b", "count": 2, "first_line": 3},
            {"reason": "a", "count": 2, "first_line": 5},
        ],
    }
    assert out.read_text().splitlines() == ["line,reason", "3,b", "5,a", "7,a", "9,b"]


def test_valid_events_applies_the_workers_validation_and_sorts_by_event_time(tmp_path):
    path = _write(
        tmp_path,
        "mixed.csv",
        "customer_id,ts,amount\nc1,2024-02-01,5\nc2,2024-01-01,-3\nc3,2024-01-15,1\n",
    )
    rejections = Rejections()
    events, read = valid_events(read_history(path), rejections, max_bytes=MAX, rules=InputRules())
    assert [e["customer_id"] for e in events] == ["c3", "c1"] and read == 3
    assert rejections.as_dict()["reasons"] == [
        {
            "reason": "invalid purchase: amount is below 0",
            "count": 1,
            "first_line": 3,
        }
    ]


def test_reading_a_file_twice_gives_ids_the_engine_drops(tmp_path):
    path = _write(
        tmp_path,
        "twice.csv",
        "customer_id,ts,amount\nc1,2024-01-01,5\nc1,2024-01-20,7\nc2,2024-01-03,2\n",
    )
    engine = Engine(EngineConfig())
    emitted = datetime(2024, 2, 1, tzinfo=UTC)
    statuses = []
    for _ in range(2):
        for item in read_history(path):
            event = parse_input(item.kind, item.value, max_bytes=MAX)
            statuses.append(engine.process(event, 0, emitted).status)
    assert statuses == ["processed"] * 3 + ["duplicate"] * 3


def test_files_with_the_same_name_do_not_share_ids(tmp_path):
    # Monthly exports, each called orders.csv: February's purchase is not a copy of January's.
    (tmp_path / "jan").mkdir()
    (tmp_path / "feb").mkdir()
    jan = _write(tmp_path / "jan", "orders.csv", "customer_id,ts,amount\nzz1,2024-01-05,10\n")
    feb = _write(tmp_path / "feb", "orders.csv", "customer_id,ts,amount\nzz1,2024-02-05,99\n")
    engine = Engine(EngineConfig())
    emitted = datetime(2024, 3, 1, tzinfo=UTC)
    statuses = [
        engine.process(parse_input(item.kind, item.value, max_bytes=MAX), 0, emitted).status
        for path in (jan, feb)
        for item in read_history(path)
    ]
    assert statuses == ["processed", "processed"]


def test_identical_rows_are_separate_purchases_whose_ids_survive_a_longer_file(tmp_path):
    rows = "customer_id,ts,amount\nc1,2024-01-01,5\nc1,2024-01-01,5\n"
    first = _events(read_history(_write(tmp_path, "a.csv", rows)))
    grown = _events(read_history(_write(tmp_path, "b.csv", rows + "c1,2024-01-01,5.0\n")))
    assert len({e["event_id"] for e in grown}) == 3
    assert [e["event_id"] for e in grown[:2]] == [e["event_id"] for e in first]


def test_utc_rfc3339():
    assert utc_rfc3339("2024-01-01") == "2024-01-01T00:00:00+00:00"
    assert utc_rfc3339("20240101T101500") == "2024-01-01T10:15:00+00:00"
    assert utc_rfc3339("2024-01-01T10:15:00Z") == "2024-01-01T10:15:00+00:00"
    assert utc_rfc3339("Jan 1 2024") is None


def test_customers_with_more_events_than_the_engine_remembers_are_counted_for_a_warning():
    def events(customer, kind, count):
        return [{"customer_id": customer, "event_type": kind}] * count

    file = events("heavy", "purchase", 65) + events("busy", "interaction", 70)
    file += events("even", "purchase", 64) + events("even", "interaction", 64)
    assert beyond_dedup(file, remembered=64) == 2
    assert beyond_dedup(file, remembered=70) == 0


def test_the_line_items_of_an_order_are_one_purchase(tmp_path):
    lines = (
        "invoice,customer,when,total\n"
        "A1,c1,2024-01-02T10:05:00,3.10\n"  # line 2
        "A1,c1,2024-01-02T10:00:00,0.20\n"  # the order's earliest line
        "B7,c2,2024-01-03,5\n"
        "A1,c1,2024-01-02T10:05:00,oops\n"  # line 5: rejected alone, the order stands
        "A1,c9,2024-01-04,1\n"  # another customer's order with the same id
        "A1,c1,2024-01-02T10:06:00,4.00\n"  # line 7
        ",c3,2024-01-05,1\n"  # rows without an order id are refused, each alone
        ",c3,2024-01-05,2\n"
    )
    columns = CsvColumns(customer="customer", time="when", amount="total", order="invoice")
    items = list(read_history(_write(tmp_path, "lines.csv", lines), columns))
    assert [(item.line, item.lines) for item in items] == [
        (2, (2, 3, 7)),
        (4, (4,)),
        (5, (5,)),
        (6, (6,)),
        (8, (8,)),
        (9, (9,)),
    ]
    a1, b7, c9, *_ = _events(items)
    assert (a1["customer_id"], a1["order_id"], a1["amount"]) == ("c1", "A1", 7.3)
    assert a1["ts"] == "2024-01-02T10:00:00+00:00"
    assert (c9["customer_id"], c9["order_id"], c9["amount"]) == ("c9", "A1", 1.0)
    # An order of one line keeps the id it had before orders were grouped.
    alone = _events(
        read_history(
            _write(tmp_path, "one.csv", "invoice,customer,when,total\nB7,c2,2024-01-03,5\n"),
            columns,
        )
    )
    assert b7 == alone[0]
    rejections = Rejections()
    events, read = valid_events(items, rejections, max_bytes=MAX, rules=InputRules())
    assert len(events) == 3 and read == 8 and rejections.total == 3
    assert {r["reason"] for r in rejections.as_dict()["reasons"]} == {
        "total is not a plain number such as 1234.50 (a decimal point, no currency symbol, "
        "no thousands separator)",
        "invoice is empty",
    }


def test_a_rejected_order_rejects_each_of_its_lines(tmp_path):
    path = _write(
        tmp_path,
        "returns.csv",
        "order_id,customer_id,ts,amount\nR1,c1,2024-01-02,-3\nR1,c1,2024-01-02,-2\n",
    )
    columns = CsvColumns(order="order_id")
    rejections = Rejections()
    events, read = valid_events(
        read_history(path, columns), rejections, max_bytes=MAX, rules=InputRules()
    )
    assert events == [] and read == 2
    assert rejections.as_dict()["reasons"] == [
        {
            "reason": "invalid purchase: amount is below 0",
            "count": 2,
            "first_line": 2,
        }
    ]


def test_a_quantity_column_makes_the_amount_a_unit_price(tmp_path):
    path = _write(
        tmp_path,
        "items.csv",
        "InvoiceNo,Quantity,UnitPrice,InvoiceDate,CustomerID\n"
        "536365,3,1.10,2010-12-01 08:26:00,17850\n"
        "536365,1,0.20,2010-12-01 08:26:00,17850\n"
        "536366,2,x,2010-12-01 08:28:00,17850\n"
        "536367,two,1,2010-12-01 08:29:00,17850\n"
        "536368,-1,4.5,2010-12-01 08:30:00,17850\n",
    )
    columns = CsvColumns(
        customer="CustomerID",
        time="InvoiceDate",
        amount="UnitPrice",
        order="InvoiceNo",
        quantity="Quantity",
    )
    items = list(read_history(path, columns))
    # Summed as the file writes the numbers: 3 x 1.10 + 0.20 is 3.5 exactly.
    assert [(e["order_id"], e["amount"]) for e in _events(items)] == [
        ("536365", 3.5),
        ("536368", -4.5),
    ]
    assert _rejected(items) == [
        (4, "UnitPrice " + NOT_PLAIN),
        (5, "Quantity " + NOT_PLAIN),
    ]


def test_rows_of_empty_cells_are_skipped_like_blank_lines(tmp_path):
    # A spreadsheet saved as CSV writes its formatted but empty rows as bare delimiters,
    # before the header too.
    path = _write(
        tmp_path, "sheet.csv", ",,\r\ncustomer_id,ts,amount\r\nc1,2024-01-01,5\r\n,,\r\n , ,\r\n"
    )
    items = list(read_history(path))
    assert _rejected(items) == []
    assert [e["customer_id"] for e in _events(items)] == ["c1"]


def test_an_empty_field_is_rejected_in_the_files_terms(tmp_path):
    # Online Retail leaves CustomerID blank on a quarter of its rows, cancellations among them.
    path = _write(
        tmp_path,
        "retail.csv",
        "InvoiceNo,Quantity,UnitPrice,InvoiceDate,CustomerID\n"
        "536365,3,1.10,2010-12-01 08:26:00,\n"
        "C536366,-2,1.10,2010-12-01 08:27:00, \n"
        "536367,1,,2010-12-01 08:28:00,17850\n"
        "536368,1,1.10,,17850\n",
    )
    columns = CsvColumns(
        customer="CustomerID", time="InvoiceDate", amount="UnitPrice", quantity="Quantity"
    )
    assert _rejected(read_history(path, columns)) == [
        (2, "CustomerID is empty"),
        (3, "CustomerID is empty"),
        (4, "UnitPrice is empty"),
        (5, "InvoiceDate is empty"),
    ]


def test_reading_tells_its_progress_before_the_first_order_comes_out(tmp_path, monkeypatch):
    # A file of line items is read whole before its first order: a long silence without this.
    monkeypatch.setattr(history, "PROGRESS_LINES", 2)
    rows = "".join(f"A{n},c1,2024-01-0{n},1\n" for n in range(1, 6))
    path = _write(tmp_path, "items.csv", "order_id,customer_id,ts,amount\n" + rows)
    told: list[int] = []
    items = read_history(path, CsvColumns(order="order_id"), progress=told.append)
    next(items)
    assert told == [2, 4, 6]
    jsonl = _write(tmp_path, "events.jsonl", "\n".join(["{}"] * 5))
    told.clear()
    list(read_history(jsonl, progress=told.append))
    assert told == [2, 4]
