"""``python -m stream.tools.health``: the container image's health check. Exit 0 when the
worker on this machine answers ``/healthz``, 1 when it does not (or its settings are bad).

It asks the worker where it listens, ``STREAM_WEB_BIND``, which may be IPv4 only (``0.0.0.0``)
or IPv6 only (``::``): a fixed 127.0.0.1 fails a healthy worker on an IPv6-only cluster. It is
not a ``stream`` command because that one loads Faust and the Kafka clients, seconds of CPU
that Docker would spend every 15 s; this imports the settings only.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import urllib.error
import urllib.request

from stream.config import Settings
from stream.tools.options import number

EXIT_HEALTHY, EXIT_UNHEALTHY = 0, 1
"""What Docker's HEALTHCHECK understands (it reserves 2)."""


def local_url(bind: str, port: int) -> str:
    """The base URL at which a worker listening on ``bind`` (bare, as in
    :attr:`Settings.web_bind`) and ``port`` answers from its own machine: the loopback
    address of the family for an unspecified address, else the address or host name itself.

    >>> local_url("0.0.0.0", 6066), local_url("::", 6066), local_url("fd00::7", 6066)
    ('http://127.0.0.1:6066', 'http://[::1]:6066', 'http://[fd00::7]:6066')
    """
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        return f"http://{bind}:{port}"  # a host name: the worker listens on what it resolves to
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stream.tools.health",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # A worker catching up answers between slices of 500 records, within half a second.
    parser.add_argument(
        "--timeout", type=number(above=0), default=4.0, metavar="S", help="default 4"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # a ConfigError, or an engine setting's own
        print(f"unhealthy: configuration error: {exc}", file=sys.stderr)
        return EXIT_UNHEALTHY
    url = f"{local_url(settings.web_bind, settings.web_port)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {url} answered {exc.code}", file=sys.stderr)
        return EXIT_UNHEALTHY
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        print(f"unhealthy: no answer from {url} ({reason})", file=sys.stderr)
        return EXIT_UNHEALTHY
    print(f"healthy: {url} answered {status}")
    return EXIT_HEALTHY


if __name__ == "__main__":
    sys.exit(main())
