"""kubernetes-asyncio's dynamic client against kubesim: discovery, apply, list, watch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import config, watch
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.dynamic import DynamicClient

from kubesim import SimHandle


def _deployment(name: str, image: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"app.kubernetes.io/managed-by": "baton"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


@pytest.fixture
async def dynamic(sim: SimHandle) -> AsyncIterator[DynamicClient]:
    """A dynamic client for the `prod` context of the written kubeconfig."""
    api: ApiClient = await config.new_client_from_config(
        config_file=str(sim.kubeconfig_path), context="prod"
    )
    async with api:
        yield await DynamicClient(api)


async def test_discovery_finds_builtin_resources(dynamic: DynamicClient) -> None:
    deployments = await dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced and deployments.name == "deployments"
    namespaces = await dynamic.resources.get(api_version="v1", kind="Namespace")
    assert not namespaces.namespaced


async def test_server_side_apply_records_baton_as_manager_and_conflicts(
    dynamic: DynamicClient,
) -> None:
    deployments = await dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    applied = await deployments.server_side_apply(
        body=_deployment("web", "web:1"), name="web", namespace="default", field_manager="baton"
    )
    assert [m.manager for m in applied.metadata.managedFields] == ["baton"]
    # kubernetes-asyncio's dynamic client does not raise on error answers (it reads bodies
    # unchecked), so callers must look for a Status; kubesim sends the real one.
    clash = await deployments.server_side_apply(
        body=_deployment("web", "web:2"),
        name="web",
        namespace="default",
        field_manager="someone-else",
    )
    assert clash.kind == "Status" and clash.code == 409 and clash.reason == "Conflict"
    assert 'conflict with "baton"' in clash.message
    assert clash.details.causes[0].field == '.spec.template.spec.containers[name="main"].image'
    forced = await deployments.server_side_apply(
        body=_deployment("web", "web:2"),
        name="web",
        namespace="default",
        field_manager="someone-else",
        force_conflicts=True,
    )
    assert forced.spec.template.spec.containers[0].image == "web:2"
    assert forced.metadata.generation == 2


async def test_list_with_label_selector(dynamic: DynamicClient) -> None:
    deployments = await dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    for name in ("a", "b"):
        await deployments.server_side_apply(
            body=_deployment(name, "x:1"), name=name, namespace="default", field_manager="baton"
        )
    listed = await deployments.get(
        namespace="default", label_selector="app.kubernetes.io/managed-by=baton"
    )
    assert sorted(i.metadata.name for i in listed.items) == ["a", "b"]
    none = await deployments.get(
        namespace="default", label_selector="app.kubernetes.io/managed-by=other"
    )
    assert none.items == []


async def test_watch_follows_a_rollout_to_ready(dynamic: DynamicClient) -> None:
    deployments = await dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    await deployments.server_side_apply(
        body=_deployment("web", "web:1", replicas=2),
        name="web",
        namespace="default",
        field_manager="baton",
    )
    seen: list[tuple[str, int]] = []
    watcher = watch.Watch()
    async for event in deployments.watch(namespace="default", watcher=watcher, timeout=5):
        status = event["object"].status
        ready = (status.readyReplicas if status else None) or 0
        seen.append((event["type"], ready))
        if ready == 2:
            watcher.stop()
            break
    assert seen[0] == ("ADDED", 0)
    assert seen[-1] == ("MODIFIED", 2)
    assert [r for _, r in seen] == sorted(r for _, r in seen)  # readiness only grows
