"""Requests a real API server refuses, and how: validation, bad input, unknown verbs."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from ks_helpers import call, cm

CMS = "api/v1/namespaces/default/configmaps"
DEPLOYS = "apis/apps/v1/namespaces/default/deployments"


def _deploy(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "web:1"}]},
            },
        },
    }


async def test_a_bad_label_selector_is_400(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", CMS, labelSelector="a in (b")
    assert status == 400 and body["reason"] == "BadRequest"


async def test_protobuf_bodies_of_unknown_kinds_are_415(http: aiohttp.ClientSession) -> None:
    # the k8s envelope: magic, then TypeMeta{apiVersion: "v1", kind: "Pod"} and a raw body
    type_meta = b"\x0a\x02v1\x12\x03Pod"
    envelope = b"k8s\x00" + b"\x0a" + bytes([len(type_meta)]) + type_meta + b"\x12\x00"
    async with http.post(
        "api/v1/namespaces/default/pods",
        data=envelope,
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
    ) as r:
        body = await r.json()
    assert r.status == 415 and body["reason"] == "UnsupportedMediaType"
    assert "Pod" in body["message"]


async def test_workload_selector_must_match_and_is_immutable(http: aiohttp.ClientSession) -> None:
    bad = _deploy("web")
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    status, body = await call(http, "POST", DEPLOYS, bad)
    assert status == 422 and body["reason"] == "Invalid"
    assert "`selector` does not match template `labels`" in body["message"]
    await call(http, "POST", DEPLOYS, _deploy("web"))
    status, body = await call(
        http,
        "PATCH",
        f"{DEPLOYS}/web",
        {
            "spec": {
                "selector": {"matchLabels": {"app": "web", "tier": "x"}},
                "template": {"metadata": {"labels": {"app": "web", "tier": "x"}}},
            }
        },
        content_type="application/merge-patch+json",
    )
    assert status == 422 and "field is immutable" in body["message"]


async def test_invalid_names_and_label_values_are_422(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "POST", CMS, cm("Not_Valid"))
    assert status == 422 and body["details"]["causes"][0]["field"] == "metadata.name"
    labelled = cm("ok")
    labelled["metadata"]["labels"] = {"app": "has space"}
    status, body = await call(http, "POST", CMS, labelled)
    assert status == 422 and body["details"]["causes"][0]["field"] == "metadata.labels"


async def test_unknown_fields_are_refused_when_strict_and_warned_otherwise(
    http: aiohttp.ClientSession,
) -> None:
    typo = cm("a", k="1")
    typo["dat"] = {"k": "2"}
    status, body = await call(http, "POST", CMS, typo, fieldValidation="Strict")
    assert status == 400 and 'unknown field "dat"' in body["message"]
    async with http.post(CMS, json=typo) as response:  # default: Warn
        assert response.status == 201
        assert 'unknown field \\"dat\\"' in response.headers["Warning"]


async def test_a_bad_query_parameter_is_400_not_a_crash(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", CMS, limit="many")
    assert status == 400 and body["kind"] == "Status"


async def test_access_reviews_are_answered_not_stored(http: aiohttp.ClientSession) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {"verb": "create", "group": "apps", "resource": "deployments"}
        },
    }
    path = "apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    status, answer = await call(http, "POST", path, review)
    assert status == 201 and answer["status"]["allowed"] is True
    _, listed = await call(http, "GET", path)
    assert listed.get("items", []) == []


async def test_verbs_not_in_discovery_are_405(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "DELETE", "api/v1/namespaces")  # no deletecollection
    assert status == 405 and body["reason"] == "MethodNotAllowed"
    _, still = await call(http, "GET", "api/v1/namespaces/default")
    assert still["metadata"]["name"] == "default"


async def test_health_endpoints_and_unemulated_subresources(http: aiohttp.ClientSession) -> None:
    for path in ("healthz", "livez", "readyz"):
        async with http.get(path) as response:
            assert response.status == 200 and await response.text() == "ok"
    await call(
        http,
        "POST",
        "api/v1/namespaces/default/pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "x:1"}]},
        },
    )
    status, body = await call(http, "GET", "api/v1/namespaces/default/pods/p/log")
    assert status == 405 and "log" in body["message"]


async def test_unknown_fields_are_found_deep_inside_built_in_kinds(
    http: aiohttp.ClientSession,
) -> None:
    typo = _deploy("web")
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    status, body = await call(http, "POST", DEPLOYS, typo, fieldValidation="Strict")
    assert status == 400
    assert 'unknown field "spec.template.spec.containers[0].imagePullPolicyy"' in body["message"]
    # strategic merge patch directives are not fields
    await call(http, "POST", DEPLOYS, _deploy("web"))
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "main"}],
                    "containers": [{"name": "main", "image": "web:2"}],
                }
            }
        }
    }
    status, _ = await call(
        http,
        "PATCH",
        f"{DEPLOYS}/web",
        patch,
        fieldValidation="Strict",
        content_type="application/strategic-merge-patch+json",
    )
    assert status == 200


MALFORMED = [
    ("POST", CMS, "{not json", "application/json", {}),
    ("POST", CMS, "[1, 2]", "application/json", {}),
    ("POST", CMS, '{"metadata": "x"}', "application/json", {}),
    ("POST", CMS, '{"metadata": {"name": 5}}', "application/json", {}),
    ("POST", CMS, '{"metadata": {"name": "a", "labels": {"a": 5}}}', "application/json", {}),
    ("POST", DEPLOYS, '{"metadata": {"name": "d"}, "spec": "x"}', "application/json", {}),
    (
        "POST",
        DEPLOYS,
        '{"metadata": {"name": "d"}, "spec": {"replicas": true}}',
        "application/json",
        {},
    ),
    ("PATCH", f"{CMS}/c", "- a\n- b", "application/apply-patch+yaml", {"fieldManager": "x"}),
    (
        "PATCH",
        f"{CMS}/c",
        '[{"op": "move", "from": "/nope", "path": "/x"}]',
        "application/json-patch+json",
        {},
    ),
    ("PATCH", f"{CMS}/c", '"x"', "application/merge-patch+json", {}),
    ("PATCH", f"{CMS}/c", '{"data": [1]}', "application/strategic-merge-patch+json", {}),
    ("PATCH", f"{CMS}/c", "x", "text/plain", {}),
    ("GET", CMS, None, None, {"continue": "garbage"}),
    ("GET", CMS, None, None, {"fieldSelector": "a"}),
    ("DELETE", f"{CMS}/c", "[1]", "application/json", {}),
    ("PUT", f"{CMS}/c", '{"kind": "Secret", "metadata": {"name": "c"}}', "application/json", {}),
    (
        "POST",
        "apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        '{"metadata": {"name": "x.y"}, "spec": {}}',
        "application/json",
        {},
    ),
    ("POST", CMS, "k8s\x00\x0a\x05garbage", "application/vnd.kubernetes.protobuf", {}),
]


@pytest.mark.parametrize(("method", "path", "body", "content_type", "params"), MALFORMED)
async def test_malformed_requests_get_a_4xx_status_never_a_crash(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: str | None,
    content_type: str | None,
    params: dict[str, str],
) -> None:
    await call(http, "POST", CMS, cm("c", k="v"))
    headers = {"Content-Type": content_type} if content_type else {}
    async with http.request(method, path, data=body, params=params, headers=headers) as r:
        answer = await r.json()
    assert 400 <= r.status < 500, answer
    assert answer["kind"] == "Status" and answer["code"] == r.status
