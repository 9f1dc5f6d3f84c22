"""The worker's HTTP endpoints, on Faust's web server.

``/metrics`` (Prometheus), ``/healthz`` (the process is up), ``/readyz`` (table recovery has
finished and the engine holds this worker's partitions; with how many input records came in
on a partition their key does not name, see ``placement``), and ``/customers/{id}``, answered
by whichever worker holds the customer (see ``lookup``).
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas.reasons import shown
from stream.worker.lookup import FORWARDED, Answer, find, in_turn
from stream.worker.metrics import Metrics
from stream.worker.pipeline import Pipeline

log = logging.getLogger(__name__)


def register(app: Any, table: Any, pipeline: Pipeline, metrics: Metrics) -> None:
    @app.on_partitions_assigned.connect
    async def check_address(sender: Any, assigned: Any, **kwargs: Any) -> None:
        check_advertised_url(app, table)

    @app.page("/metrics")
    async def prometheus(self: Any, request: Any) -> Any:
        body = generate_latest(metrics.registry)
        return self.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(self: Any, request: Any) -> Any:
        return self.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(self: Any, request: Any) -> Any:
        recovered = app.tables.recovery.completed.is_set()
        ready = recovered and pipeline.ready
        body = {
            "ready": ready,
            "recovered": recovered,
            "engine": pipeline.ready,
            "keys": pipeline.placement.detail(),
        }
        return self.json(body, status=200 if ready else 503)

    @app.page("/customers/{customer_id}")
    async def customer(self: Any, request: Any, customer_id: str) -> Any:
        own = str(app.conf.canonical_url)
        if request.headers.get(FORWARDED):
            order = [own]  # another worker asks for this one's own answer
        else:
            owners = app.router.table_metadata(table.name)
            changelog = table.changelog_topic.get_topic_name()
            by_url = {url: topics.get(changelog, []) for url, topics in owners.items()}
            order = in_turn(own, by_url, pipeline.placement.expected(customer_id.encode()))

        def local() -> Answer:
            if pipeline.engine is None:
                return Answer(503, b"")
            view = pipeline.lookup(customer_id)
            return (
                Answer(404, b"") if view is None else Answer(200, view.model_dump_json().encode())
            )

        answer = await find(order, own, local, app.http_client, customer_id)
        if answer.status == 200:
            return self.bytes(answer.body, content_type="application/json")
        if answer.status == 503:
            error = (
                "not found on the workers that answered; others are starting, rebalancing or "
                "unreachable: try again in a moment"
            )
            return self.json({"error": error}, status=503)
        return self.json({"error": f"no customer {shown(customer_id)}"}, status=404)


def check_advertised_url(app: Any, table: Any) -> None:
    """Log an error if another worker of the group advertises this one's URL.

    Faust maps the profile partitions to workers by URL, in a map sent with every assignment:
    with two workers at one URL one's partitions overwrite the other's, so each takes the
    other's look-ups for its own (404) and some partitions have no worker (503). The worker
    overwritten sees partitions that are not its own under its URL (a harmless case aside:
    both hold none).
    """
    url = str(app.conf.canonical_url)
    changelog = table.changelog_topic.get_topic_name()
    own = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog}
    routed = set(app.router.table_metadata(table.name).get(url, {}).get(changelog, []))
    if own != routed:
        log.error(
            "another worker advertises this worker's URL: profile look-ups (/customers/{id}) "
            "reach the wrong worker; give each worker its own STREAM_WEB_HOST (a host name "
            "or IP the others reach it at) or STREAM_WEB_PORT",
            extra={"url": url, "partitions": sorted(own), "partitions_at_url": sorted(routed)},
        )
