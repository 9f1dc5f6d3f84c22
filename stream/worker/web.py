"""The worker's HTTP endpoints, on Faust's web server.

``/metrics`` (Prometheus), ``/healthz`` (the process is up), ``/readyz`` (table recovery has
finished and the engine holds this worker's partitions), and ``/customers/{id}``, answered by
whichever worker owns the customer's partition: Faust's table router forwards the request.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream.core.lookup import current_profile
from stream.worker.metrics import Metrics
from stream.worker.pipeline import Pipeline
from stream.worker.producing import Partitioner

log = logging.getLogger(__name__)


def register(app: Any, table: Any, pipeline: Pipeline, metrics: Metrics, partitions: int) -> None:
    partitioner = Partitioner(partitions)

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
        body = {"ready": ready, "recovered": recovered, "engine": pipeline.ready}
        return self.json(body, status=200 if ready else 503)

    @app.page("/customers/{customer_id}")
    @app.table_route(table=table, match_info="customer_id")
    async def customer(self: Any, request: Any, customer_id: str) -> Any:
        engine = pipeline.engine
        if engine is None:
            return self.json({"error": "not ready: partitions are being recovered"}, status=503)
        try:
            profile = pipeline.profiles[customer_id]
        except KeyError:
            return self.json({"error": f"no customer {customer_id!r}"}, status=404)
        view = current_profile(engine, profile, partitioner(customer_id.encode()))
        return self.bytes(view.model_dump_json().encode(), content_type="application/json")


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
