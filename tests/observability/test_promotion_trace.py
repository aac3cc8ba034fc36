"""One promotion is one trace: API call → command → append → projection → applier →
each server-side apply and its Kubernetes requests; later passes link back to it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.appliers.applier_stage import config_map, web
from tests.observability.conftest import Stage, live_api, of_trace, token_of

pytestmark = pytest.mark.timeout(60)


def _one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, sorted(s.name for s in spans))
    return found[0]


def _parent_of(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next((s for s in spans if s.context.span_id == span.parent.span_id), None)


def _under(span: ReadableSpan, ancestor: ReadableSpan, spans: Sequence[ReadableSpan]) -> bool:
    current: ReadableSpan | None = span
    while current is not None:
        if current.context.span_id == ancestor.context.span_id:
            return True
        current = _parent_of(current, spans)
    return False


async def test_a_promotion_is_one_trace_from_the_api_call_to_every_apply(
    stage: Stage, spans: InMemorySpanExporter, database_url: str, tmp_path: Path
) -> None:
    stage.app({"dev": {}})
    sha = await stage.release({"web.yaml": web("web:1"), "config.yaml": config_map()})
    async with await live_api(database_url, tmp_path) as client, stage.appliers():
        answer = await client.post(
            "/api/v1/promotions",
            json={"app": stage.name, "environment": "dev", "release": sha},
            headers={"Authorization": f"Bearer {token_of('dev')}"},
        )
        body = await answer.json()
        assert answer.status == 202, body
        await stage.until_verified("dev", sha)
    trace_id = body["trace_id"]
    assert trace_id and len(trace_id) == 32
    finished = spans.get_finished_spans()
    ours = of_trace(finished, trace_id)

    # the API call, its command and the append, parent to child
    server = next(s for s in ours if s.kind == SpanKind.SERVER)
    assert "/promotions" in server.name
    caller = _parent_of(server, ours)  # the test's own HTTP client is traced too
    assert caller is not None and caller.kind == SpanKind.CLIENT and caller.parent is None
    command = _one(ours, "command request_promotion")
    assert _parent_of(command, ours) is server
    assert command.attributes["baton.app"] == stage.name
    assert command.attributes["baton.environment"] == "dev"
    assert command.attributes["baton.release"] == sha
    assert command.attributes["baton.promotion_id"] == body["id"]
    append = next(s for s in ours if s.name == "append" and _parent_of(s, ours) is command)
    assert append.attributes["baton.stream"] == f"target:{stage.name}:dev"
    assert {"baton.stream_version", "baton.position"} <= set(append.attributes or {})

    # the projections continue the request's trace, or link to it from a shared batch
    projected = [s for s in finished if s.name.startswith("project ")]
    assert any(
        _parent_of(s, ours) is server
        or any(link.context.span_id == server.context.span_id for link in s.links)
        for s in projected
    ), "no projection batch continued or linked the promotion's trace"

    # the applier's pass that applies the promotion, under the request
    passes = [s for s in ours if s.name == f"applier {stage.name}/dev"]
    assert passes, sorted(s.name for s in ours)
    applier = passes[0]
    assert _parent_of(applier, ours) is server
    assert applier.attributes["baton.promotion_id"] == body["id"]
    assert applier.attributes["baton.release"] == sha
    sync = _one(ours, "sync")
    assert _under(sync, applier, ours)
    applies = {s.name for s in ours if s.name.startswith("apply ") and _parent_of(s, ours) is sync}
    # (the target's namespace is ensured before the sync's applies, not applied by them)
    assert applies == {
        f"apply ConfigMap {stage.name}-dev/settings",
        f"apply Deployment {stage.name}-dev/web",
    }
    # each apply made its Kubernetes request(s), traced by the aiohttp client instrumentation
    for name in applies:
        apply_span = _one(ours, name)
        requests = [
            s for s in ours if s.kind == SpanKind.CLIENT and _parent_of(s, ours) is apply_span
        ]
        assert requests, f"no Kubernetes request under {name}"
        assert all(
            r.attributes.get("http.request.method", r.attributes.get("http.method")) == "PATCH"
            for r in requests
        )
    assert any(s.name == "health" and _under(s, applier, ours) for s in ours)

    # later passes (health while soaking, the verdict) are traces of their own linking back
    later = [
        s
        for s in finished
        if s.name == f"applier {stage.name}/dev" and s.parent is None and s.links
    ]
    assert later, "no later pass linked to the promotion"
    assert all(f"{link.context.trace_id:032x}" == trace_id for s in later for link in s.links)
    # (a GET of an object not created yet is a 404: an error by HTTP client conventions)
    failed = [
        (s.name, s.status.description)
        for s in ours
        if s.status.status_code == StatusCode.ERROR and s.kind != SpanKind.CLIENT
    ]
    assert not failed


async def test_the_events_of_a_promotion_carry_the_trace_of_the_step_that_recorded_them(
    stage: Stage, spans: InMemorySpanExporter, database_url: str, tmp_path: Path
) -> None:
    stage.app({"dev": {}})
    sha = await stage.release({"web.yaml": web("web:1")})
    async with await live_api(database_url, tmp_path) as client, stage.appliers():
        answer = await client.post(
            "/api/v1/promotions",
            json={"app": stage.name, "environment": "dev", "release": sha},
            headers={"Authorization": f"Bearer {token_of('dev')}"},
        )
        trace_id = (await answer.json())["trace_id"]
        await stage.until_verified("dev", sha)
    events = {e.type: e for e in await stage.events("dev")}
    for kind in (
        "Target.PromotionRequested",
        "Target.PromotionStarted",
        "Target.SyncStarted",
        "Target.SyncSucceeded",
    ):
        traceparent = events[kind].metadata.traceparent
        assert traceparent is not None and traceparent[3:35] == trace_id, kind
    verified = events["Target.PromotionVerified"].metadata.traceparent
    assert verified is not None  # the verdict's pass: its own trace, linked to the promotion
