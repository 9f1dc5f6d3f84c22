"""Where the worker's input partitions end, as the broker lists them.

The consumer's own ``highwater`` is the log end its last fetch response carried, so it stops
moving when the worker stops fetching (a handler that never returns, paused partitions, a
fetcher that died) while producers keep writing: lag computed from it alone stays at what it
was, often 0. So the metrics timer also asks the broker (ListOffsets, through the consumer's
own client) and counts lag up to the further of the two.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from faust.types import TP

log = logging.getLogger(__name__)


class LogEnds:
    """The log ends last listed by the broker; ``refresh`` asks again."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._ends: dict[TP, int] = {}
        self._asking: asyncio.Future[Any] | None = None
        self._failing = False

    def get(self, tp: TP) -> int | None:
        return self._ends.get(tp)

    async def refresh(self, consumer: Any, tps: Iterable[TP]) -> None:
        """Ask ``consumer`` (a Faust consumer) for the log ends of ``tps``; without an answer
        within ``timeout_s`` or with an error, keep the figures of the last answer.

        One question at a time: a question the broker is slow to answer keeps running (the
        consumer thread has two workers, shared with fetches and commits, which a pile of
        questions to a hung broker would take) and its answer serves the next refresh.
        """
        if self._asking is None:
            self._asking = asyncio.ensure_future(consumer.highwaters(*tps))
        done, _ = await asyncio.wait({self._asking}, timeout=self.timeout_s)
        if not done:
            self._failed(f"no answer within {self.timeout_s:g} s")
            return
        asked, self._asking = self._asking, None
        if asked.cancelled():
            self._failed("the question was cancelled")
            return
        error = asked.exception()
        if error is not None:
            self._failed(f"{type(error).__name__}: {error}")
            return
        self._ends = dict(asked.result())
        if self._failing:
            self._failing = False
            log.info("the broker lists the log ends again")

    def _failed(self, error: str) -> None:
        # Once per run of failures: the timer would repeat it every few seconds.
        if not self._failing:
            self._failing = True
            log.warning(
                "listing the input partitions' log ends failed; consumer lag counts up to "
                "the last ends listed or fetched until it answers",
                extra={"error": error},
            )
