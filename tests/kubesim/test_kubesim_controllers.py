"""Simulated controllers: the statuses workloads move through, as a real cluster's do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
from ks_helpers import call

from kubesim import SimHandle

APPS = "apis/apps/v1/namespaces/default"
JOBS = "apis/batch/v1/namespaces/default/jobs"


def _workload(kind: str, name: str, image: str, **spec: Any) -> dict[str, Any]:
    template = {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": "main", "image": image}]},
    }
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": template, **spec},
    }
    if kind == "Job":
        body["apiVersion"] = "batch/v1"
        del body["spec"]["selector"]
        template["spec"]["restartPolicy"] = "Never"
    return body


async def _until(
    http: aiohttp.ClientSession,
    path: str,
    check: Callable[[dict[str, Any]], bool],
    seconds: float = 5.0,
) -> dict[str, Any]:
    """Poll an object until `check` holds; fail with its last status otherwise."""
    obj: dict[str, Any] = {}
    try:
        async with asyncio.timeout(seconds):
            while True:
                _, obj = await call(http, "GET", path)
                if check(obj):
                    return obj
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"{path} never got there: {obj.get('status')}") from None


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


async def test_deployment_rolls_out_step_by_step(http: aiohttp.ClientSession) -> None:
    await call(
        http, "POST", f"{APPS}/deployments", _workload("Deployment", "web", "web:1", replicas=3)
    )
    seen: list[int] = []

    def ready(obj: dict[str, Any]) -> bool:
        seen.append(obj.get("status", {}).get("readyReplicas", 0))
        return seen[-1] == 3

    done = await _until(http, f"{APPS}/deployments/web", ready)
    status = done["status"]
    assert status["observedGeneration"] == 1
    assert status["updatedReplicas"] == status["availableReplicas"] == status["replicas"] == 3
    assert len(set(seen)) > 2  # it passed through intermediate counts
    conditions = _conditions(done)
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"


async def test_new_image_is_rolled_out_with_a_new_observed_generation(
    http: aiohttp.ClientSession,
) -> None:
    path = f"{APPS}/deployments/web"
    await call(
        http, "POST", f"{APPS}/deployments", _workload("Deployment", "web", "web:1", replicas=2)
    )
    await _until(http, path, lambda o: o.get("status", {}).get("readyReplicas") == 2)
    await call(
        http,
        "PATCH",
        path,
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "web:2"}]}}}},
        content_type="application/strategic-merge-patch+json",
    )
    during: list[dict[str, Any]] = []

    def rolled(obj: dict[str, Any]) -> bool:
        during.append(obj["status"])
        return (
            obj["status"]["observedGeneration"] == 2
            and _conditions(obj)["Progressing"]["reason"] == "NewReplicaSetAvailable"
        )

    done = await _until(http, path, rolled)
    assert done["status"]["updatedReplicas"] == 2
    # a rolling update with maxUnavailable 25% of 2 (= 0) never drops below 2 available
    assert all(s.get("availableReplicas", 0) == 2 for s in during)


async def test_failing_image_ends_with_progress_deadline_exceeded_but_old_pods_serve(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    sim.cluster("dev").fail_image(":broken")
    path = f"{APPS}/deployments/web"
    await call(
        http, "POST", f"{APPS}/deployments", _workload("Deployment", "web", "web:1", replicas=2)
    )
    await _until(http, path, lambda o: o.get("status", {}).get("readyReplicas") == 2)
    await call(
        http,
        "PATCH",
        path,
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "web:broken"}]}}}},
        content_type="application/strategic-merge-patch+json",
    )
    stuck = await _until(
        http,
        path,
        lambda o: _conditions(o).get("Progressing", {}).get("reason") == "ProgressDeadlineExceeded",
    )
    assert stuck["status"]["availableReplicas"] == 2  # the old pods still serve
    assert stuck["status"]["updatedReplicas"] < 2 or stuck["status"].get("readyReplicas") == 2
    assert _conditions(stuck)["Progressing"]["status"] == "False"


async def test_a_rollout_that_keeps_moving_is_never_past_its_deadline(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    # as a real Deployment's, the deadline counts from the last progress: 12 replicas
    # take about 24 steps, several times the deadline, and each step moves
    timing = sim.cluster("dev").timing
    kept, timing.progress_deadline = timing.progress_deadline, 0.5
    try:
        assert 24 * timing.step > 2 * timing.progress_deadline
        await call(
            http,
            "POST",
            f"{APPS}/deployments",
            _workload("Deployment", "big", "big:1", replicas=12),
        )
        done = await _until(
            http,
            f"{APPS}/deployments/big",
            lambda o: (
                _conditions(o).get("Progressing", {}).get("reason")
                in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded")
            ),
            seconds=30,
        )
    finally:
        timing.progress_deadline = kept
    assert _conditions(done)["Progressing"]["reason"] == "NewReplicaSetAvailable", done["status"]
    assert done["status"]["readyReplicas"] == 12


async def test_statefulset_becomes_ready_and_current(http: aiohttp.ClientSession) -> None:
    await call(
        http,
        "POST",
        f"{APPS}/statefulsets",
        _workload("StatefulSet", "db", "db:1", replicas=2, serviceName="db"),
    )
    done = await _until(
        http, f"{APPS}/statefulsets/db", lambda o: o.get("status", {}).get("readyReplicas") == 2
    )
    status = done["status"]
    assert status["currentRevision"] == status["updateRevision"]
    assert status["updatedReplicas"] == 2 and status["observedGeneration"] == 1


async def test_statefulset_with_a_failing_image_never_gets_ready(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    sim.cluster("dev").fail_image("db:broken")
    await call(
        http,
        "POST",
        f"{APPS}/statefulsets",
        _workload("StatefulSet", "db", "db:broken", replicas=2, serviceName="db"),
    )
    obj = await _until(
        http,
        f"{APPS}/statefulsets/db",
        lambda o: o.get("status", {}).get("observedGeneration") == 1,
    )
    await asyncio.sleep(0.3)
    _, obj = await call(http, "GET", f"{APPS}/statefulsets/db")
    assert obj["status"]["readyReplicas"] == 0


async def test_daemonset_schedules_one_pod_per_simulated_node(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    sim.cluster("dev").timing.nodes = 3
    await call(http, "POST", f"{APPS}/daemonsets", _workload("DaemonSet", "agent", "agent:1"))
    done = await _until(
        http, f"{APPS}/daemonsets/agent", lambda o: o.get("status", {}).get("numberAvailable") == 3
    )
    assert done["status"]["desiredNumberScheduled"] == 3
    assert done["status"]["updatedNumberScheduled"] == 3


async def test_job_completes(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", JOBS, _workload("Job", "migrate", "migrate:1"))
    done = await _until(http, f"{JOBS}/migrate", lambda o: "Complete" in _conditions(o))
    assert done["status"]["succeeded"] == 1 and done["status"]["completionTime"]


async def test_job_with_a_failing_image_fails_with_backoff_limit_exceeded(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    sim.cluster("dev").fail_image("migrate:broken")
    await call(http, "POST", JOBS, _workload("Job", "migrate", "migrate:broken", backoffLimit=2))
    done = await _until(http, f"{JOBS}/migrate", lambda o: "Failed" in _conditions(o))
    assert _conditions(done)["Failed"]["reason"] == "BackoffLimitExceeded"
    assert done["status"]["failed"] == 3


async def test_status_writes_are_owned_by_the_controller_manager(
    http: aiohttp.ClientSession,
) -> None:
    await call(
        http, "POST", f"{APPS}/deployments", _workload("Deployment", "web", "web:1", replicas=1)
    )
    done = await _until(
        http, f"{APPS}/deployments/web", lambda o: o.get("status", {}).get("readyReplicas") == 1
    )
    managers = {(m["manager"], m.get("subresource", "")) for m in done["metadata"]["managedFields"]}
    assert ("kube-controller-manager", "status") in managers


async def test_pod_becomes_ready_or_waits_in_image_pull_back_off(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    sim.cluster("dev").fail_image("app:broken")
    pods = "api/v1/namespaces/default/pods"
    for name, image in [("good", "app:1"), ("bad", "app:broken")]:
        await call(
            http,
            "POST",
            pods,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        )
    good = await _until(
        http, f"{pods}/good", lambda o: o.get("status", {}).get("phase") == "Running"
    )
    assert _conditions(good)["Ready"]["status"] == "True"
    bad = await _until(
        http,
        f"{pods}/bad",
        lambda o: any(
            s["state"].get("waiting", {}).get("reason") == "ImagePullBackOff"
            for s in o.get("status", {}).get("containerStatuses", [])
        ),
    )
    assert bad["status"]["phase"] == "Pending"
    assert _conditions(bad)["Ready"]["status"] == "False"


async def test_claim_gets_bound_and_load_balancer_gets_an_address(
    http: aiohttp.ClientSession,
) -> None:
    core = "api/v1/namespaces/default"
    await call(
        http,
        "POST",
        f"{core}/persistentvolumeclaims",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "5Gi"}},
            },
        },
    )
    claim = await _until(
        http,
        f"{core}/persistentvolumeclaims/data",
        lambda o: o.get("status", {}).get("phase") == "Bound",
    )
    assert claim["status"]["capacity"] == {"storage": "5Gi"}
    await call(
        http,
        "POST",
        f"{core}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "front"},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": 8080}],
            },
        },
    )
    service = await _until(
        http,
        f"{core}/services/front",
        lambda o: bool(o.get("status", {}).get("loadBalancer", {}).get("ingress")),
    )
    assert service["spec"]["clusterIP"]
    assert service["spec"]["ports"][0]["protocol"] == "TCP"


async def test_paused_deployment_reports_deployment_paused(http: aiohttp.ClientSession) -> None:
    await call(
        http,
        "POST",
        f"{APPS}/deployments",
        _workload("Deployment", "web", "web:1", replicas=2, paused=True),
    )
    paused = await _until(
        http, f"{APPS}/deployments/web", lambda o: "Progressing" in _conditions(o)
    )
    assert _conditions(paused)["Progressing"]["reason"] == "DeploymentPaused"
    assert paused["status"].get("readyReplicas", 0) == 0


async def test_simulated_pods_follow_a_rollout(http: aiohttp.ClientSession, sim: SimHandle) -> None:
    sim.cluster("dev").simulate_pods = True
    path = f"{APPS}/deployments/web"
    await call(
        http, "POST", f"{APPS}/deployments", _workload("Deployment", "web", "web:1", replicas=2)
    )
    await _until(http, path, lambda o: o.get("status", {}).get("readyReplicas") == 2)
    await call(
        http,
        "PATCH",
        path,
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "web:2"}]}}}},
        content_type="application/strategic-merge-patch+json",
    )
    await _until(
        http,
        path,
        lambda o: (
            o["status"].get("observedGeneration") == 2
            and _conditions(o)["Progressing"]["reason"] == "NewReplicaSetAvailable"
        ),
    )
    _, sets = await call(http, "GET", f"{APPS}/replicasets", labelSelector="app=web")
    desired = sorted(
        (rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"], rs["spec"]["replicas"])
        for rs in sets["items"]
    )
    assert desired == [("1", 0), ("2", 2)]
    _, pods = await call(http, "GET", "api/v1/namespaces/default/pods", labelSelector="app=web")
    assert len(pods["items"]) == 2
    new_rs = next(rs for rs in sets["items"] if rs["spec"]["replicas"] == 2)
    for pod in pods["items"]:
        assert pod["metadata"]["ownerReferences"][0]["uid"] == new_rs["metadata"]["uid"]
        assert pod["status"]["phase"] == "Running"
    await call(http, "DELETE", path)  # cascades to ReplicaSets and their pods
    _, after = await call(http, "GET", "api/v1/namespaces/default/pods")
    assert after["items"] == []


async def test_controllers_record_events(http: aiohttp.ClientSession, sim: SimHandle) -> None:
    sim.cluster("dev").fail_image("migrate:broken")
    await call(http, "POST", JOBS, _workload("Job", "migrate", "migrate:broken", backoffLimit=0))
    await call(http, "POST", f"{APPS}/deployments", _workload("Deployment", "web", "web:1"))
    await _until(http, f"{JOBS}/migrate", lambda o: "Failed" in _conditions(o))
    events = "api/v1/namespaces/default/events"
    _, job_events = await call(http, "GET", events, fieldSelector="involvedObject.name=migrate")
    assert [(e["type"], e["reason"]) for e in job_events["items"]] == [
        ("Warning", "BackoffLimitExceeded")
    ]
    _, web_events = await call(http, "GET", events, fieldSelector="involvedObject.kind=Deployment")
    assert [e["reason"] for e in web_events["items"]] == ["ScalingReplicaSet"]
    assert web_events["items"][0]["message"].startswith("Scaled up replica set web-")
