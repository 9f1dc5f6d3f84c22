"""``stream profile ID``: print a customer's current profile as JSON.

Asks a running worker (``--url``, default http://STREAM_WEB_HOST:STREAM_WEB_PORT); any worker
answers, since one that does not hold the customer asks the others (``stream.worker.lookup``).
Exit 0 when found, 1 when the customer is unknown, 3 when no worker answers.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from stream.config import Settings
from stream.tools.options import number


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "profile",
        help="print a customer's current profile from a running worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("customer_id", type=customer_id, metavar="ID")
    parser.add_argument(
        "--url", type=worker_url, help="a worker's base URL (default from STREAM_WEB_HOST/PORT)"
    )
    parser.add_argument(
        "--timeout", type=number(above=0), default=10.0, metavar="S", help="default 10"
    )
    parser.set_defaults(func=run)


def customer_id(text: str) -> str:
    """``ID``: not empty, which would ask for the list of customers, a page no worker has."""
    if not text:
        raise argparse.ArgumentTypeError("a customer id cannot be empty")
    return text


def worker_url(text: str) -> str:
    """``--url``: http or https, a host and a numeric port if any (urllib raises on others)."""
    parts = urllib.parse.urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError when the port is not a number
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL of a worker")
    return text


def run(args: argparse.Namespace, settings: Settings) -> int:
    base = args.url or settings.web_url
    url = f"{base.rstrip('/')}/customers/{urllib.parse.quote(args.customer_id, safe='')}"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as answer:
            profile = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        message = json.loads(body).get("error", body) if body.startswith("{") else body
        if exc.code == 503 and message.startswith("Service unavailable"):
            # Faust's router, while the worker starts or rebalances: says neither.
            message = f"the worker at {base} is starting or rebalancing; try again in a moment"
        print(f"stream profile: {message}", file=sys.stderr)
        return 1 if exc.code == 404 else 3
    except (urllib.error.URLError, OSError) as exc:
        print(f"stream profile: no worker answered at {base} ({exc})", file=sys.stderr)
        return 3
    print(json.dumps(profile, indent=2))
    return 0
