"""GET /metrics: baton's Prometheus metrics, in the text exposition format.

Where it sits: a public view (Prometheus scrapes without a token, like `healthz`), at
`/api/v1/metrics` next to the other probes. Counters and histograms are kept up to date
where things happen (appends, Git polls, the event-fed outcome counter); the gauges that
describe the read models — targets by health, projection lag — are refreshed from the
database on every scrape, so any API replica answers the same.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.guard import public
from api.keys import DATABASE
from api.operation import Answer, Operation
from engine.domain.enums import Health
from engine.metrics import PROJECTION_LAG, REGISTRY, TARGET_HEALTH
from projections.queries import targets_by_health
from projections.runner import projection_status

log = logging.getLogger(__name__)
_DB_TIMEOUT_S = 2.0


async def refresh_gauges(app: web.Application) -> None:
    """Targets by health and projection lag, from the read models."""
    async with asyncio.timeout(_DB_TIMEOUT_S), app[DATABASE].store.pool.acquire() as conn:
        counts = await targets_by_health(conn)
        statuses = await projection_status(conn)
    for health in Health:
        TARGET_HEALTH.labels(health.value).set(counts.pop(health.value, 0))
    for other, count in counts.items():  # a state this build does not know: still shown
        TARGET_HEALTH.labels(other).set(count)
    for status in statuses:
        PROJECTION_LAG.labels(status.name).set(status.lag)


@public
@Operation(
    tag="health",
    answers=[Answer(status=200, description="every metric", content={"text/plain": str})],
)
async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics (text exposition format); no token, as Prometheus scrapes.

    The gauges are as of now (stale ones when the database is away).
    """
    try:
        await refresh_gauges(request.app)
    except Exception as exc:  # a scrape still answers, with the counters it has
        log.warning("metrics: could not refresh gauges from the read models: %s", exc)
    return web.Response(
        body=generate_latest(REGISTRY),
        headers={"Content-Type": CONTENT_TYPE_LATEST},
    )
