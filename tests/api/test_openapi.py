"""The OpenAPI document: valid 3.1, describes exactly the routes the server has, and holds
up against schemathesis (no 5xx, no response outside the schema)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from openapi_spec_validator import validate

from api.openapi import document
from tests.api.conftest import Api, token_of

# each operation gets this many generated requests: enough to hit every branch of the
# validation, bounded so the suite stays fast and a fixed seed keeps it repeatable
MAX_EXAMPLES = 20
SEED = 20261126


def test_the_document_is_a_valid_openapi_3_1_document() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


async def test_the_document_names_every_route_and_no_other(api: Api) -> None:
    served = await (await api.get("/openapi.json", as_=None)).json()
    documented = {
        (method.upper(), "/api/v1" + path)
        for path, item in served["paths"].items()
        for method in item
    }
    routed = set()
    for route in api.client.app.router.routes():  # type: ignore[union-attr]
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        if route.method != "HEAD":
            routed.add((route.method, path))
    assert documented == routed


async def test_schemathesis_finds_no_server_error_and_no_response_outside_the_schema(
    api: Api, tmp_path: Path
) -> None:
    server = api.client.server
    base = f"http://{server.host}:{server.port}/api/v1"
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base}/openapi.json",
        "--url",
        base,
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--exclude-path",
        "/events/stream",  # endless by design
        "--header",
        f"Authorization: Bearer {token_of('admin')}",
        "--request-timeout",
        "10",
        "--no-color",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=100)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
