"""Bad options and unusable files end a command with one line on stderr and exit 2, never a
traceback; outputs are opened before the work, so a bad path does not waste a long run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import stream.tools.backtest
import stream.tools.schemas_cmd
from stream.cli import main

HISTORY = "customer_id,ts,amount\nc1,2024-01-01,5\nc1,2024-03-01,7\n"


def fails(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 2) -> str:
    """Run ``stream ARGV``, check its exit code and that it ends with one line (after any
    progress lines) and no traceback; return that line."""
    assert main(list(argv)) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.splitlines()[-1]


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "shop.csv"
    path.write_text(HISTORY)
    return path


@pytest.fixture
def unwritable(tmp_path: Path) -> Path:
    return tmp_path / "missing-dir" / "out.csv"


@pytest.mark.parametrize(
    "command",
    [
        ["backtest", "{history}", "--cutoff", "2024-02-01", "--rejected-out", "{out}"],
        ["backtest", "{history}", "--cutoff", "2024-02-01", "--changes-out", "{out}"],
        ["backtest", "{history}", "--cutoff", "2024-02-01", "--scores-out", "{out}"],
        ["replay", "{history}", "--rejected-out", "{out}"],
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


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "command",
    [
        ["generate", "--customers", "10", "--events", "100", "--out", "/dev/full"],
        ["backtest", "{history}", "--cutoff", "2024-02-01", "--scores-out", "/dev/full"],
    ],
)
def test_a_full_disk_names_the_file(capsys, history, command):
    line = fails(capsys, *[arg.format(history=history) for arg in command])
    assert line == "stream: cannot write /dev/full: No space left on device"


def test_schemas_are_not_exported_onto_a_file(capsys, history):
    assert fails(capsys, "schemas", "export", str(history)).startswith(
        f"stream: cannot write {history}: "
    )


def test_a_missing_input_file_cannot_be_read(capsys, tmp_path):
    missing = tmp_path / "nope.csv"
    for argv in (["backtest", str(missing), "--cutoff", "2024-01-01"], ["replay", str(missing)]):
        assert fails(capsys, *argv) == f"stream: cannot read {missing}: No such file or directory"


def test_any_other_file_error_is_one_line_naming_the_file(capsys, monkeypatch):
    def denied(args, settings):
        raise PermissionError(13, "Permission denied", "var/store")

    monkeypatch.setattr(stream.tools.schemas_cmd, "run", denied)
    assert fails(capsys, "schemas", "export", "x") == "stream: var/store: Permission denied"


def test_a_reader_that_stops_early_ends_the_command_quietly():
    command = [sys.executable, "-m", "stream.cli", "generate", "--customers", "50"]
    # 2,000 events are more than a pipe holds, so the writer meets the closed end.
    with subprocess.Popen(
        [*command, "--events", "2000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout and process.stderr
        assert process.stdout.readline().startswith(b'{"event_type"')
        process.stdout.close()  # as `| head -1` does
        err = process.stderr.read().decode()
        assert process.wait(timeout=60) == 141
    assert err.startswith("generated 2000 events") and len(err.splitlines()) == 1, err
