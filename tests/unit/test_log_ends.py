"""The metrics timer's questions to the broker about the log ends: a broker that answers late
or fails costs the timer at most the timeout, and the last figures stay."""

from __future__ import annotations

import asyncio
import logging

from faust.types import TP

from stream.worker.log_ends import LogEnds

TOPIC = TP("customer.purchases", 0)


class Answers:
    """``highwaters`` as a Faust consumer has it, answering each question when told to."""

    def __init__(self) -> None:
        self.asked: list[asyncio.Future[dict[TP, int]]] = []

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        self.asked.append(asyncio.get_running_loop().create_future())
        return await self.asked[-1]

    async def question(self, number: int) -> asyncio.Future[dict[TP, int]]:
        """The ``number``-th question (from 1), once asked."""
        while len(self.asked) < number:
            await asyncio.sleep(0)
        return self.asked[number - 1]


def test_late_answers_and_errors_keep_the_last_ends_and_are_logged_once(caplog):
    async def run() -> None:
        ends, broker = LogEnds(timeout_s=0.05), Answers()
        refreshing = asyncio.ensure_future(ends.refresh(broker, [TOPIC]))
        (await broker.question(1)).set_result({TOPIC: 10})
        await refreshing
        assert ends.get(TOPIC) == 10

        await ends.refresh(broker, [TOPIC])  # no answer: the question stays open
        await ends.refresh(broker, [TOPIC])
        assert ends.get(TOPIC) == 10 and len(broker.asked) == 2
        broker.asked[1].set_result({TOPIC: 25})
        await asyncio.sleep(0)
        await ends.refresh(broker, [TOPIC])  # the late answer serves
        assert ends.get(TOPIC) == 25

        refreshing = asyncio.ensure_future(ends.refresh(broker, [TOPIC]))
        (await broker.question(3)).set_exception(ConnectionError("broker gone"))
        await refreshing
        assert ends.get(TOPIC) == 25

    with caplog.at_level(logging.INFO, logger="stream.worker.log_ends"):
        asyncio.run(run())
    logged = [(r.levelname, getattr(r, "error", None)) for r in caplog.records]
    assert logged == [
        ("WARNING", "no answer within 0.05 s"),
        ("INFO", None),
        ("WARNING", "ConnectionError: broker gone"),
    ]
