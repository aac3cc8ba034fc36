"""Server-side apply over HTTP: ownership, co-ownership, removal, keyed lists."""

from __future__ import annotations

from typing import Any

import aiohttp
import yaml
from ks_helpers import call

DEPLOY = "apis/apps/v1/namespaces/default/deployments/web"
APPLY = "application/apply-patch+yaml"


def _deploy(containers: list[dict[str, Any]], replicas: int | None = 1) -> str:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return yaml.safe_dump(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}
    )


async def _apply(
    http: aiohttp.ClientSession, body: str, manager: str, force: bool = False
) -> tuple[int, dict[str, Any]]:
    params = {"fieldManager": manager, **({"force": "true"} if force else {})}
    return await call(http, "PATCH", DEPLOY, body, content_type=APPLY, **params)


def _containers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}


async def test_apply_creates_then_is_idempotent(http: aiohttp.ClientSession) -> None:
    body = _deploy([{"name": "main", "image": "web:1"}])
    status, created = await _apply(http, body, "baton")
    assert status == 201
    status, again = await _apply(http, body, "baton")
    assert status == 200
    assert again["metadata"]["generation"] == created["metadata"]["generation"] == 1


async def test_apply_without_field_manager_is_rejected(http: aiohttp.ClientSession) -> None:
    status, body = await call(
        http, "PATCH", DEPLOY, _deploy([{"name": "m", "image": "x"}]), content_type=APPLY
    )
    assert status == 422 and "fieldManager" in body["message"]


async def test_same_value_from_two_managers_is_shared_not_a_conflict(
    http: aiohttp.ClientSession,
) -> None:
    body = _deploy([{"name": "main", "image": "web:1"}], replicas=2)
    await _apply(http, body, "baton")
    status, shared = await _apply(http, body, "helper")
    assert status == 200
    assert {m["manager"] for m in shared["metadata"]["managedFields"]} >= {"baton", "helper"}
    # baton stops sending replicas: helper still owns it, so the value stays
    _, after = await _apply(
        http, _deploy([{"name": "main", "image": "web:1"}], replicas=None), "baton"
    )
    assert after["spec"]["replicas"] == 2


async def test_containers_merge_by_name_across_managers(http: aiohttp.ClientSession) -> None:
    await _apply(http, _deploy([{"name": "main", "image": "web:1"}]), "baton")
    sidecar = _deploy([{"name": "proxy", "image": "proxy:1"}], replicas=None)
    _, both = await _apply(http, sidecar, "mesh-injector")
    assert set(_containers(both)) == {"main", "proxy"}
    # the injector withdraws its container: only that one goes
    _, back = await _apply(http, _deploy([], replicas=None), "mesh-injector")
    assert set(_containers(back)) == {"main"}


async def test_dropped_env_var_is_removed_but_others_kept(http: aiohttp.ClientSession) -> None:
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    await _apply(http, _deploy([{"name": "main", "image": "web:1", "env": env}]), "baton")
    _, after = await _apply(
        http, _deploy([{"name": "main", "image": "web:1", "env": env[:1]}]), "baton"
    )
    assert _containers(after)["main"]["env"] == [{"name": "A", "value": "1"}]


async def test_update_by_another_client_takes_ownership_and_then_conflicts(
    http: aiohttp.ClientSession,
) -> None:
    await _apply(http, _deploy([{"name": "main", "image": "web:1"}], replicas=1), "baton")
    await call(
        http,
        "PATCH",
        DEPLOY,
        {"spec": {"replicas": 5}},
        content_type="application/merge-patch+json",
        fieldManager="kubectl-scale",
    )
    status, body = await _apply(
        http, _deploy([{"name": "main", "image": "web:1"}], replicas=1), "baton"
    )
    assert status == 409
    assert body["details"]["causes"][0]["field"] == ".spec.replicas"
    assert 'conflict with "kubectl-scale"' in body["message"]
    status, forced = await _apply(
        http, _deploy([{"name": "main", "image": "web:1"}], replicas=1), "baton", force=True
    )
    assert status == 200 and forced["spec"]["replicas"] == 1
    owners = {m["manager"] for m in forced["metadata"]["managedFields"]}
    assert "kubectl-scale" not in owners  # it owned nothing else


async def test_managed_fields_use_the_fields_v1_format(http: aiohttp.ClientSession) -> None:
    _, obj = await _apply(
        http,
        _deploy([{"name": "main", "image": "web:1", "ports": [{"containerPort": 80}]}]),
        "baton",
    )
    entry = obj["metadata"]["managedFields"][0]
    assert entry["manager"] == "baton" and entry["operation"] == "Apply"
    assert entry["fieldsType"] == "FieldsV1" and entry["apiVersion"] == "apps/v1"
    container = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"][
        'k:{"name":"main"}'
    ]
    assert "." in container and "f:image" in container
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]


async def test_an_apply_that_changes_nothing_keeps_the_resource_version(
    http: aiohttp.ClientSession,
) -> None:
    body = _deploy([{"name": "main", "image": "web:1"}])
    _, first = await _apply(http, body, "baton")
    _, again = await _apply(http, body, "baton")
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert again["metadata"]["managedFields"] == first["metadata"]["managedFields"]
    _, changed = await _apply(http, _deploy([{"name": "main", "image": "web:2"}]), "baton")
    assert int(changed["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


async def test_label_selector_is_owned_whole_and_finalizers_member_by_member(
    http: aiohttp.ClientSession,
) -> None:
    _, obj = await _apply(http, _deploy([{"name": "main", "image": "web:1"}]), "baton")
    spec_fields = obj["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
    assert spec_fields["f:selector"] == {}  # atomic, as the real LabelSelector
    cm_path = "api/v1/namespaces/default/configmaps/held"

    def held(finalizer: str) -> str:
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "held", "finalizers": [finalizer]},
            }
        )

    await call(
        http, "PATCH", cm_path, held("a.example.com/x"), content_type=APPLY, fieldManager="one"
    )
    status, both = await call(
        http, "PATCH", cm_path, held("b.example.com/y"), content_type=APPLY, fieldManager="two"
    )
    assert status == 200  # different members of a set never conflict
    assert both["metadata"]["finalizers"] == ["a.example.com/x", "b.example.com/y"]
    owners = {
        m["manager"]: m["fieldsV1"]["f:metadata"]["f:finalizers"]
        for m in both["metadata"]["managedFields"]
    }
    assert owners["two"] == {".": {}, 'v:"b.example.com/y"': {}}


async def test_managed_fields_sent_by_a_client_replace_the_stored_ones(
    http: aiohttp.ClientSession,
) -> None:
    await _apply(http, _deploy([{"name": "main", "image": "web:1"}], replicas=1), "old-tool")
    _, obj = await call(http, "GET", DEPLOY)
    entries = obj["metadata"]["managedFields"]
    moved = [dict(e, manager="baton") if e["manager"] == "old-tool" else e for e in entries]
    await call(
        http,
        "PATCH",
        DEPLOY,
        [{"op": "replace", "path": "/metadata/managedFields", "value": moved}],
        content_type="application/json-patch+json",
    )
    # baton now owns what old-tool owned: changing it is no conflict
    status, _ = await _apply(
        http, _deploy([{"name": "main", "image": "web:2"}], replicas=3), "baton"
    )
    assert status == 200
    await call(
        http,
        "PATCH",
        DEPLOY,
        [{"op": "replace", "path": "/metadata/managedFields", "value": [{}]}],
        content_type="application/json-patch+json",
    )
    _, cleared = await call(http, "GET", DEPLOY)
    # only the controller's later status writes may have claimed fields since
    managers = {e["manager"] for e in cleared["metadata"].get("managedFields", [])}
    assert managers <= {"kube-controller-manager"}
