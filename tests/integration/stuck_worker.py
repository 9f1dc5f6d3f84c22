"""``stream worker`` whose pipeline never returns from the first fetch it is handed: a stuck
handler. The worker then fetches nothing more, while its timers and web server go on."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from stream.cli import main
from stream.worker.pipeline import Pipeline

STUCK = "handler stuck"


async def _stuck(self: Pipeline, batch: dict[Any, list[Any]]) -> None:
    logging.getLogger(__name__).warning(STUCK, extra={"records": sum(map(len, batch.values()))})
    await asyncio.Event().wait()


if __name__ == "__main__":
    Pipeline.process = _stuck  # type: ignore[method-assign]
    sys.exit(main(["worker"]))
