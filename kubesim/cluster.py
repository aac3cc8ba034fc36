"""One simulated cluster: its registry, store, verbs, faults and controller settings.

`server.py` routes each request to a `Cluster` by name; the controllers in
`controllers/` run per cluster against its store. Everything a test wants to steer
(failing images, delays, faults) is a plain attribute here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kubesim.faults import Faults
from kubesim.observers import Observers
from kubesim.operations import Operations, WriteOptions
from kubesim.resources import Registry
from kubesim.store import Store

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def node_manifest(name: str) -> dict[str, Any]:
    """A Node as a kubelet registers it."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {"podCIDR": "10.244.0.0/24"},
    }


def node_status() -> dict[str, Any]:
    """A Ready node's status."""
    return {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
            }
        ],
        "capacity": {"cpu": "2", "memory": "24Gi", "pods": "110"},
        "allocatable": {"cpu": "2", "memory": "24Gi", "pods": "110"},
        "nodeInfo": {
            "kubeletVersion": "v1.37.0",
            "containerRuntimeVersion": "kubesim://1",
            "operatingSystem": "linux",
            "architecture": "amd64",
            "osImage": "kubesim",
            "kernelVersion": "",
            "kubeProxyVersion": "",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
        "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
    }


@dataclass
class ControllerTiming:
    """How fast the simulated controllers move (seconds)."""

    observe: float = 0.1  # from a spec change to the controller noticing it
    step: float = 0.5  # between rollout steps (one replica becomes ready per step)
    progress_deadline: float | None = None  # None: the object's progressDeadlineSeconds
    job_duration: float = 1.0  # from a Job's start to its completion
    nodes: int = 1  # DaemonSet pods per rollout: one per simulated node
    bookmark_interval: float = 5.0  # between BOOKMARK events on watches that ask for them

    @classmethod
    def fast(cls) -> ControllerTiming:
        """Delays short enough for tests (the deadline long enough that a machine busy with
        other tests, stalling a healthy rollout between two steps, does not fail it)."""
        return cls(
            observe=0.01, step=0.05, progress_deadline=2.0, job_duration=0.1, bookmark_interval=0.2
        )


@dataclass
class Cluster:
    """The state and knobs of one named cluster."""

    name: str
    timing: ControllerTiming = field(default_factory=ControllerTiming)
    faults: Faults = field(default_factory=Faults)
    # Images, or tags, that never become ready ("web:bad" or ":bad" or "bad").
    failing_images: set[str] = field(default_factory=set)
    # Whether Deployments get ReplicaSets and Pods (off: status only, far fewer writes).
    simulate_pods: bool = False
    registry: Registry = field(default_factory=Registry.builtin)
    store: Store = field(default_factory=Store)
    ops: Operations = field(init=False)
    # Queues of open watch streams; `None` put on one ends that stream (server shutdown).
    watch_queues: set[asyncio.Queue[Any]] = field(default_factory=set)
    # Told of each API request as it arrives (`observers.add(fn)`; see observers.py).
    observers: Observers = field(default_factory=Observers)

    def __post_init__(self) -> None:
        self.ops = Operations(self.store, self.registry)
        self._seed()

    def _seed(self) -> None:
        """What every fresh cluster has: system namespaces, the API Service, its nodes."""
        server = WriteOptions(field_manager="kube-apiserver", trusted=True)
        for name in SYSTEM_NAMESPACES:
            self.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, server
            )
        self.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": "10.96.0.1",
                    "type": "ClusterIP",
                    "ports": [{"name": "https", "port": 443, "targetPort": 6443}],
                },
            },
            server,
        )
        nodes = self.registry.lookup("", "v1", "nodes")
        assert nodes is not None, "the built-in discovery data lacks nodes"
        for index in range(1, self.timing.nodes + 1):
            node = self.create(
                node_manifest(f"{self.name}-node-{index}"),
                WriteOptions(field_manager="kubelet", trusted=True),
            )
            self.ops.replace(
                nodes,
                "",
                node["metadata"]["name"],
                dict(node, status=node_status()),
                WriteOptions(field_manager="kubelet", subresource="status", trusted=True),
            )

    def close_watches(self) -> None:
        """End every open watch stream (clients see the connection close and re-watch)."""
        for queue in self.watch_queues:
            queue.put_nowait(None)

    def image_fails(self, image: str) -> bool:
        """Whether pods of this image would never become ready."""
        if not self.failing_images:
            return False
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
        return bool({image, tag, ":" + tag} & self.failing_images)

    def fail_image(self, *images: str) -> None:
        """Mark images or tags as failing."""
        self.failing_images.update(images)

    def create(self, obj: dict[str, Any], opts: WriteOptions | None = None) -> dict[str, Any]:
        """Create an object from Python (fixtures, the demo)."""
        rt = self.registry.by_kind(obj["apiVersion"], obj["kind"])
        if rt is None:
            raise KeyError(f"{obj['apiVersion']} {obj['kind']} is not served")
        namespace = obj.get("metadata", {}).get("namespace", "default") if rt.namespaced else ""
        return self.ops.create(
            rt, namespace, obj, opts or WriteOptions(field_manager="kubesim", trusted=True)
        )

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
        """Read an object from Python."""
        rt = self.registry.by_kind(api_version, kind)
        if rt is None:
            raise KeyError(f"{api_version} {kind} is not served")
        return self.ops.get(rt, namespace if rt.namespaced else "", name)
