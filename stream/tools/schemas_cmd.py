"""``stream schemas export DIR``: write one JSON Schema file per topic."""

from __future__ import annotations

import argparse
from pathlib import Path

import schemas
from stream.config import Settings
from stream.tools.options import cannot_write


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "schemas", help="export the JSON Schema of every topic", description=__doc__
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write <topic>.schema.json files into DIR")
    export.add_argument("directory", type=Path, metavar="DIR")
    export.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        written = schemas.export(args.directory)
    except OSError as exc:
        raise cannot_write(exc.filename or args.directory, exc) from None
    for path in written:
        print(path)
    return 0
