"""Authentication and the role matrix: who may call what, in which environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.auth import Role, TokenBook, TokenConfigError, hash_token
from tests.api.conftest import PEOPLE, SHA1, Api, problem

PUBLIC = {
    "/api/v1/healthz",
    "/api/v1/readyz",
    "/api/v1/openapi.json",
    "/api/v1/webhooks/git",
    "/api/v1/metrics",
}


def _routes(api: Api) -> list[tuple[str, str]]:
    out = []
    for route in api.client.app.router.routes():  # type: ignore[union-attr]
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        if route.method != "HEAD":
            out.append((route.method, path.replace("{", "").replace("}", "")))
    return out


async def test_every_route_but_health_openapi_and_webhook_needs_a_token(api: Api) -> None:
    routes = _routes(api)
    assert len(routes) >= 20
    for method, path in routes:
        if path in PUBLIC:
            continue
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer wrong"}):
            response = await api.client.request(method, path, headers=headers)
            body = await problem(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), (method, path)
            assert body["field"] == "Authorization"


async def test_public_routes_answer_without_a_token(api: Api) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json"):
        response = await api.get(path, as_=None)
        assert response.status == 200, path


async def _prepared(api: Api) -> dict[str, str]:
    """A finished dev promotion and a prod one awaiting approval."""
    ids = {}
    for env in ("dev", "staging"):
        ids[env] = (await (await api.promote(env)).json())["id"]
        await api.verify_in(env, SHA1)
    prod = await (await api.promote("prod", as_="admin")).json()
    return {"dev": ids["dev"], "awaiting": prod["id"]}


# (subject, allowed) per write: environment scoping included
PROMOTE_PROD = {
    "viewer": False,
    "dev": False,
    "release-manager": True,
    "approver": False,
    "lead": True,
    "admin": True,
}
PROMOTE_DEV = {
    "viewer": False,
    "dev": True,
    "release-manager": False,
    "approver": False,
    "lead": False,
    "admin": True,
}
APPROVE_PROD = {
    "viewer": False,
    "dev": False,
    "release-manager": False,
    "approver": True,
    "lead": True,
    "admin": True,
}


@pytest.mark.parametrize("env,matrix", [("prod", PROMOTE_PROD), ("dev", PROMOTE_DEV)])
async def test_promoting_needs_the_promoter_role_in_that_environment(
    api: Api, env: str, matrix: dict[str, bool]
) -> None:
    body = {"app": "web", "environment": env, "release": "9" * 40}  # unknown: never writes
    for subject, allowed in matrix.items():
        response = await api.post("/promotions", body, as_=subject)
        if allowed:
            await problem(response, 422, "unknown-release")
        else:
            answer = await problem(response, 403, "forbidden")
            assert answer["required_role"] == "promoter" and answer["environment"] == env


async def test_approving_and_rejecting_need_the_approver_role_in_that_environment(
    api: Api,
) -> None:
    ids = await _prepared(api)
    for verb in ("approve", "reject"):
        for subject, allowed in APPROVE_PROD.items():
            if allowed:
                continue  # an allowed call would decide the promotion; checked below
            response = await api.post(f"/promotions/{ids['awaiting']}/{verb}", as_=subject)
            answer = await problem(response, 403, "forbidden")
            assert answer["required_role"] == "approver"
    # lead approves in prod, not in dev
    scoped = await api.post(f"/promotions/{ids['dev']}/approve", as_="lead")
    await problem(scoped, 403, "forbidden")
    allowed = await api.post(f"/promotions/{ids['awaiting']}/approve", as_="approver")
    assert allowed.status == 200


async def test_cancel_and_rollback_need_the_promoter_role(api: Api) -> None:
    ids = await _prepared(api)
    for subject in ("viewer", "approver", "dev"):
        response = await api.post(f"/promotions/{ids['awaiting']}/cancel", as_=subject)
        await problem(response, 403, "forbidden")
    ok = await api.post(f"/promotions/{ids['awaiting']}/cancel", as_="release-manager")
    assert ok.status == 200
    for subject in ("viewer", "approver", "release-manager"):
        response = await api.post("/rollbacks", {"app": "web", "environment": "dev"}, as_=subject)
        await problem(response, 403, "forbidden")


@pytest.mark.parametrize("subject", [s for s in PEOPLE if s != "admin"])
async def test_admin_endpoints_are_for_admins_only(api: Api, subject: str) -> None:
    await problem(await api.post("/admin/replay", {}, as_=subject), 403, "forbidden")
    await problem(await api.get("/admin/projections", as_=subject), 403, "forbidden")
    await problem(await api.get("/admin/replay/some-job", as_=subject), 403, "forbidden")


@pytest.mark.parametrize("subject", list(PEOPLE))
async def test_every_role_can_read(api: Api, subject: str) -> None:
    response = await api.get("/audit/verify", as_=subject)
    assert response.status == 200
    assert (await response.json())["ok"] is True


def test_tokens_load_from_a_file_and_the_environment_and_are_kept_hashed(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(
        "tokens:\n"
        "  - {subject: ci, roles: ['promoter:dev,staging'], token: ci-secret-1}\n"
        f"  - {{subject: ops, roles: [admin], sha256: {hash_token('ops-secret-2')}}}\n"
    )
    env = {
        "BATON_TOKENS_FILE": str(path),
        "BATON_TOKENS": "amy:approver@prod+viewer:amy-secret-3; vic:viewer:vic-secret-4",
    }
    book = TokenBook.from_env(env)
    assert len(book) == 4
    ci = book.authenticate("ci-secret-1")
    assert ci is not None and ci.allows(Role.PROMOTER, "staging")
    assert not ci.allows(Role.PROMOTER, "prod") and not ci.allows(Role.APPROVER, "dev")
    ops = book.authenticate("ops-secret-2")
    assert ops is not None and ops.allows(Role.ADMIN) and ops.allows(Role.APPROVER, "prod")
    amy = book.authenticate("amy-secret-3")
    assert amy is not None and amy.allows(Role.APPROVER, "prod")
    assert not amy.allows(Role.APPROVER, "dev")
    assert book.authenticate("nope") is None
    # only hashes are kept
    assert "ci-secret-1" not in json.dumps(vars(book), default=str)


@pytest.mark.parametrize(
    "text",
    [
        "amy:root:secret-123",
        "amy::secret-123",
        "amy:viewer@prod:secret-123",
        "amy:viewer:short",
        "a\x01b:viewer:secret-123",
    ],
)
def test_bad_token_entries_are_refused_without_echoing_the_token(text: str) -> None:
    with pytest.raises(TokenConfigError) as caught:
        TokenBook().load_text(text)
    assert "secret-123" not in str(caught.value)
