"""Checked command-line values: numbers within bounds, and the files the commands write.

A bad value stops a command before any work, with one line that names the option or the file;
``stream.cli`` turns :class:`UsageError` into exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import IO, Any

from stream.config import ConfigError, broker_servers

EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_BROKER, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
"""The commands' exit codes (``stream.cli`` says what each means)."""
EXIT_BROKEN_PIPE = 141


class UsageError(ValueError):
    """A bad option, or a file named on the command line that cannot be used."""


def progress_lines(command: str) -> Callable[[str], None]:
    """How a long command tells what it is doing: ``stream COMMAND: ...`` lines on standard
    error, so that standard output holds only its result."""

    def say(message: str) -> None:
        print(f"stream {command}: {message}", file=sys.stderr, flush=True)

    return say


def throttled(say: Callable[[str], None], every_s: float) -> Callable[[str], None]:
    """``say``, letting through at most one message every ``every_s`` seconds: loops report
    every so many items, and this keeps a fast one from flooding the terminal. Share one
    between the phases of a command so that together they keep to the pace."""
    last = time.monotonic()

    def maybe(message: str) -> None:
        nonlocal last
        if time.monotonic() - last >= every_s:
            last = time.monotonic()
            say(message)

    return maybe


def number(
    *,
    above: float | None = None,
    least: float | None = None,
    most: float | None = None,
    whole: bool = False,
) -> Callable[[str], float]:
    """An argparse ``type``: a finite number (a whole one with ``whole``) within the bounds.

    argparse prefixes the message with the option's name:

    >>> number(above=0)("nan")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 'nan' is not a finite number
    >>> number(least=2, whole=True)("1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be at least 2, got 1
    """

    def parse(text: str) -> float:
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            kind = "a whole number" if whole else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if above is not None and value <= above:
            rule = f"above {above:g}"
        elif least is not None and value < least:
            rule = f"at least {least:g}"
        elif most is not None and value > most:
            rule = f"at most {most:g}"
        else:
            return value
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")

    return parse


def iso_date(text: str) -> date:
    """A day as YYYY-MM-DD, with the reason a bad one is refused."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD") from None


def broker_option(url: str) -> str:
    """``--broker URL``'s bootstrap servers, checked as STREAM_BROKER is."""
    try:
        return broker_servers(url, "--broker")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def open_output(
    path: Path | str, *, binary: bool = False, shown: Path | str | None = None
) -> IO[Any]:
    """``path`` opened for writing (text is UTF-8, newlines as written, as ``csv`` wants).

    Open outputs before the work that fills them, so that a path that cannot be written stops
    the command at once rather than after a long run. Errors then, or while writing (a full
    disk), are a :class:`UsageError` naming the file (as ``shown``, if given).
    """
    try:
        raw = _NamedFile(path, "w")
    except OSError as exc:
        raise cannot_write(shown or path, exc) from None
    raw.shown = str(shown or path)
    buffered = io.BufferedWriter(raw)
    return buffered if binary else io.TextIOWrapper(buffered, encoding="utf-8", newline="")


STDOUT = "-"
"""An output path that means standard output."""


class Outputs(contextlib.ExitStack):
    """A command's output files, opened before its work and closed together.

    A regular file is written under a temporary name beside it and takes its name only when
    the command ends without an error: a run that fails or is interrupted leaves what was
    there before, not an empty or half-written file.
    """

    piped = False
    """Whether one of them is standard output."""

    def __init__(self, *inputs: Path) -> None:
        """``inputs``: the files the command reads, which no output may be."""
        super().__init__()
        self._inputs = inputs
        self._finals: set[Path] = set()

    def open(self, path: Path | str | None, *, binary: bool = False) -> IO[Any] | None:
        """``path`` opened with :func:`open_output` (``-``: standard output, left open, for
        one of them only), or None when the option was not given."""
        if not path:
            return None
        if str(path) == STDOUT:
            if self.piped:
                raise UsageError("only one output can be '-' (standard output)")
            self.piped = True
            self.callback(sys.stdout.flush)
            return sys.stdout.buffer if binary else sys.stdout
        final = Path(os.path.realpath(path))  # a link keeps pointing at the new file
        if any(_same_file(final, source) for source in self._inputs):
            # It would take the output's place once the command ends: the input lost.
            raise UsageError(f"cannot write {path}: it is the file being read")
        if final.exists() and not final.is_file():  # a directory, a device, a pipe
            return self.enter_context(open_output(path, binary=binary))
        if final in self._finals:  # each takes the name when the command ends: one would be lost
            raise UsageError(f"cannot write {path}: another output of this command writes it")
        self._finals.add(final)
        if final.exists() and not os.access(final, os.W_OK):
            raise cannot_write(path, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
        try:
            handle, name = tempfile.mkstemp(prefix=f".{final.name}.", dir=final.parent)
            os.close(handle)
            os.chmod(name, final.stat().st_mode if final.exists() else 0o666 & ~_umask())
        except OSError as exc:
            raise cannot_write(path, exc) from None
        partial = Path(name)

        def finish(failed: type[BaseException] | None, *_: object) -> None:
            if failed is None:
                partial.replace(final)
            else:
                partial.unlink(missing_ok=True)

        self.push(finish)  # after the file closes: exit callbacks run last first
        return self.enter_context(open_output(partial, binary=binary, shown=path))


def _same_file(one: Path, other: Path) -> bool:
    return one.exists() and other.exists() and os.path.samefile(one, other)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cannot_write(path: Path | str, exc: OSError) -> UsageError:
    return UsageError(f"cannot write {path}: {exc.strerror or exc}")


class _NamedFile(io.FileIO):
    """A file whose write errors name it: a failed write's OSError carries no file name."""

    shown = ""

    def write(self, data: Any) -> int | None:
        try:
            return super().write(data)
        except OSError as exc:
            raise cannot_write(self.shown, exc) from None
