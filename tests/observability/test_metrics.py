"""GET /api/v1/metrics: Prometheus text that parses, and that moves when a promotion does."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client.parser import text_string_to_metric_families

from api.keys import PROMOTIONS
from engine.metric_events import EventMetrics
from tests.api.conftest import SHA1, Api, seed
from tests.observability.conftest import live_api, token_of

pytestmark = pytest.mark.timeout(60)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: TestClient) -> Samples:
    """Every sample of /metrics, by name and labels (no token: Prometheus has none)."""
    response = await client.get("/api/v1/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_parse_and_move_when_a_promotion_is_verified(
    database_url: str, tmp_path: Path
) -> None:
    async with await live_api(database_url, tmp_path) as client:
        promotions = client.app[PROMOTIONS]
        store = promotions.repository.store
        feed = asyncio.create_task(
            EventMetrics().follow(store, poll_interval=0.05, after=await store.head_position())
        )
        try:
            await seed(promotions)
            before = await scrape(client)
            answer = await client.post(
                "/api/v1/promotions",
                json={"app": "web", "environment": "dev", "release": SHA1},
                headers={"Authorization": f"Bearer {token_of('dev')}"},
            )
            assert answer.status == 202
            await Api(client).verify_in("dev", SHA1)
            verified = ("baton_promotions_total", (("environment", "dev"), ("outcome", "verified")))
            async with asyncio.timeout(10):
                while (after := await scrape(client)).get(verified, 0) <= before.get(verified, 0):
                    await asyncio.sleep(0.05)
            await Api(client).caught_up()
            gauges = await scrape(client)
            response = await client.get("/api/v1/metrics")
            families = {f.name for f in text_string_to_metric_families(await response.text())}
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
    assert after[verified] == before.get(verified, 0) + 1
    duration = ("baton_promotion_duration_seconds_count", (("environment", "dev"),))
    assert after[duration] == before.get(duration, 0) + 1
    appends = ("baton_event_append_seconds_count", ())
    assert after[appends] >= before[appends] + 2  # the promotion, the applier's part
    # gauges from the read models: the one target is healthy; lag per projection
    assert gauges[("baton_targets", (("health", "Healthy"),))] == 1
    assert gauges[("baton_targets", (("health", "Degraded"),))] == 0
    lags = {
        labels: v for (name, labels), v in gauges.items() if name == "baton_projection_lag_events"
    }
    assert lags and all(v == 0 for v in lags.values())
    assert {
        "baton_promotions",
        "baton_promotion_duration_seconds",
        "baton_syncs",
        "baton_sync_duration_seconds",
        "baton_drift_detections",
        "baton_targets",
        "baton_projection_lag_events",
        "baton_event_append_seconds",
        "baton_git_poll_errors",
    } <= families


async def test_a_failed_git_poll_is_counted_and_marks_its_span(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    from datetime import timedelta

    from engine.domain.pipeline import AppSpec
    from engine.git.watcher import GitWatcher
    from engine.metrics import GIT_POLL_ERRORS

    spec = AppSpec(
        name="gone",
        repo=str(tmp_path / "nowhere"),
        branch="main",
        path="deploy",
        poll_interval=timedelta(seconds=60),
        credentials=None,
        environments=(),
        source_file="apps.yaml",
    )
    before = GIT_POLL_ERRORS.labels("gone")._value.get()
    watcher = GitWatcher(
        apps=(spec,),
        home=tmp_path / "home",
        recorder=None,  # type: ignore[arg-type]
        interval=timedelta(seconds=60),
    )
    try:
        result = await watcher.poll("gone")
    finally:
        watcher.close()
    assert not result.ok
    assert GIT_POLL_ERRORS.labels("gone")._value.get() == before + 1
    poll = next(s for s in spans.get_finished_spans() if s.name == "git.poll")
    assert poll.status.status_code == StatusCode.ERROR
    assert poll.attributes["baton.app"] == "gone"
