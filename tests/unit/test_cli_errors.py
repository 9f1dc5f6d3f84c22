"""Bad options and unusable files end a command with one line on stderr and exit 2, never a
traceback (a command line argparse refuses adds a pointer to the help); outputs are opened
before the work, so a bad path does not waste a long run."""

from __future__ import annotations

import argparse
import fcntl
import http.server
import io
import os
import re
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

import stream.tools.backtest
import stream.tools.schemas_cmd
import stream.tools.worker_cmd
from schemas.inputs import InputRules
from stream.cli import main
from stream.kafka import topics
from stream.tools import core_speed
from stream.tools.history import NOT_A_TIME, Rejections, read_history
from stream.tools.options import number
from stream.tools.processes import free_port
from stream.tools.replay import valid_events

HISTORY = "customer_id,ts,amount\nc1,2024-01-01,5\nc1,2024-03-01,7\n"


def fails(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 2) -> str:
    """Run ``stream ARGV``, check its exit code and that stderr is one line; return it."""
    assert main(list(argv)) == code
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return err.strip()


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """Run ``stream ARGV``, which argparse refuses with exit 2; return the lines on stderr."""
    with pytest.raises(SystemExit) as exit:
        main(list(argv))
    assert exit.value.code == 2
    return capsys.readouterr().err.splitlines()


def hint(prog: str) -> str:
    return f"Try '{prog} --help' for more information."


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "shop.csv"
    path.write_text(HISTORY)
    return path


@pytest.fixture
def unwritable(tmp_path: Path) -> Path:
    return tmp_path / "missing-dir" / "out.csv"


HISTORY_OUTPUTS = [
    ["backtest", "{history}", "--cutoff", "2024-02-01", "--rejected-out", "{out}"],
    ["backtest", "{history}", "--cutoff", "2024-02-01", "--changes-out", "{out}"],
    ["backtest", "{history}", "--cutoff", "2024-02-01", "--scores-out", "{out}"],
    ["replay", "{history}", "--rejected-out", "{out}"],
]
"""Every output of the commands that read a history file."""


@pytest.mark.parametrize(
    "command",
    [
        *HISTORY_OUTPUTS,
        ["generate", "--customers", "10", "--events", "100", "--out", "{out}"],
        ["generate", "--customers", "10", "--events", "100", "--out", "-", "--truth", "{out}"],
    ],
)
def test_an_output_that_cannot_be_written_is_named(capsys, history, unwritable, command):
    argv = [arg.format(history=history, out=unwritable) for arg in command]
    line = fails(capsys, *argv)
    assert line == f"stream: cannot write {unwritable}: No such file or directory"


def test_outputs_are_opened_before_the_backtest_runs(capsys, history, tmp_path, monkeypatch):
    def not_now(*args, **kwargs):
        raise AssertionError("the backtest ran before its outputs were opened")

    monkeypatch.setattr(stream.tools.backtest, "run_backtest", not_now)
    argv = ["backtest", str(history), "--cutoff", "2024-02-01", "--scores-out", str(tmp_path)]
    assert fails(capsys, *argv) == f"stream: cannot write {tmp_path}: Is a directory"


@pytest.mark.parametrize("command", HISTORY_OUTPUTS)
def test_no_output_may_replace_the_file_being_read(capsys, history, tmp_path, command):
    # Outputs take their names when the command ends: the history would have been lost.
    link = tmp_path / "link.csv"
    link.symlink_to(history)
    for out in (history, link):
        argv = [arg.format(history=history, out=out) for arg in command]
        assert fails(capsys, *argv) == f"stream: cannot write {out}: it is the file being read"
    assert history.read_text() == HISTORY


def test_two_outputs_cannot_be_one_file(capsys, history, tmp_path):
    # Each takes its name when the command ends: the first would be lost.
    out = tmp_path / "out.txt"
    (tmp_path / "here").symlink_to(tmp_path)
    again = tmp_path / "here" / "out.txt"  # the same file, spelled another way
    argv = ["backtest", str(history), "--cutoff", "2024-02-01", "--changes-out", str(out)]
    line = fails(capsys, *argv, "--scores-out", str(again))  # opened after the changes
    assert line == f"stream: cannot write {again}: another output of this command writes it"
    assert not out.exists()


def test_outputs_that_are_not_files_may_be_one(history):
    # Written straight through, not renamed into place: both reach /dev/null, none is lost.
    argv = ["backtest", str(history), "--cutoff", "2024-02-01", "--changes-out", "/dev/null"]
    assert main([*argv, "--scores-out", "/dev/null"]) == 0


def test_a_failed_run_leaves_the_outputs_that_were_there(capsys, history, tmp_path):
    kept = tmp_path / "scores.csv"
    kept.write_text("the last good run\n")
    argv = ["backtest", str(history), "--cutoff", "2024-02-01", "--customer-col", "nobody"]
    assert fails(capsys, *argv, "--scores-out", str(kept)).startswith("stream: ")
    assert kept.read_text() == "the last good run\n"
    assert sorted(tmp_path.iterdir()) == sorted([kept, history])  # no partial file left
    argv = ["backtest", str(history), "--cutoff", "2024-02-01", "--scores-out", str(kept)]
    assert main(argv) == 0
    assert kept.read_text().startswith("customer_id,")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "command",
    [
        ["generate", "--customers", "10", "--events", "100", "--out", "/dev/full"],
        ["backtest", "{history}", "--cutoff", "2024-02-01", "--scores-out", "/dev/full"],
    ],
)
def test_a_full_disk_names_the_file(capsys, history, command):
    # A full disk shows only as the file is written, after the run and its progress lines.
    assert main([arg.format(history=history) for arg in command]) == 2
    *progress, last = capsys.readouterr().err.splitlines()
    assert last == "stream: cannot write /dev/full: No space left on device"
    assert all(line.startswith(f"stream {command[0]}: ") for line in progress), progress


def test_schemas_are_not_exported_onto_a_file(capsys, history):
    assert fails(capsys, "schemas", "export", str(history)) == (
        f"stream: {history} is a file, not a directory to write the schemas into"
    )


def test_a_missing_input_file_cannot_be_read(capsys, tmp_path):
    missing = tmp_path / "nope.csv"
    for argv in (["backtest", str(missing), "--cutoff", "2024-01-01"], ["replay", str(missing)]):
        assert fails(capsys, *argv) == f"stream: cannot read {missing}: No such file or directory"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.jsonl", "", "has no events to read"),
        ("header.csv", "customer_id,ts,amount\n", "has no events to read"),
        ("blank.csv", "  \n\n", "has no events to read"),
        (
            "bad.csv",
            "customer_id,ts,amount\nc1,2024-01-01,-5\nc2,01/02/2024,3\n",
            "all 2 lines were rejected: 1 x invalid purchase: amount is below 0 (first at "
            "line 2); 1 x ts is not an ISO 8601 date or date-time "
            "such as 2024-01-05 or 2024-01-05 10:00:00 (first at line 3)",
        ),
    ],
)
def test_a_file_without_usable_events_is_an_error(capsys, tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    for command in (["backtest", "--cutoff", "2024-02-01"], ["replay"]):
        line = fails(capsys, command[0], str(path), *command[1:])
        assert line.startswith(f"stream: {name}") and line.endswith(message), line


def test_any_other_file_error_is_one_line_naming_the_file(capsys, monkeypatch):
    def denied(args, settings):
        raise PermissionError(13, "Permission denied", "/etc/store")

    monkeypatch.setattr(stream.tools.schemas_cmd, "run", denied)
    assert fails(capsys, "schemas", "export", "x") == "stream: /etc/store: Permission denied"


def test_a_data_dir_that_cannot_be_made_is_blamed_on_its_setting(capsys, monkeypatch, tmp_path):
    (tmp_path / "file").touch()
    monkeypatch.setenv("STREAM_DATA_DIR", str(tmp_path / "file" / "var"))
    monkeypatch.setenv("STREAM_EMBEDDED_PORT", str(free_port()))
    assert fails(capsys, "broker") == (
        f"stream: configuration error: STREAM_DATA_DIR='{tmp_path}/file/var': "
        f"{tmp_path}/file/var/broker: Not a directory"
    )


def test_a_data_dir_under_a_parent_that_cannot_be_made_is_blamed_on_its_setting(
    capsys, monkeypatch, tmp_path
):
    # The error names the parent that could not be made (here a link to nowhere), not the
    # data dir.
    (tmp_path / "mount").symlink_to(tmp_path / "unmounted" / "disk")
    monkeypatch.setenv("STREAM_DATA_DIR", str(tmp_path / "mount" / "var"))
    monkeypatch.setenv("STREAM_EMBEDDED_PORT", str(free_port()))
    assert fails(capsys, "worker") == (
        f"stream: configuration error: STREAM_DATA_DIR='{tmp_path}/mount/var': "
        f"{tmp_path}/mount: File exists"
    )


def test_a_network_error_no_command_wrapped_is_a_broker_exit_code(capsys, monkeypatch):
    def refused(args, settings):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(stream.tools.schemas_cmd, "run", refused)
    assert main(["schemas", "export", "x"]) == 3
    assert capsys.readouterr().err.startswith("stream: broker unavailable:")


def test_a_web_port_in_use_stops_the_worker_before_it_starts(capsys, monkeypatch):
    def not_yet(*args, **kwargs):
        raise AssertionError("the worker went on to the broker with its web port taken")

    monkeypatch.setattr(stream.tools.worker_cmd, "wait_for_broker", not_yet)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setenv("STREAM_WEB_BIND", "127.0.0.1")
        monkeypatch.setenv("STREAM_WEB_PORT", str(port))
        assert fails(capsys, "worker") == (
            f"stream: configuration error: cannot listen on 127.0.0.1:{port} "
            "(STREAM_WEB_BIND, STREAM_WEB_PORT): Address already in use"
        )


def test_a_reader_that_stops_early_ends_the_command_quietly():
    command = [sys.executable, "-m", "stream.cli", "generate", "--customers", "50"]
    # 2,000 events are more than a pipe holds, so the writer meets the closed end.
    with subprocess.Popen(
        [*command, "--events", "2000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},  # this checkout
    ) as process:
        assert process.stdout and process.stderr
        assert process.stdout.readline().startswith(b'{"event_type"')
        process.stdout.close()  # as `| head -1` does
        err = process.stderr.read().decode()
        assert process.wait(timeout=60) == 141
    assert err == ""  # not "generated 2000 events": most of them were never written


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["backtest", "{history}", "--cutoff", "2024-02-01", "--horizon-days", "nan"], None),
        (["backtest", "{history}", "--cutoff", "2024-02-01", "--horizon-days", "inf"], None),
        (
            ["backtest", "{history}", "--cutoff", "2024-02-01", "--horizon-days", "0.0001"],
            "must be at least 1, got 0.0001",
        ),
        (["worker", "--broker-timeout", "nan"], None),
        (["replay", "{history}", "--rate", "nan"], None),
        (["generate", "--produce", "--rate", "nan"], None),
        (["generate", "--days", "nan"], None),
        (["generate", "--days", "1e9"], "must be at most 36525, got 1e9"),
        (["lag", "--interval", "nan"], None),
        (["lag", "--watch", "inf"], None),
        (["lag", "--watch", "abc"], "'abc' is not a number"),
        (["lag", "--window", "2.5"], "'2.5' is not a whole number"),
        (["broker", "--port", "70000"], "must be at most 65535, got 70000"),
        (["broker", "--port", "-5"], "must be at least 1, got -5"),
        (["broker", "--port", "0"], "must be at least 1, got 0"),
    ],
)
def test_a_bad_number_is_refused_naming_its_option(capsys, history, argv, complaint):
    argv = [arg.format(history=history) for arg in argv]
    option, value = argv[-2:]
    expected = complaint or f"{value!r} is not a finite number"
    assert refused(capsys, *argv) == [
        f"stream: {argv[0]}: argument {option}: {expected}",
        hint(f"stream {argv[0]}"),
    ]


@pytest.mark.parametrize(
    "argv",
    [["replay"], ["backtest", "--cutoff", "2024-02-01"]],
)
@pytest.mark.parametrize("code", ["EURO", "E1R", "€€€", ""])
def test_a_bad_currency_is_refused_before_the_file_is_read(capsys, tmp_path, argv, code):
    missing = tmp_path / "not-there.csv"
    assert refused(capsys, argv[0], str(missing), *argv[1:], "--currency", code) == [
        f"stream: {argv[0]}: argument --currency: {code!r} is not an ISO 4217 code: three "
        "letters, such as EUR or USD",
        hint(f"stream {argv[0]}"),
    ]


def test_a_column_name_matches_the_header_without_the_blanks_around_it(capsys, tmp_path):
    # Header names are read without them, so a name copied from the file with one must match.
    path = tmp_path / "sheet.csv"
    path.write_text(" Customer ID ,ts,amount\nc1,2024-01-01,5\nc1,2024-03-01,7\n")
    argv = ["backtest", str(path), "--cutoff", "2024-02-01", "--customer-col", "Customer ID "]
    assert main([*argv, "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["history_events"] == 1
    assert refused(capsys, *argv[:-1], " ") == [
        "stream: backtest: argument --customer-col: a column name cannot be empty",
        hint("stream backtest"),
    ]


@pytest.mark.parametrize(("cutoff", "horizon"), [("9999-12-31", "90"), ("2024-02-01", "1e9")])
def test_a_horizon_past_the_calendar_is_refused_before_the_run(capsys, history, cutoff, horizon):
    line = fails(capsys, "backtest", str(history), "--cutoff", cutoff, "--horizon-days", horizon)
    assert line.startswith(f"stream: --cutoff {cutoff}T00:00:00+00:00 plus a ")
    assert line.endswith("-day horizon ends after the year 9999")


def test_a_backtest_refuses_a_horizon_under_a_day_from_the_environment(
    capsys, history, monkeypatch
):
    # The worker takes it; a backtest would crawl, re-evaluating once per horizon of silence.
    monkeypatch.setenv("STREAM_ENGINE_CHURN_HORIZON_DAYS", "0.0001")
    assert fails(capsys, "backtest", str(history), "--cutoff", "2024-02-01") == (
        "stream: configuration error: STREAM_ENGINE_CHURN_HORIZON_DAYS=0.0001 must be at "
        "least 1 for a backtest; or give --horizon-days"
    )
    assert main(["backtest", str(history), "--cutoff", "2024-02-01", "--horizon-days", "1"]) == 0


@pytest.mark.parametrize(
    ("from_today", "days", "hint"),
    [
        (3, "30", ""),
        (-10, "30", "; at most 10 days from that start"),
        (-3000, "36525", "; at most 3000 days from that start"),
    ],
)
def test_a_workload_ending_ahead_of_the_wall_clock_is_refused(
    capsys, tmp_path, from_today, days, hint
):
    start = datetime.now(UTC).date() + timedelta(days=from_today)
    out = tmp_path / "events.jsonl"
    argv = ["--customers", "10", "--events", "100", "--out", str(out)]
    assert fails(capsys, "generate", *argv, "--start", str(start), "--days", days) == (
        f"stream: --days {days} from {start} ends more than a day ahead of the wall clock, "
        f"and every consumer rejects events that far ahead{hint}"
    )
    assert not out.exists()


def test_a_workload_starting_before_1970_is_refused(capsys, tmp_path):
    argv = ["--customers", "10", "--events", "100", "--out", str(tmp_path / "events.jsonl")]
    assert fails(capsys, "generate", *argv, "--start", "1969-12-31") == (
        "stream: --start 1969-12-31 is before 1970, and every consumer rejects such events"
    )


@pytest.mark.parametrize("command", ["demo", "bench"])
def test_a_demo_or_bench_workload_running_into_the_future_is_refused(capsys, command):
    line = fails(capsys, command, "--days", "36000")
    assert line.startswith("stream: --days 36000 from 2024-01-01 ends more than a day ahead")
    assert line.endswith(" days from that start")


def test_a_workload_ending_now_is_generated(capsys, tmp_path):
    start = datetime.now(UTC).date() - timedelta(days=30)
    argv = ["--customers", "10", "--events", "100", "--start", str(start), "--days", "30"]
    assert main(["generate", *argv, "--out", str(tmp_path / "events.jsonl")]) == 0


def test_rate_without_produce_is_a_usage_error(capsys):
    line = fails(capsys, "generate", "--customers", "10", "--events", "100", "--rate", "5")
    assert line == "stream: --rate paces --produce; without it there is nothing to pace"


def test_number_takes_finite_values_within_its_bounds():
    assert number(above=0)("0.5") == 0.5
    assert number(least=2, whole=True)("2") == 2
    for parse, text, complaint in [
        (number(above=0), "0", "must be above 0, got 0"),
        (number(least=0.05), "0.01", "must be at least 0.05, got 0.01"),
        (number(most=10), "11", "must be at most 10, got 11"),
        (number(), "-inf", "'-inf' is not a finite number"),
        (number(whole=True), "1e3", "'1e3' is not a whole number"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=f"^{re.escape(complaint)}$"):
            parse(text)


@pytest.mark.parametrize("url", ["notaurl", "ftp://host", "http://", "http://host:port"])
def test_profile_refuses_a_url_it_cannot_ask(capsys, url):
    assert refused(capsys, "profile", "c1", "--url", url)[0] == (
        f"stream: profile: argument --url: {url!r} is not an http:// or https:// URL of a worker"
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": "Service unavailable. Try again later."}',
        b"Service unavailable. Try again later.",
    ],
)
def test_profile_explains_fausts_bare_service_unavailable(capsys, body):
    # What Faust's router answers while the worker starts or rebalances (its view turns the
    # error into JSON).
    class Starting(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Starting) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        line = fails(capsys, "profile", "c1", "--url", url, code=3)
        server.shutdown()
    assert (
        line
        == f"stream profile: the worker at {url} is starting or rebalancing; try again in a moment"
    )


def test_profile_refuses_an_empty_customer_id(capsys):
    assert refused(capsys, "profile", "") == [
        "stream: profile: argument ID: a customer id cannot be empty",
        hint("stream profile"),
    ]


@pytest.mark.parametrize(
    ("argv", "error", "prog"),
    [
        (
            ["backtest", "{history}", "--cutoff", "2024-02-01", "--dry-run"],
            "stream: backtest: unrecognized arguments: --dry-run",
            "stream backtest",
        ),
        (
            ["backtest", "{history}"],
            "stream: backtest: the following arguments are required: --cutoff",
            "stream backtest",
        ),
        (
            ["schemas", "export"],
            "stream: schemas export: the following arguments are required: DIR",
            "stream schemas export",
        ),
        (
            ["schemas", "export", "a", "b"],
            "stream: schemas export: unrecognized arguments: b",
            "stream schemas export",
        ),
        (["--bogus", "lag"], "stream: unrecognized arguments: --bogus", "stream"),
    ],
)
def test_a_bad_command_line_is_one_line_naming_the_command_then_its_help(
    capsys, history, argv, error, prog
):
    # Like every other usage error, not argparse's usage dump and "stream backtest: error:".
    assert refused(capsys, *[arg.format(history=history) for arg in argv]) == [error, hint(prog)]


def test_help_still_shows_the_usage(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["backtest", "--help"])
    assert exit.value.code == 0
    shown = capsys.readouterr()
    assert shown.out.startswith("usage: stream backtest [-h]") and not shown.err


@pytest.mark.parametrize("command", ["lag", "bench"])
def test_a_bad_broker_option_is_blamed_on_the_option(capsys, monkeypatch, command):
    monkeypatch.delenv("STREAM_BROKER", raising=False)
    # A usage error, not a "configuration error": that is for STREAM_* settings.
    assert fails(capsys, command, "--broker", "bad") == (
        "stream: --broker='bad': 'bad' is not host:port"
    )


@pytest.mark.parametrize("command", ["generate", "demo", "bench"])
def test_too_few_events_for_the_customers_is_refused_before_any_work(capsys, command):
    assert fails(capsys, command, "--customers", "100", "--events", "10") == (
        "stream: --events 10 is too few for --customers 100: their personas need at least 245"
    )


@pytest.mark.parametrize(
    ("option", "env", "line"),
    [
        ([], "{port}", "stream: configuration error: {taken} with STREAM_EMBEDDED_PORT"),
        (["--port", "{port}"], "19092", "stream: {taken} with --port"),
    ],
    ids=["setting", "option"],
)
def test_a_taken_broker_port_names_where_the_port_came_from(capsys, monkeypatch, option, env, line):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        taken = (
            f"port 127.0.0.1:{port} is already in use; stop what listens there or choose "
            "another port"
        )
        monkeypatch.setenv("STREAM_EMBEDDED_PORT", env.format(port=port))
        argv = [arg.format(port=port) for arg in option]
        assert fails(capsys, "broker", *argv) == line.format(taken=taken)


@pytest.mark.parametrize(("argv", "code"), [(["--help"], 0), (["nan"], 2)])
def test_core_speed_has_a_help_and_checks_its_days(capsys, argv, code):
    with pytest.raises(SystemExit) as exit:
        core_speed.main(argv)
    assert exit.value.code == code
    shown = capsys.readouterr()
    assert "usage: python -m stream.tools.core_speed [-h] [--json] [days]" in shown.out + shown.err


class _RefusingAdmin:
    """An admin client whose broker refuses every topic with ``error_code``."""

    def __init__(self, error_code: int) -> None:
        self.error_code = error_code

    def __enter__(self) -> _RefusingAdmin:
        return self

    def __exit__(self, *args: object) -> None: ...

    def create_topics(self, specs, **kwargs):
        message = "Replication factor: 3 larger than available brokers: 1."
        return {
            "topics": [
                {"name": name, "error_code": self.error_code, "error_message": message}
                for name in specs
            ]
        }


@pytest.mark.parametrize(
    ("error_code", "code", "start"),
    [
        (38, 2, "stream: configuration error: could not create topic 'customer.purchases': "),
        (7, 3, "stream: broker unavailable: could not create topic 'customer.purchases': "),
    ],
)
def test_a_topic_the_broker_refuses_is_an_exit_code(capsys, monkeypatch, error_code, code, start):
    monkeypatch.setattr(topics, "wait_for_broker", lambda *args: [])
    monkeypatch.setattr(topics, "admin_client", lambda *args: _RefusingAdmin(error_code))
    argv = ["generate", "--customers", "10", "--events", "100", "--produce"]
    assert main(argv) == code
    assert capsys.readouterr().err.splitlines()[-1].startswith(start)


def test_a_start_day_in_another_format_is_refused_with_the_expected_one(capsys):
    assert refused(capsys, "generate", "--start", "01/01/2024") == [
        "stream: generate: argument --start: '01/01/2024' is not a date as YYYY-MM-DD",
        hint("stream generate"),
    ]


def test_only_one_output_can_be_standard_output(capsys):
    # generate writes its events to standard output unless --out says otherwise.
    line = fails(capsys, "generate", "--customers", "10", "--events", "100", "--truth", "-")
    assert line == "stream: only one output can be '-' (standard output)"


def test_a_backtest_with_nothing_before_the_cutoff_says_so_and_exits_1(capsys, history):
    assert main(["backtest", str(history), "--cutoff", "2020-01-01"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "stream backtest: no events before the cutoff (the file starts at "
        "2024-01-01T00:00:00+00:00): nothing to run or evaluate; choose a later --cutoff"
    )


def test_a_backtest_with_nothing_after_the_cutoff_scores_and_does_not_evaluate(
    capsys, history, tmp_path
):
    # Evaluated, every buyer would look churned and the figures would be perfect.
    scores = tmp_path / "scores.csv"
    argv = ["backtest", str(history), "--cutoff", "2030-01-01", "--scores-out", str(scores)]
    assert main([*argv, "--json"]) == 0
    out, err = capsys.readouterr()
    assert orjson.loads(out)["evaluation"] == {}
    assert err.splitlines()[-1].startswith(
        "stream backtest: no events after the cutoff (the file ends at 2024-"
    )
    assert "ends before the horizon" not in err  # no customer is judged by what came after
    assert scores.read_text().startswith("customer_id,")


def test_rejected_lines_can_go_to_standard_output(capsys, history, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(history.read_text() + "c2,01/02/2024,3\n")
    assert main(["backtest", str(bad), "--cutoff", "2024-02-01", "--rejected-out", "-"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["line,reason", "4,ts " + NOT_A_TIME]


def test_rejected_lines_are_listed_in_line_order(capsys, history, tmp_path):
    # Line 4 fails validation, line 5 fails in the reader, which runs ahead of validation.
    bad = tmp_path / "bad.csv"
    bad.write_text(history.read_text() + "c2,2024-01-05,-3\nc2,01/02/2024,3\n")
    expected = [
        "line,reason",
        "4,invalid purchase: amount -3.0 is below 0",
        "5,ts " + NOT_A_TIME,
    ]
    assert main(["backtest", str(bad), "--cutoff", "2024-02-01", "--rejected-out", "-"]) == 0
    assert capsys.readouterr().out.splitlines() == expected
    replayed = io.StringIO(newline="")
    valid_events(read_history(bad), Rejections(replayed), max_bytes=10_000, rules=InputRules())
    assert replayed.getvalue().splitlines() == expected


def test_a_worker_with_no_broker_says_how_long_it_waited(capsys, monkeypatch):
    monkeypatch.setenv("STREAM_BROKER", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("STREAM_WEB_PORT", str(free_port()))  # a running worker holds 6066
    line = fails(capsys, "worker", "--broker-timeout", "0.5", code=3)
    assert "no answer from 127.0.0.1:" in line and " within 0.5s (last error: " in line
    assert line.endswith("'stream broker' starts one, and STREAM_BROKER says where to look")


def test_a_data_dir_another_worker_holds_stops_the_worker_before_it_starts(
    capsys, monkeypatch, tmp_path
):
    # Two workers on one STREAM_DATA_DIR overwrite each other's churn model, silently.
    def not_yet(*args, **kwargs):
        raise AssertionError("the worker went on to the broker")

    monkeypatch.setattr(stream.tools.worker_cmd, "wait_for_broker", not_yet)
    monkeypatch.setenv("STREAM_WEB_PORT", str(free_port()))
    monkeypatch.setenv("STREAM_DATA_DIR", str(tmp_path))
    with (tmp_path / "worker.lock").open("w") as first:  # as the first worker holds it
        fcntl.flock(first, fcntl.LOCK_EX)
        first.write("4242\n")
        first.flush()
        assert fails(capsys, "worker") == (
            f"stream: configuration error: STREAM_DATA_DIR={tmp_path} is in use by another "
            "worker (pid 4242); give each worker its own"
        )
    with pytest.raises(AssertionError, match="went on to the broker"):  # free once it stops
        main(["worker"])
