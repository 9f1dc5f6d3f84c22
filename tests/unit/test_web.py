"""The worker's web side on its own: the address check made at every assignment, where a
profile look-up asks, and the count of records keyed for another partition."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import aiohttp
from faust.types import TP
from prometheus_client import CollectorRegistry

from stream.kafka.partitioners import crc32
from stream.worker.lookup import FORWARDED, Answer, find, in_turn
from stream.worker.metrics import Metrics
from stream.worker.placement import Placement
from stream.worker.web import check_advertised_url

URL = "http://127.0.0.1:6066"
CHANGELOG = "stream-segmentation-profiles-changelog"


def _worker(
    own: list[int], at_url: dict[str, list[int]]
) -> tuple[SimpleNamespace, SimpleNamespace]:
    """An app holding ``own`` profile partitions, and the map of partitions by URL that Faust
    sent with the assignment (``{url: partitions}``); and its table."""
    table = SimpleNamespace(
        name="profiles", changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG)
    )
    actives = {TP(CHANGELOG, p) for p in own} | {TP("customer.purchases", p) for p in own}
    metadata = {url: {CHANGELOG: partitions} for url, partitions in at_url.items()}
    app = SimpleNamespace(
        conf=SimpleNamespace(canonical_url=URL),
        assignor=SimpleNamespace(assigned_actives=lambda: actives),
        router=SimpleNamespace(table_metadata=lambda name: metadata),
    )
    return app, table


def test_a_worker_whose_url_another_one_advertises_says_so(caplog):
    # Two workers at one URL: Faust's map keeps one's partitions under it, the other's lose
    # any URL; the one overwritten answers 404 for customers it does not hold.
    app, table = _worker([0, 2], {URL: [1, 3]})
    with caplog.at_level(logging.ERROR):
        check_advertised_url(app, table)
    (error,) = caplog.records
    assert "another worker advertises this worker's URL" in error.getMessage()
    assert "STREAM_WEB_HOST" in error.getMessage()
    assert (error.url, error.partitions, error.partitions_at_url) == (URL, [0, 2], [1, 3])


def test_workers_at_their_own_urls_pass_the_check(caplog):
    others = "http://10.0.0.2:6066"
    for own, at_url in (([0, 2], {URL: [0, 2], others: [1, 3]}), ([], {URL: [], others: [0]})):
        app, table = _worker(own, at_url)
        with caplog.at_level(logging.ERROR):
            check_advertised_url(app, table)
    assert not caplog.records


def test_a_lookup_asks_the_owner_of_the_keys_partition_then_itself_then_the_others():
    owners = {URL: [0, 2], "http://b": [1], "http://c": [3]}
    assert in_turn(URL, owners, 3) == ["http://c", URL, "http://b"]
    assert in_turn(URL, owners, 2) == [URL, "http://b", "http://c"]
    assert in_turn(URL, {URL: [0, 1, 2, 3]}, 1) == [URL]


class _Workers:
    """An HTTP client whose workers answer with the given statuses (None: no answer)."""

    def __init__(self, statuses):
        self.statuses, self.asked = statuses, []

    def get(self, address, headers):
        self.asked.append(address)
        status = self.statuses[address.split("/customers/")[0]]

        class Response:
            async def __aenter__(self):
                if status is None:
                    raise aiohttp.ClientConnectionError("connection refused")
                return SimpleNamespace(status=status, read=_body)

            async def __aexit__(self, *exc):
                return False

        assert headers == {FORWARDED: "1"}  # answered from the worker's own partitions
        return Response()


async def _body():
    return b'{"customer_id": "c 1"}'


def test_a_lookup_answers_with_the_first_worker_that_holds_the_customer():
    order = ["http://b", URL, "http://c"]
    missing = Answer(404, b"")
    workers = _Workers({"http://b": 404, "http://c": 200})
    found = asyncio.run(find(order, URL, lambda: missing, workers, "c 1"))
    assert found == Answer(200, b'{"customer_id": "c 1"}')
    assert workers.asked == ["http://b/customers/c%201", "http://c/customers/c%201"]
    # Here first: the others are not asked.
    workers = _Workers({})
    here = Answer(200, b"{}")
    assert asyncio.run(find([URL, "http://b"], URL, lambda: here, workers, "c1")) == here
    assert workers.asked == []


def test_a_lookup_says_404_only_when_every_worker_answered_that_none_holds_the_customer():
    missing = Answer(404, b"")
    order = [URL, "http://b"]
    nowhere = _Workers({"http://b": 404})
    assert asyncio.run(find(order, URL, lambda: missing, nowhere, "c1")).status == 404
    for status in (503, None):
        unsure = _Workers({"http://b": status})
        assert asyncio.run(find(order, URL, lambda: missing, unsure, "c1")).status == 503


def test_records_keyed_for_another_partition_are_counted_with_the_last_one():
    metrics = Metrics(CollectorRegistry())
    placement = Placement("crc32", 4, metrics, ["customer.purchases"])
    sample = ("segmentation_misplaced_events_total", {"topic": "customer.purchases"})
    assert metrics.registry.get_sample_value(*sample) == 0
    assert placement.check("customer.purchases", crc32(b"c1", 4), b"c1")
    assert placement.detail() == {"partitioner": "crc32", "misplaced_events": 0, "last": None}
    other = (crc32(b"c1", 4) + 1) % 4
    assert not placement.check("customer.purchases", other, b"c1")
    assert placement.detail() == {
        "partitioner": "crc32",
        "misplaced_events": 1,
        "last": {
            "topic": "customer.purchases",
            "partition": other,
            "key_partition": crc32(b"c1", 4),
        },
    }
    assert metrics.registry.get_sample_value(*sample) == 1
