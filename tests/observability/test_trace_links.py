"""Audit rows and answers about a promotion carry its trace id, and with BATON_JAEGER_URL
set, the link to the trace in Jaeger's UI."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.config import ApiConfig
from api.keys import PROMOTIONS
from engine.telemetry import trace_url
from tests.api.conftest import SHA1, Api, seed
from tests.observability.conftest import live_api, token_of

JAEGER = "http://jaeger.example:16686"


def test_the_jaeger_url_comes_from_the_environment() -> None:
    assert ApiConfig.from_env({"BATON_JAEGER_URL": JAEGER}).jaeger_url == JAEGER
    assert ApiConfig.from_env({}).jaeger_url is None


async def test_promotion_answers_and_audit_rows_link_to_the_trace(
    spans: InMemorySpanExporter, database_url: str, tmp_path: Path
) -> None:
    async with await live_api(database_url, tmp_path, jaeger_url=JAEGER + "/") as client:
        await seed(client.app[PROMOTIONS])
        headers = {"Authorization": f"Bearer {token_of('admin')}"}
        created = await (
            await client.post(
                "/api/v1/promotions",
                json={"app": "web", "environment": "dev", "release": SHA1},
                headers=headers,
            )
        ).json()
        trace_id = created["trace_id"]
        assert created["trace_url"] == f"{JAEGER}/trace/{trace_id}"
        await Api(client).caught_up()
        read = await (
            await client.get(f"/api/v1/promotions/{created['id']}", headers=headers)
        ).json()
        page = await (
            await client.get("/api/v1/events?app=web&environment=dev", headers=headers)
        ).json()
        lines = await (
            await client.get(
                "/api/v1/events?app=web&environment=dev",
                headers={**headers, "Accept": "application/x-ndjson"},
            )
        ).text()
    assert read["trace_id"] == trace_id
    assert read["trace_url"] == f"{JAEGER}/trace/{trace_id}"
    requested = next(r for r in page["items"] if r["event_type"] == "Target.PromotionRequested")
    assert requested["trace_id"] == trace_id
    assert requested["trace_url"] == f"{JAEGER}/trace/{trace_id}"
    assert f'"trace_url":"{JAEGER}/trace/{trace_id}"' in lines


async def test_without_a_jaeger_url_answers_carry_the_trace_id_only(
    spans: InMemorySpanExporter, database_url: str, tmp_path: Path
) -> None:
    async with await live_api(database_url, tmp_path) as client:
        await seed(client.app[PROMOTIONS])
        created = await (
            await client.post(
                "/api/v1/promotions",
                json={"app": "web", "environment": "dev", "release": SHA1},
                headers={"Authorization": f"Bearer {token_of('dev')}"},
            )
        ).json()
    assert len(created["trace_id"]) == 32 and "trace_url" not in created


def test_a_jaeger_url_with_a_trace_id_field_is_a_template() -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_url(trace_id, "https://ui.example/t/{trace_id}?embed=1") == (
        f"https://ui.example/t/{trace_id}?embed=1"
    )


def test_a_plain_jaeger_url_is_a_base_the_trace_page_is_appended_to() -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_url(trace_id, JAEGER) == f"{JAEGER}/trace/{trace_id}"
    assert trace_url(trace_id, JAEGER + "/") == f"{JAEGER}/trace/{trace_id}"
    assert trace_url(None, JAEGER) is None
    assert trace_url(trace_id, None) is None
