"""Object semantics over real HTTP: versions, errors, writes, patches, deletion, reads."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from ks_helpers import call, cm

CMS = "api/v1/namespaces/default/configmaps"
DEPLOYS = "apis/apps/v1/namespaces/default/deployments"


def _deploy(name: str, image: str = "web:1", replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": image,
                            "env": [{"name": "A", "value": "1"}],
                            "ports": [{"containerPort": 80}],
                        }
                    ]
                },
            },
        },
    }


async def test_create_sets_uid_timestamp_and_a_cluster_wide_resource_version(
    http: aiohttp.ClientSession,
) -> None:
    status, first = await call(http, "POST", CMS, cm("a", k="1"))
    assert status == 201
    _, second = await call(
        http, "POST", "api/v1/namespaces/kube-system/configmaps", cm("b", "kube-system", k="1")
    )
    assert first["metadata"]["uid"] != second["metadata"]["uid"]
    assert first["metadata"]["creationTimestamp"].endswith("Z")
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


async def test_create_twice_is_409_already_exists_as_a_status(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", CMS, cm("a"))
    status, body = await call(http, "POST", CMS, cm("a"))
    assert status == 409
    assert body["kind"] == "Status" and body["reason"] == "AlreadyExists" and body["code"] == 409
    assert body["message"] == 'configmaps "a" already exists'


async def test_missing_namespace_is_404(http: aiohttp.ClientSession) -> None:
    status, body = await call(
        http, "POST", "api/v1/namespaces/nowhere/configmaps", cm("a", "nowhere")
    )
    assert status == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "nowhere" not found'


async def test_missing_object_is_404_naming_the_group(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", f"{DEPLOYS}/ghost")
    assert status == 404
    assert body["message"] == 'deployments.apps "ghost" not found'
    assert body["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}


async def test_update_with_stale_resource_version_is_409_conflict(
    http: aiohttp.ClientSession,
) -> None:
    _, created = await call(http, "POST", CMS, cm("a", k="1"))
    fresh = dict(created, data={"k": "2"})
    status, updated = await call(http, "PUT", f"{CMS}/a", fresh)
    assert status == 200 and updated["data"] == {"k": "2"}
    stale = dict(created, data={"k": "3"})  # still carries the first resourceVersion
    status, body = await call(http, "PUT", f"{CMS}/a", stale)
    assert status == 409 and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]


async def test_generation_moves_on_spec_changes_only(http: aiohttp.ClientSession) -> None:
    _, created = await call(http, "POST", DEPLOYS, _deploy("web"))
    assert created["metadata"]["generation"] == 1
    _, labelled = await call(
        http,
        "PATCH",
        f"{DEPLOYS}/web",
        {"metadata": {"labels": {"extra": "x"}}},
        content_type="application/merge-patch+json",
    )
    assert labelled["metadata"]["generation"] == 1
    _, scaled = await call(
        http,
        "PATCH",
        f"{DEPLOYS}/web",
        {"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
    )
    assert scaled["metadata"]["generation"] == 2


async def test_status_in_a_main_resource_write_is_ignored(http: aiohttp.ClientSession) -> None:
    body = _deploy("web")
    body["status"] = {"readyReplicas": 99}
    _, created = await call(http, "POST", DEPLOYS, body)
    assert created.get("status", {}).get("readyReplicas") != 99


async def test_json_patch_and_its_failed_test_operation(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", CMS, cm("a", k="1"))
    ops = [
        {"op": "test", "path": "/data/k", "value": "1"},
        {"op": "add", "path": "/data/j", "value": "2"},
        {"op": "remove", "path": "/data/k"},
    ]
    status, patched = await call(
        http, "PATCH", f"{CMS}/a", ops, content_type="application/json-patch+json"
    )
    assert status == 200 and patched["data"] == {"j": "2"}
    status, body = await call(
        http,
        "PATCH",
        f"{CMS}/a",
        [{"op": "test", "path": "/data/j", "value": "nope"}],
        content_type="application/json-patch+json",
    )
    assert status == 422 and body["kind"] == "Status"


async def test_merge_patch_null_deletes_a_key(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", CMS, cm("a", k="1", j="2"))
    _, patched = await call(
        http,
        "PATCH",
        f"{CMS}/a",
        {"data": {"k": None}},
        content_type="application/merge-patch+json",
    )
    assert patched["data"] == {"j": "2"}


async def test_strategic_merge_patch_merges_containers_env_and_ports_by_key(
    http: aiohttp.ClientSession,
) -> None:
    await call(http, "POST", DEPLOYS, _deploy("web"))
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "web:2",
                            "env": [{"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 81}],
                        },
                        {"name": "sidecar", "image": "proxy:1"},
                    ]
                }
            }
        }
    }
    _, patched = await call(
        http,
        "PATCH",
        f"{DEPLOYS}/web",
        patch,
        content_type="application/strategic-merge-patch+json",
    )
    containers = {c["name"]: c for c in patched["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"main", "sidecar"}
    assert containers["main"]["image"] == "web:2"
    assert [e["name"] for e in containers["main"]["env"]] == ["A", "B"]
    assert [p["containerPort"] for p in containers["main"]["ports"]] == [80, 81]
    # a port already there (defaulted to TCP) is merged by its number, not duplicated
    _, named = await call(
        http,
        "PATCH",
        f"{DEPLOYS}/web",
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "main", "ports": [{"containerPort": 80, "name": "http"}]}
                        ]
                    }
                }
            }
        },
        content_type="application/strategic-merge-patch+json",
    )
    ports = named["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports[0] == {"containerPort": 80, "protocol": "TCP", "name": "http"}
    assert len(ports) == 2
    # the same patch as a JSON merge patch replaces the list instead
    _, merged = await call(
        http,
        "PATCH",
        f"{DEPLOYS}/web",
        {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x:1"}]}}}},
        content_type="application/merge-patch+json",
    )
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["only"]


async def test_strategic_merge_patch_delete_directive(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", DEPLOYS, _deploy("web"))
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "main", "env": [{"name": "A", "$patch": "delete"}]}]
                }
            }
        }
    }
    _, patched = await call(
        http,
        "PATCH",
        f"{DEPLOYS}/web",
        patch,
        content_type="application/strategic-merge-patch+json",
    )
    assert patched["spec"]["template"]["spec"]["containers"][0].get("env", []) == []


async def test_dry_run_returns_the_object_and_stores_nothing(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "POST", CMS, cm("dry", k="1"), dryRun="All")
    assert status == 201 and body["data"] == {"k": "1"}
    status, _ = await call(http, "GET", f"{CMS}/dry")
    assert status == 404
    await call(http, "POST", CMS, cm("real", k="1"))
    _, would = await call(
        http,
        "PATCH",
        f"{CMS}/real",
        "data:\n  k: '2'\n",
        content_type="application/apply-patch+yaml",
        fieldManager="baton",
        dryRun="All",
        force="true",
    )
    assert would["data"] == {"k": "2"}
    _, stored = await call(http, "GET", f"{CMS}/real")
    assert stored["data"] == {"k": "1"}


async def test_delete_with_finalizers_waits_for_them(http: aiohttp.ClientSession) -> None:
    body = cm("held", k="1")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await call(http, "POST", CMS, body)
    status, deleting = await call(http, "DELETE", f"{CMS}/held")
    assert status == 200 and deleting["metadata"]["deletionTimestamp"]
    _, still = await call(http, "GET", f"{CMS}/held")
    assert still["metadata"]["deletionTimestamp"]
    await call(
        http,
        "PATCH",
        f"{CMS}/held",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    status, _ = await call(http, "GET", f"{CMS}/held")
    assert status == 404


async def test_a_deleted_namespace_terminates_then_goes_with_its_objects(
    http: aiohttp.ClientSession,
) -> None:
    await call(http, "POST", "api/v1/namespaces", {"metadata": {"name": "tmp"}})
    await call(http, "POST", "api/v1/namespaces/tmp/configmaps", cm("a", "tmp"))
    _, deleting = await call(http, "DELETE", "api/v1/namespaces/tmp")
    assert deleting["status"]["phase"] == "Terminating"
    status, body = await call(http, "POST", "api/v1/namespaces/tmp/configmaps", cm("b", "tmp"))
    assert status == 403 and "being terminated" in body["message"]
    params = {
        "watch": "1",
        "fieldSelector": "metadata.name=tmp",
        "resourceVersion": deleting["metadata"]["resourceVersion"],
    }
    async with asyncio.timeout(5), http.get("api/v1/namespaces", params=params) as stream:
        async for line in stream.content:
            if json.loads(line)["type"] == "DELETED":
                break
    status, _ = await call(http, "GET", "api/v1/namespaces/tmp/configmaps/a")
    assert status == 404


async def test_owner_deletion_cascades_to_dependents(http: aiohttp.ClientSession) -> None:
    _, owner = await call(http, "POST", CMS, cm("owner"))
    dependent = cm("dependent")
    dependent["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    ]
    await call(http, "POST", CMS, dependent)
    await call(http, "DELETE", f"{CMS}/owner")
    status, _ = await call(http, "GET", f"{CMS}/dependent")
    assert status == 404


async def test_list_with_selectors_and_paging(http: aiohttp.ClientSession) -> None:
    for i in range(7):
        body = cm(f"c{i}")
        body["metadata"]["labels"] = {"parity": "even" if i % 2 == 0 else "odd"}
        await call(http, "POST", CMS, body)
    _, even = await call(http, "GET", CMS, labelSelector="parity=even")
    assert [i["metadata"]["name"] for i in even["items"]] == ["c0", "c2", "c4", "c6"]
    _, one = await call(http, "GET", CMS, fieldSelector="metadata.name=c3")
    assert [i["metadata"]["name"] for i in one["items"]] == ["c3"]
    _, not_one = await call(http, "GET", CMS, fieldSelector="metadata.name!=c3")
    assert len(not_one["items"]) == 6
    _, in_ns = await call(
        http, "GET", "api/v1/configmaps", fieldSelector="metadata.namespace=default"
    )
    assert len(in_ns["items"]) == 7
    seen, token, pages = [], "", 0
    while True:
        params = {"limit": "3", **({"continue": token} if token else {})}
        _, page = await call(http, "GET", CMS, **params)
        pages += 1
        seen += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue", "")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] == 7 - len(seen)
    assert pages == 3 and seen == [f"c{i}" for i in range(7)]


async def test_custom_resource_definition_registers_a_new_resource(
    http: aiohttp.ClientSession,
) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    status, created = await call(
        http, "POST", "apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
    )
    assert status == 201
    assert {c["type"] for c in created["status"]["conditions"]} >= {"Established"}
    _, groups = await call(http, "GET", "apis")
    assert "example.com" in [g["name"] for g in groups["groups"]]
    _, resources = await call(http, "GET", "apis/example.com/v1")
    assert [r["name"] for r in resources["resources"]] == ["widgets"]
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 3},
    }
    status, _ = await call(http, "POST", "apis/example.com/v1/namespaces/default/widgets", widget)
    assert status == 201
    await call(
        http, "DELETE", "apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
    )
    status, _ = await call(http, "GET", "apis/example.com/v1/namespaces/default/widgets/w")
    assert status == 404


async def test_discovery_documents(http: aiohttp.ClientSession) -> None:
    _, version = await call(http, "GET", "version")
    assert version["major"] == "1" and version["gitVersion"].startswith("v1.")
    _, core = await call(http, "GET", "api/v1")
    core_names = {r["name"]: r for r in core["resources"]}
    for name in [
        "namespaces",
        "configmaps",
        "secrets",
        "services",
        "pods",
        "serviceaccounts",
        "persistentvolumeclaims",
    ]:
        assert name in core_names
    assert core_names["namespaces"]["namespaced"] is False
    expected = {
        "apps/v1": {"deployments", "statefulsets", "daemonsets", "replicasets"},
        "batch/v1": {"jobs", "cronjobs"},
        "networking.k8s.io/v1": {"ingresses"},
    }
    for gv, names in expected.items():
        _, doc = await call(http, "GET", f"apis/{gv}")
        assert names <= {r["name"] for r in doc["resources"]}
    async with http.get(
        "apis",
        headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
    ) as response:
        assert response.headers["Content-Type"].startswith("application/json;g=apidiscovery")
        aggregated = await response.json(content_type=None)
    assert "apps" in [i["metadata"]["name"] for i in aggregated["items"]]


async def test_clusters_keep_separate_state(http: aiohttp.ClientSession, sim: Any) -> None:
    await call(http, "POST", CMS, cm("only-in-dev"))
    async with aiohttp.ClientSession(base_url=sim.url("prod") + "/") as prod:
        status, _ = await call(prod, "GET", f"{CMS}/only-in-dev")
    assert status == 404
    text = sim.kubeconfig_path.read_text()
    assert "name: dev" in text and "name: prod" in text


async def test_delete_collection_by_label(http: aiohttp.ClientSession) -> None:
    for name, team in [("a", "x"), ("b", "x"), ("c", "y")]:
        body = cm(name)
        body["metadata"]["labels"] = {"team": team}
        await call(http, "POST", CMS, body)
    status, _ = await call(http, "DELETE", CMS, labelSelector="team=x")
    assert status == 200
    _, left = await call(http, "GET", CMS)
    assert [i["metadata"]["name"] for i in left["items"]] == ["c"]


async def test_apply_with_a_stale_resource_version_is_a_conflict(
    http: aiohttp.ClientSession,
) -> None:
    _, created = await call(http, "POST", CMS, cm("a", k="1"))
    await call(
        http, "PATCH", f"{CMS}/a", {"data": {"k": "2"}}, content_type="application/merge-patch+json"
    )
    body = cm("a", k="3")
    body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    status, answer = await call(
        http,
        "PATCH",
        f"{CMS}/a",
        body,
        content_type="application/apply-patch+yaml",
        fieldManager="baton",
        force="true",
    )
    assert status == 409 and answer["reason"] == "Conflict"


async def test_field_selector_on_nested_fields(http: aiohttp.ClientSession) -> None:
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Deployment", "name": "web"},
        "reason": "Scaled",
    }
    await call(http, "POST", "api/v1/namespaces/default/events", event)
    _, hit = await call(
        http,
        "GET",
        "api/v1/namespaces/default/events",
        fieldSelector="involvedObject.name=web,involvedObject.kind=Deployment",
    )
    _, miss = await call(
        http, "GET", "api/v1/namespaces/default/events", fieldSelector="involvedObject.name=db"
    )
    assert [e["metadata"]["name"] for e in hit["items"]] == ["e1"] and miss["items"] == []


async def test_continue_token_older_than_history_is_410(
    http: aiohttp.ClientSession, sim: Any
) -> None:
    for i in range(3):
        await call(http, "POST", CMS, cm(f"c{i}"))
    _, page = await call(http, "GET", CMS, limit="1")
    await call(http, "POST", CMS, cm("later"))
    sim.cluster("dev").store.compact()
    status, body = await call(
        http, "GET", CMS, limit="1", **{"continue": page["metadata"]["continue"]}
    )
    assert status == 410 and body["reason"] == "Expired"


async def test_status_subresource_accepts_server_side_apply_and_leaves_spec(
    http: aiohttp.ClientSession,
) -> None:
    await call(http, "POST", DEPLOYS, _deploy("web", replicas=2))
    status_patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 9},
        "status": {"observedGeneration": 7},
    }
    status, obj = await call(
        http,
        "PATCH",
        f"{DEPLOYS}/web/status",
        status_patch,
        content_type="application/apply-patch+yaml",
        fieldManager="my-controller",
        force="true",
    )
    assert status == 200
    assert obj["status"]["observedGeneration"] == 7 and obj["spec"]["replicas"] == 2
    managers = {(m["manager"], m.get("subresource", "")) for m in obj["metadata"]["managedFields"]}
    assert ("my-controller", "status") in managers
    entry = next(m for m in obj["metadata"]["managedFields"] if m["manager"] == "my-controller")
    assert list(entry["fieldsV1"]) == ["f:status"]  # it owns nothing outside status


async def test_later_pages_show_the_list_as_of_the_first_page(http: aiohttp.ClientSession) -> None:
    for i in range(5):
        await call(http, "POST", CMS, cm(f"c{i}", v="old"))
    _, first = await call(http, "GET", CMS, limit="2")
    # the world moves on between pages
    await call(
        http,
        "PATCH",
        f"{CMS}/c3",
        {"data": {"v": "new"}},
        content_type="application/merge-patch+json",
    )
    await call(http, "DELETE", f"{CMS}/c4")
    await call(http, "POST", CMS, cm("c9", v="new"))
    _, rest = await call(
        http, "GET", CMS, limit="10", **{"continue": first["metadata"]["continue"]}
    )
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c2", "c3", "c4"]
    assert {i["data"]["v"] for i in rest["items"]} == {"old"}
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    _, fresh = await call(http, "GET", CMS)
    assert [i["metadata"]["name"] for i in fresh["items"]] == ["c0", "c1", "c2", "c3", "c9"]
