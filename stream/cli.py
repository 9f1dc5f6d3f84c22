"""``stream``: the one entry point. Each sub-command lives in its own module.

Exit codes: 0 success, 1 a check found a problem (``lag`` saw a status other than OK, ``backtest``
had nothing before the cutoff to evaluate), 2 a usage or
configuration error (a bad option or setting, a file that cannot be read or written), 3 the
broker could not be reached, 130 interrupted, 141 the reader of stdout went away (``| head``).
That last one stops the command quietly with the code a shell gives a program ended by SIGPIPE,
so ``set -o pipefail`` still learns that the output was cut short.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from stream import __version__, logs
from stream.config import ConfigError, Settings
from stream.kafka import BrokerUnavailable
from stream.tools.options import (
    EXIT_BROKEN_PIPE,
    EXIT_BROKER,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
)

# Each module defines ``register(subparsers)``, which adds its parser with ``func=run``.
COMMANDS = (
    "stream.tools.schemas_cmd",
    "stream.tools.broker_cmd",
    "stream.tools.generate",
    "stream.tools.lag_cmd",
    "stream.tools.worker_cmd",
    "stream.tools.demo",
    "stream.tools.profile_cmd",
    "stream.tools.bench",
    "stream.tools.replay",
    "stream.tools.backtest",
)


class _Parser(argparse.ArgumentParser):
    """Reports a bad command line like every other usage error, ``stream: ...`` and exit 2,
    with a pointer to the help instead of argparse's usage dump. Sub-commands inherit it."""

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        parsed, extras = super().parse_known_args(*args, **kwargs)
        if extras:
            # Left alone, a sub-command's leftovers reach the top parser, whose error would
            # name neither the sub-command nor the help that lists its options.
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]  # "schemas export" in "stream schemas export"
        where = f"{command}: " if command else ""
        self.exit(
            EXIT_USAGE,
            f"stream: {where}{message}\nTry '{self.prog} --help' for more information.\n",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stream",
        description=(
            "Streaming customer segmentation: keeps every customer's RFM scores, value tier, "
            "satisfaction, lifecycle stage and churn risk up to date from Kafka events. "
            "Settings come from STREAM_* environment variables (see README)."
        ),
        epilog="Run 'stream COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"stream {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except (ConfigError, ValueError) as exc:
        print(f"stream: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logs.setup(settings.log_level, settings.log_format)
    try:
        return int(args.func(args, settings) or 0)
    except ConfigError as exc:
        print(f"stream: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"stream: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # Python flushes stdout again at exit and would report that failure too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (ConnectionError, TimeoutError) as exc:
        # A network error that no command wrapped: the broker (or a worker) is unreachable.
        print(f"stream: broker unavailable: {exc}", file=sys.stderr)
        return EXIT_BROKER
    except OSError as exc:
        # The commands name their own files; this catches any other path, mostly under
        # STREAM_DATA_DIR, which is then named: the path alone does not say where it came from.
        where = f"{exc.filename}: " if exc.filename else ""
        if exc.filename and _within(exc.filename, settings.data_dir):
            where = f"configuration error: STREAM_DATA_DIR='{settings.data_dir}': {where}"
        print(f"stream: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokerUnavailable as exc:
        print(f"stream: broker unavailable: {exc}", file=sys.stderr)
        return EXIT_BROKER
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _within(path: str | bytes | int, directory: Path) -> bool:
    """Whether ``path`` is in ``directory``, or on the way to it: making a directory fails on
    the first missing parent it cannot make."""
    if not isinstance(path, str):
        return False
    path, directory = Path(os.path.abspath(path)), Path(os.path.abspath(directory))
    return path.is_relative_to(directory) or directory.is_relative_to(path)


if __name__ == "__main__":
    sys.exit(main())
