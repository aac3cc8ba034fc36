"""Kubelet, volume provisioner and load-balancer controller, simulated in one step each.

Pure, like `deployment.py`. A Pod is Pending for one step, then Running and Ready (or stuck
in ImagePullBackOff when its image fails); a PersistentVolumeClaim gets Bound; a
LoadBalancer Service and an Ingress get an address.
"""

from __future__ import annotations

import zlib
from typing import Any

from kubesim.controllers.model import Progress, condition


def _address(obj: dict[str, Any]) -> str:
    """A stable fake address per object."""
    n = zlib.crc32(obj["metadata"].get("uid", "").encode())
    return f"172.18.{(n >> 8) % 256}.{n % 254 + 1}"


def decide_pod(obj: dict[str, Any], p: Progress) -> tuple[dict[str, Any], bool]:
    """Scheduled at once, started one step later; a failing image never starts."""
    old = obj.get("status") or {}
    containers = [c for c in (obj.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
    started = p.steps >= 1 and not p.failing
    reason = "ImagePullBackOff" if p.failing and p.steps >= 1 else "ContainerCreating"
    statuses = []
    for c in containers:
        image = str(c.get("image", ""))
        state: dict[str, Any] = (
            {"running": {"startedAt": old.get("startTime") or p.now}}
            if started
            else {
                "waiting": {
                    "reason": reason,
                    **(
                        {"message": f'Back-off pulling image "{image}"'}
                        if reason == "ImagePullBackOff"
                        else {}
                    ),
                }
            }
        )
        statuses.append(
            {
                "name": c.get("name", ""),
                "image": image,
                "imageID": "",
                "ready": started,
                "started": started,
                "restartCount": 0,
                "state": state,
            }
        )
    ready = "True" if started else "False"
    not_ready = "" if started else "ContainersNotReady"
    conditions = [
        condition(old, "PodScheduled", "True", "", "", p.now),
        condition(old, "Initialized", "True", "", "", p.now),
        condition(old, "ContainersReady", ready, not_ready, "", p.now),
        condition(old, "Ready", ready, not_ready, "", p.now),
    ]
    status = {
        "phase": "Running" if started else "Pending",
        "conditions": [{k: v for k, v in c.items() if v != ""} for c in conditions],
        "hostIP": "172.18.0.2",
        "podIP": _address(obj),
        "startTime": old.get("startTime") or p.now,
        "qosClass": "BestEffort",
        "containerStatuses": statuses,
    }
    return status, p.steps >= 1


def decide_pvc(obj: dict[str, Any], p: Progress) -> tuple[dict[str, Any], bool]:
    """Bound at once, with the capacity it asked for."""
    spec = obj.get("spec") or {}
    requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    return {
        "phase": "Bound",
        "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
        "capacity": {"storage": requested},
    }, True


def decide_service(obj: dict[str, Any], p: Progress) -> tuple[dict[str, Any], bool]:
    """A LoadBalancer Service gets an ingress address after one step; others nothing."""
    if (obj.get("spec") or {}).get("type") != "LoadBalancer":
        return {"loadBalancer": {}}, True
    if p.steps < 1:
        return {"loadBalancer": {}}, False
    return {"loadBalancer": {"ingress": [{"ip": _address(obj), "ipMode": "VIP"}]}}, True


def decide_ingress(obj: dict[str, Any], p: Progress) -> tuple[dict[str, Any], bool]:
    """An Ingress gets an address after one step."""
    if p.steps < 1:
        return {"loadBalancer": {}}, False
    return {"loadBalancer": {"ingress": [{"ip": _address(obj)}]}}, True
