"""A real OTLP/HTTP round trip: baton's tracer provider, configured by the standard
variables, exports a promotion's spans as protobuf to a local receiver that decodes them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from api.keys import PROMOTIONS
from bench._otlp import OtlpReceiver
from engine.telemetry import tracer_provider
from tests.api.conftest import SHA1, seed
from tests.observability.conftest import live_api, token_of

pytestmark = pytest.mark.timeout(60)


async def test_a_promotion_s_spans_reach_an_otlp_http_receiver_with_their_attributes(
    traced: Any, database_url: str, tmp_path: Path
) -> None:
    with OtlpReceiver() as receiver:
        provider = traced(tracer_provider(env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}))
        async with await live_api(database_url, tmp_path) as client:
            await seed(client.app[PROMOTIONS])
            answer = await client.post(
                "/api/v1/promotions",
                json={"app": "web", "environment": "dev", "release": SHA1},
                headers={"Authorization": f"Bearer {token_of('dev')}"},
            )
            body = await answer.json()
            assert answer.status == 202, body
        assert await asyncio.to_thread(provider.force_flush, 10_000)
    ours = [s for s in receiver.spans if s.trace_id == body["trace_id"]]
    assert receiver.requests >= 1 and ours
    assert {s.resource.get("service.name") for s in ours} == {"baton"}
    by_name = {s.name: s for s in ours}
    command = by_name["command request_promotion"]
    assert command.attributes["baton.app"] == "web"
    assert command.attributes["baton.environment"] == "dev"
    assert command.attributes["baton.release"] == SHA1
    assert command.attributes["baton.promotion_id"] == body["id"]
    server = next(s for s in ours if s.span_id == command.parent_span_id)
    assert "/promotions" in server.name
    append = next(s for s in ours if s.name == "append" and s.parent_span_id == command.span_id)
    assert append.attributes["baton.stream"] == "target:web:dev"


def test_service_name_is_baton_unless_the_standard_variables_say_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(name, raising=False)
    assert tracer_provider(env={}).resource.attributes["service.name"] == "baton"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "baton-eu")
    named = tracer_provider(env={"OTEL_SERVICE_NAME": "baton-eu"})
    assert named.resource.attributes["service.name"] == "baton-eu"
