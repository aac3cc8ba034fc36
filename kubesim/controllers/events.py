"""Events the simulated controllers record, as `kubectl describe` and `get events` show.

Pure `transitions()` decides, from a status before and after a write, which Events a real
controller would have recorded; `record()` stores them (core/v1 Events in the object's
namespace). Called by `manager.py` after each status write and by `replicas.py` for pods.
"""

from __future__ import annotations

import secrets
from typing import Any

from kubesim.cluster import Cluster
from kubesim.controllers.model import template_hash
from kubesim.operations import WriteOptions
from kubesim.timestamps import now_iso

Transition = tuple[str, str, str]  # (type, reason, message)


def _conditions(status: dict[str, Any] | None) -> dict[str, str]:
    return {c.get("type", ""): c.get("status", "") for c in (status or {}).get("conditions") or []}


def _waiting(status: dict[str, Any] | None) -> dict[str, str]:
    return {
        s.get("image", ""): (s.get("state") or {}).get("waiting", {}).get("reason", "")
        for s in (status or {}).get("containerStatuses") or []
    }


def transitions(
    table: tuple[str, str],
    obj: dict[str, Any],
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> list[Transition]:
    """The Events a status change is worth."""
    out: list[Transition] = []
    if table == ("apps", "deployments"):
        generation = obj["metadata"].get("generation")
        if (before or {}).get("observedGeneration") != generation:
            replicas = (obj.get("spec") or {}).get("replicas", 1)
            replica_set = f"{obj['metadata']['name']}-{template_hash(obj)}"
            out.append(
                (
                    "Normal",
                    "ScalingReplicaSet",
                    f"Scaled up replica set {replica_set} to {replicas}",
                )
            )
    elif table == ("batch", "jobs"):
        was, now = _conditions(before), _conditions(after)
        if now.get("Complete") == "True" and was.get("Complete") != "True":
            out.append(("Normal", "Completed", "Job completed"))
        if now.get("Failed") == "True" and was.get("Failed") != "True":
            out.append(
                ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
            )
    elif table == ("", "pods"):
        was = _waiting(before)
        for image, reason in _waiting(after).items():
            if reason == "ImagePullBackOff" and was.get(image) != reason:
                out.append(
                    (
                        "Warning",
                        "Failed",
                        f'Failed to pull image "{image}": not found in any registry',
                    )
                )
                out.append(("Normal", "BackOff", f'Back-off pulling image "{image}"'))
    return out


def record(cluster: Cluster, obj: dict[str, Any], found: list[Transition], component: str) -> None:
    """Store Events about `obj` (never failing the write that caused them)."""
    rt = cluster.registry.lookup("", "v1", "events")
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"
    if rt is None or not found:
        return
    now = now_iso()
    for kind, reason, message in found:
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion", ""),
                "kind": obj.get("kind"),
                "name": meta["name"],
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "count": 1,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "reportingComponent": component,
            "reportingInstance": component,
        }
        try:
            cluster.ops.create(
                rt, namespace, event, WriteOptions(field_manager=component, trusted=True)
            )
        except Exception:  # an event is a by-product: losing one must not break a rollout
            continue
