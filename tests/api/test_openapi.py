"""The OpenAPI document: valid 3.1, describes exactly the routes the server has, and holds
up against schemathesis (no 5xx, no response outside the schema)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from openapi_spec_validator import validate

from api.operation import operation_of
from tests.api.conftest import PEOPLE, Api, token_of
from tests.api.schemathesis_cli import schemathesis_command

# each operation gets this many generated requests per role on top of schemathesis's
# coverage phase (every boundary and negative case of the document): bounded so the suite
# stays fast; a fixed seed keeps it repeatable. `make fuzz` runs many more.
MAX_EXAMPLES = 5
SEED = 20261126


async def test_the_served_document_is_a_valid_openapi_3_1_document(api: Api) -> None:
    doc = await (await api.get("/openapi.json", as_=None)).json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_route_declares_its_contract(api: Api) -> None:
    undeclared = [
        route.name
        for route in api.client.app.router.routes()  # type: ignore[union-attr]
        if operation_of(route.handler) is None
    ]
    assert not undeclared


async def test_the_request_schemas_are_the_models_that_validate_requests(api: Api) -> None:
    doc = await (await api.get("/openapi.json", as_=None)).json()
    body = doc["paths"]["/promotions"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/PromotionCreate"}
    model = doc["components"]["schemas"]["PromotionCreate"]
    assert model["additionalProperties"] is False  # unknown fields are refused
    assert set(model["required"]) == {"app", "environment"}
    # what the model refuses, the server refuses: a field the schema does not allow
    response = await api.post(
        "/promotions", {"app": "web", "environment": "dev", "x": 1}, as_="dev"
    )
    assert response.status == 422


async def test_every_authorised_operation_documents_401_403_and_503_with_retry_after(
    api: Api,
) -> None:
    doc = await (await api.get("/openapi.json", as_=None)).json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            answers = op["responses"]
            if op["security"]:
                assert {"401", "403", "503"} <= answers.keys(), (method, path)
                assert "Retry-After" in answers["503"]["headers"], (method, path)
            else:
                assert "401" not in answers or path == "/webhooks/git", (method, path)


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


async def _schemathesis(base: str, subject: str, cwd: Path) -> tuple[str, int, str]:
    command = schemathesis_command(base, token_of(subject), max_examples=MAX_EXAMPLES, seed=SEED)
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=100)
    return subject, process.returncode or 0, output.decode(errors="replace")


async def test_schemathesis_as_every_role_finds_no_server_error_and_no_answer_off_the_schema(
    api: Api, tmp_path: Path
) -> None:
    server = api.client.server
    base = f"http://{server.host}:{server.port}/api/v1"
    # one run per role at once: what a role may not do is refused before or after the
    # body is read, so each role reaches other code
    runs = await asyncio.gather(*(_schemathesis(base, subject, tmp_path) for subject in PEOPLE))
    failed = {subject: text[-4000:] for subject, code, text in runs if code != 0}
    assert not failed, "\n".join(f"--- as {s}:\n{t}" for s, t in failed.items())
