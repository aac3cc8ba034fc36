"""ReplicaSets and Pods behind a Deployment, for clusters that simulate pods.

`manager.py` calls `sync_replicas()` after each Deployment status write when
`Cluster.simulate_pods` is on, so `kubectl get rs,pods` and `rollout history` show what a
real cluster shows. The counts come from the Deployment's status (the pure decision in
`deployment.py`); this module only makes the objects match them.
"""

from __future__ import annotations

import secrets
from typing import Any

from kubesim.cluster import Cluster
from kubesim.controllers.events import record, transitions
from kubesim.controllers.model import Progress, template_hash
from kubesim.controllers.simple import decide_pod
from kubesim.errors import ApiError
from kubesim.operations import WriteOptions, now_iso
from kubesim.patches import PatchType
from kubesim.resources import ResourceType

MANAGER = "kube-controller-manager"
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


def _owner_ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _types(cluster: Cluster) -> tuple[ResourceType, ResourceType]:
    rs_rt = cluster.registry.lookup("apps", "v1", "replicasets")
    pod_rt = cluster.registry.lookup("", "v1", "pods")
    assert rs_rt is not None and pod_rt is not None
    return rs_rt, pod_rt


def sync_replicas(
    cluster: Cluster,
    deployment: dict[str, Any],
    status: dict[str, Any],
    *,
    failing: bool,
    revision: int,
) -> None:
    """Make the Deployment's ReplicaSets and Pods match its status counts."""
    rs_rt, _ = _types(cluster)
    uid = deployment["metadata"]["uid"]
    new_count = int(status.get("updatedReplicas") or 0)
    old_count = int(status.get("replicas") or 0) - new_count
    new_ready = max(0, int(status.get("readyReplicas") or 0) - old_count)
    owned = [s.obj for s in cluster.store.owned_by(uid, rs_rt.key)]
    current = template_hash(deployment)
    new_rs = next(
        (rs for rs in owned if rs["metadata"].get("labels", {}).get(HASH_LABEL) == current), None
    )
    try:
        if new_rs is None:
            new_rs = _create_replicaset(cluster, deployment, current, revision=revision)
        elif new_rs["metadata"].get("annotations", {}).get(REVISION) != str(revision):
            # a rollback makes an old ReplicaSet the newest revision again
            new_rs, _ = cluster.ops.patch(
                rs_rt,
                new_rs["metadata"]["namespace"],
                new_rs["metadata"]["name"],
                PatchType.MERGE,
                {"metadata": {"annotations": {REVISION: str(revision)}}},
                WriteOptions(field_manager=MANAGER, trusted=True),
            )
        _scale(cluster, new_rs, new_count, new_ready, failing=failing)
        # The newest old ReplicaSet keeps the old pods that still run; older ones none.
        olds = sorted(
            (
                rs
                for rs in owned
                if rs is not new_rs and rs["metadata"]["name"] != new_rs["metadata"]["name"]
            ),
            key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, 0)),
            reverse=True,
        )
        for index, rs in enumerate(olds):
            keep = old_count if index == 0 else 0
            _scale(cluster, rs, keep, keep, failing=False)
    except ApiError:
        pass  # the Deployment went away meanwhile; garbage collection does the rest


def _create_replicaset(
    cluster: Cluster, deployment: dict[str, Any], current: str, *, revision: int
) -> dict[str, Any]:
    rs_rt, _ = _types(cluster)
    spec = deployment.get("spec") or {}
    template = dict(spec.get("template") or {})
    template_meta = dict(template.get("metadata") or {})
    labels = {**(template_meta.get("labels") or {}), HASH_LABEL: current}
    template["metadata"] = {**template_meta, "labels": labels}
    selector = spec.get("selector") or {}
    body = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{deployment['metadata']['name']}-{current}",
            "labels": labels,
            "annotations": {REVISION: str(revision)},
            "ownerReferences": [_owner_ref(deployment)],
        },
        "spec": {
            "replicas": 0,
            "template": template,
            "selector": {
                **selector,
                "matchLabels": {**(selector.get("matchLabels") or {}), HASH_LABEL: current},
            },
        },
    }
    namespace = deployment["metadata"].get("namespace", "")
    return cluster.ops.create(
        rs_rt, namespace, body, WriteOptions(field_manager=MANAGER, trusted=True)
    )


def _scale(cluster: Cluster, rs: dict[str, Any], count: int, ready: int, *, failing: bool) -> None:
    """Set a ReplicaSet's replicas and status, and make its pods match."""
    rs_rt, pod_rt = _types(cluster)
    ops, meta = cluster.ops, rs["metadata"]
    namespace, name = meta.get("namespace", ""), meta["name"]
    if (rs.get("spec") or {}).get("replicas") != count:
        rs, _ = ops.patch(
            rs_rt,
            namespace,
            name,
            PatchType.MERGE,
            {"spec": {"replicas": count}},
            WriteOptions(field_manager=MANAGER, trusted=True),
        )
    pods = [s.obj for s in cluster.store.owned_by(meta["uid"], pod_rt.key)]
    for extra in pods[count:]:
        ops.delete(pod_rt, namespace, extra["metadata"]["name"])
    pods = pods[:count]
    template = (rs.get("spec") or {}).get("template") or {}
    while len(pods) < count:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-{secrets.token_hex(3)[:5]}",
                "labels": (template.get("metadata") or {}).get("labels") or {},
                "ownerReferences": [_owner_ref(rs)],
            },
            "spec": {**(template.get("spec") or {}), "nodeName": "kubesim-node"},
        }
        pods.append(
            ops.create(pod_rt, namespace, body, WriteOptions(field_manager=MANAGER, trusted=True))
        )
    now = now_iso()
    for index, pod in enumerate(pods):
        up = index < ready
        progress = Progress(
            generation=1,
            steps=1 if up or failing else 0,
            elapsed=0.0,
            old_ready=0,
            template_changed=False,
            failing=failing and not up,
            deadline=0.0,
            nodes=1,
            now=now,
        )
        pod_status, _ = decide_pod(pod, progress)
        if pod_status != pod.get("status"):
            ops.replace(
                pod_rt,
                namespace,
                pod["metadata"]["name"],
                dict(pod, status=pod_status),
                WriteOptions(field_manager="kubelet", subresource="status", trusted=True),
            )
            record(
                cluster, pod, transitions(pod_rt.key, pod, pod.get("status"), pod_status), "kubelet"
            )
    rs_status = {
        "observedGeneration": rs["metadata"].get("generation", 1),
        "replicas": count,
        "fullyLabeledReplicas": count,
        "readyReplicas": ready,
        "availableReplicas": ready,
    }
    rs_status = {k: v for k, v in rs_status.items() if v}
    if rs_status != rs.get("status"):
        ops.replace(
            rs_rt,
            namespace,
            name,
            dict(rs, status=rs_status),
            WriteOptions(field_manager=MANAGER, subresource="status", trusted=True),
        )
