"""``GET /customers/{id}``: a customer's profile from whichever worker holds them.

A customer's state lives in the partition their events came in on, which is the one their
key names by ``STREAM_PARTITIONER`` only if every producer partitions that way (see
``placement``). So a look-up asks the workers in turn: first the one holding the partition the
key names, then this one, then every other worker of the group, and answers 404 only once none
holds the customer. A look-up one worker forwards to another carries :data:`FORWARDED`, and is
answered from that worker's own partitions, so two never forward to each other in a loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

FORWARDED = "X-Stream-Forwarded"
ASK_TIMEOUT_S = 5.0
"""How long a look-up waits at most for another worker's answer."""


def in_turn(own: str, owners: Mapping[str, Sequence[int]], partition: int) -> list[str]:
    """The URLs to ask, in order: the owner of ``partition``, this worker (``own``), the rest.

    >>> in_turn("http://a", {"http://a": [0, 2], "http://b": [1], "http://c": [3]}, 3)
    ['http://c', 'http://a', 'http://b']
    """
    first = [url for url, partitions in owners.items() if partition in partitions]
    others = sorted(url for url in owners if url not in first and url != own)
    return list(dict.fromkeys([*first, own, *others]))


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


async def ask(http: Any, url: str, customer_id: str) -> Answer:
    """Another worker's own answer for the customer (503 if it gave none in time)."""

    async def request() -> Answer:
        address = f"{url}/customers/{quote(customer_id, safe='')}"
        async with http.get(address, headers={FORWARDED: "1"}) as response:
            return Answer(response.status, await response.read())

    try:
        return await asyncio.wait_for(request(), ASK_TIMEOUT_S)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning(
            "a worker did not answer a profile look-up",
            extra={"url": url, "error": f"{type(exc).__name__}: {exc}"},
        )
        return Answer(503, b"")


async def find(
    order: Sequence[str], own: str, local: Callable[[], Answer], http: Any, customer_id: str
) -> Answer:
    """The first 200 of the workers asked in ``order`` (``local()`` answers for ``own``);
    else 503 if one could not say, 404 if none holds the customer."""
    unavailable = False
    for url in order:
        answer = local() if url == own else await ask(http, url, customer_id)
        if answer.status == 200:
            return answer
        unavailable |= answer.status != 404
    return Answer(503 if unavailable else 404, b"")
