"""``stream schemas export DIR``: write one JSON Schema file per topic."""

from __future__ import annotations

import argparse
from pathlib import Path

import schemas
from stream.config import Settings, Topics
from stream.core.engine import Engine
from stream.tools.options import UsageError, cannot_write


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "schemas", help="export the JSON Schema of every topic", description=__doc__
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        help="write <topic>.schema.json files into DIR",
        description=(
            "Write one <topic>.schema.json file per topic into DIR. Files (and each schema's "
            "$id and x-topic) follow the topic names as configured with STREAM_TOPIC_*, and "
            "the input schemas accept the interaction types and currencies the STREAM_ENGINE_* "
            "settings do; the copies committed in schemas/json use the defaults."
        ),
    )
    export.add_argument("directory", type=Path, metavar="DIR")
    export.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    topic_names = dict(zip(Topics().all, settings.topics.all, strict=True))
    if args.directory.exists() and not args.directory.is_dir():
        # mkdir's own "File exists" does not say what is wrong with it.
        raise UsageError(f"{args.directory} is a file, not a directory to write the schemas into")
    try:
        written = schemas.export(args.directory, topic_names, Engine(settings.engine).rules)
    except OSError as exc:
        raise cannot_write(exc.filename or args.directory, exc) from None
    for path in written:
        print(path)
    return 0
