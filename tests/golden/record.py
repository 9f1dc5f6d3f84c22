"""Run a golden workload and write, or compare, its outputs: ``python -m tests.golden.record``.

``outputs(workload, folder)`` gives what a workload produces now: the changes file (every
segment-change and churn-risk event, one JSON per line) and the scores file (one CSV row per
customer at the cutoff), as ``stream backtest --changes-out --scores-out`` writes them. The
golden files are those, gzip-compressed without a time stamp so that a rerun writes the same
bytes.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson

from schemas.inputs import InvalidInput, parse_input
from stream.cli import main
from stream.config import Settings
from stream.core.churn import ChurnModel
from stream.core.engine import Engine
from stream.tools.backtest import PARTITION, cutoff_scores, cutoff_time, write_scores
from tests.golden.workloads import ARRIVAL, HERE, WORKLOADS, Workload


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def outputs(workload: Workload, folder: Path) -> tuple[bytes, bytes]:
    """(changes, scores) as the workload produces them today."""
    path = workload.build(folder)
    changes, scores = (
        folder / f"{workload.name}.changes.jsonl",
        folder / f"{workload.name}.scores.csv",
    )
    with environment(workload.env):
        if workload is ARRIVAL:
            _arrive(path, cutoff_time(workload.cutoff), changes, scores)
        else:
            argv = ["backtest", str(path), "--cutoff", workload.cutoff, *workload.args]
            argv += ["--scores-out", str(scores), "--changes-out", str(changes), "--json"]
            with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):
                code = main(argv)
            assert code == 0, f"stream backtest exited {code} on {workload.name}"
    return changes.read_bytes(), scores.read_bytes()


def _arrive(path: Path, cutoff: datetime, changes: Path, scores: Path) -> None:
    """The engine fed one line at a time in file order, on one partition, as a worker feeds
    a partition's events in the order it reads them (late ones included)."""
    config = Settings.from_env().engine
    engine = Engine(config, churn=ChurnModel(config))
    with changes.open("wb") as out:
        for line in path.read_bytes().splitlines():
            kind = orjson.loads(line)["event_type"]
            try:
                event = parse_input(kind, line, max_bytes=100_000, rules=engine.rules)
            except InvalidInput as exc:
                raise AssertionError(f"a golden workload's event is invalid: {exc}") from None
            if event.ts >= cutoff:
                continue
            for output in engine.process(event, PARTITION, event.ts).outputs:
                out.write(output.model_dump_json(by_alias=True).encode() + b"\n")
        wall = cutoff.timestamp() + config.allowed_lateness_s
        for output in engine.tick(PARTITION, cutoff, wall_ts=wall):
            out.write(output.model_dump_json(by_alias=True).encode() + b"\n")
    with scores.open("w", newline="") as out:
        write_scores(cutoff_scores(engine, cutoff), out)


def golden(name: str, part: str) -> Path:
    return HERE / f"{name}.{part}.gz"


def read_golden(name: str, part: str) -> bytes:
    return gzip.decompress(golden(name, part).read_bytes())


def record() -> None:
    made = datetime.now(UTC)
    for workload in (*WORKLOADS, ARRIVAL):
        with tempfile.TemporaryDirectory() as folder:
            changes, scores = outputs(workload, Path(folder))
        for part, data in (("changes.jsonl", changes), ("scores.csv", scores)):
            golden(workload.name, part).write_bytes(gzip.compress(data, mtime=0))
        lines, rows = changes.count(b"\n"), scores.count(b"\n") - 1
        print(f"{workload.name}: {lines:,} outputs, {rows:,} customers")
    print(f"recorded in {(datetime.now(UTC) - made).total_seconds():.0f} s", file=sys.stderr)


if __name__ == "__main__":
    record()
