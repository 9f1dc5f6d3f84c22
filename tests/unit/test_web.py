"""The worker's web side on its own: the address check made at every assignment."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from faust.types import TP

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
