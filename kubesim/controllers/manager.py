"""Runs the simulated controllers of one cluster: observe, decide, write status.

Started by `server.py` with the application. It listens to the store for workload
objects whose generation changed, runs one task per rolling object, asks the pure
`decide` functions for the status at each step and writes it through the status
subresource as `kube-controller-manager`, so watches and managedFields look real.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubesim.cluster import Cluster
from kubesim.controllers.deployment import decide as decide_deployment
from kubesim.controllers.events import record, transitions
from kubesim.controllers.model import Progress, pod_images, template_hash
from kubesim.controllers.replicas import sync_replicas
from kubesim.controllers.simple import decide_ingress, decide_pod, decide_pvc, decide_service
from kubesim.controllers.workloads import decide_daemonset, decide_job, decide_statefulset
from kubesim.errors import ApiError
from kubesim.operations import WriteOptions, now_iso
from kubesim.patches import PatchType
from kubesim.store import Event, EventType

log = logging.getLogger(__name__)

Decide = Callable[[dict[str, Any], Progress], tuple[dict[str, Any], bool]]
Key = tuple[tuple[str, str], str, str]  # (table, namespace, name)
MANAGER = "kube-controller-manager"
DEPLOYMENTS = ("apps", "deployments")
NAMESPACES = ("", "namespaces")
REVISION = "deployment.kubernetes.io/revision"


def _generation(obj: dict[str, Any]) -> int:
    """metadata.generation; 1 for kinds that do not track it (Services, PVCs)."""
    return int(obj["metadata"].get("generation") or 1)


@dataclass
class _Rollout:
    """What the controller remembers about the object's current rollout."""

    generation: int
    started: float
    old_ready: int
    template: str
    template_changed: bool
    revision: int = 0
    #: when its counts (pods created, ready, available) last changed
    progressed: float = 0.0


#: the status counts whose change is progress, as the deployment controller sees it
_PROGRESS_COUNTS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")


def _counts(status: dict[str, Any] | None) -> tuple[Any, ...]:
    return tuple((status or {}).get(name) for name in _PROGRESS_COUNTS)


class ControllerManager:
    """The simulated controllers of one cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._wake: dict[Key, asyncio.Event] = {}
        self._rollouts: dict[Key, _Rollout] = {}
        self._revisions: dict[Key, dict[str, int]] = {}  # template hash -> revision
        self._unsubscribe: Callable[[], None] | None = None
        self._terminating: set[str] = set()
        self._kinds: dict[tuple[str, str], Decide] = {
            ("apps", "deployments"): decide_deployment,
            ("apps", "statefulsets"): decide_statefulset,
            ("apps", "daemonsets"): decide_daemonset,
            # Read per call: the job duration may be changed while the cluster runs.
            ("batch", "jobs"): lambda obj, p: decide_job(obj, p, cluster.timing.job_duration),
            ("", "pods"): decide_pod,
            ("", "persistentvolumeclaims"): decide_pvc,
            ("", "services"): decide_service,
            ("networking.k8s.io", "ingresses"): decide_ingress,
        }

    def start(self) -> None:
        """Begin reacting to changes, and pick up objects that already exist."""
        self._unsubscribe = self.cluster.store.subscribe(self._on_event)
        for table in self._kinds:
            for stored in list(self.cluster.store.tables.get(table, {}).values()):
                meta = stored.obj["metadata"]
                self._ensure((table, meta.get("namespace", ""), meta["name"]))

    async def stop(self) -> None:
        """Cancel every rollout task."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _on_event(self, event: Event) -> None:
        if event.table == NAMESPACES:
            self._on_namespace(event)
            return
        if event.table not in self._kinds:
            return
        key = (event.table, event.namespace, event.obj["metadata"]["name"])
        if event.type is EventType.DELETED:
            task = self._tasks.pop(key, None)
            if task is not None:
                task.cancel()
            self._rollouts.pop(key, None)
            self._revisions.pop(key, None)
            self._wake.pop(key, None)
            return
        if event.table == ("", "pods") and any(
            ref.get("kind") == "ReplicaSet"
            for ref in event.obj["metadata"].get("ownerReferences") or ()
        ):
            return  # a Deployment's pod: replicas.py keeps its status
        rollout = self._rollouts.get(key)
        if rollout is not None and rollout.generation == _generation(event.obj):
            return  # a status or metadata write: nothing for a controller to do
        self._ensure(key)

    def _on_namespace(self, event: Event) -> None:
        """A Terminating namespace is emptied and removed a moment later."""
        name = event.obj["metadata"]["name"]
        if (
            event.type is EventType.MODIFIED
            and event.obj["metadata"].get("deletionTimestamp")
            and name not in self._terminating
        ):
            self._terminating.add(name)
            asyncio.get_running_loop().call_later(
                self.cluster.timing.observe, self._finish_namespace, name
            )

    def _finish_namespace(self, name: str) -> None:
        self._terminating.discard(name)
        self.cluster.ops.finish_namespace(name)

    def _ensure(self, key: Key) -> None:
        task = self._tasks.get(key)
        if task is not None and not task.done():
            self._wake[key].set()
            return
        self._wake[key] = asyncio.Event()
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._run(key), name=f"kubesim-controller-{self.cluster.name}-{key[1]}/{key[2]}"
        )
        self._tasks[key].add_done_callback(self._log_failure)

    @staticmethod
    def _log_failure(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "kubesim controller task %s failed", task.get_name(), exc_info=task.exception()
            )

    def _current(self, key: Key) -> dict[str, Any] | None:
        stored = self.cluster.store.tables.get(key[0], {}).get((key[1], key[2]))
        return stored.obj if stored else None

    async def _run(self, key: Key) -> None:
        wake = self._wake[key]
        while True:
            wake.clear()
            await asyncio.sleep(self.cluster.timing.observe)
            obj = self._current(key)
            if obj is None:
                return
            rollout = self._begin(key, obj)
            if await self._drive(key, rollout, wake):
                continue  # the spec changed under the rollout: start over
            await wake.wait()

    def _begin(self, key: Key, obj: dict[str, Any]) -> _Rollout:
        previous = self._rollouts.get(key)
        status = obj.get("status") or {}
        template = template_hash(obj)
        ready = int(status.get("readyReplicas") or status.get("numberReady") or 0)
        rollout = _Rollout(
            generation=_generation(obj),
            started=time.monotonic(),
            old_ready=ready,
            template=template,
            template_changed=previous is None or previous.template != template,
        )
        rollout.progressed = rollout.started
        if previous is None and status.get("observedGeneration"):
            rollout.template_changed = False  # picked up after a restart: pods are current
        self._rollouts[key] = rollout
        if key[0] == DEPLOYMENTS:
            rollout.revision = self._revise(key, obj, template)
        return rollout

    def _revise(self, key: Key, obj: dict[str, Any], template: str) -> int:
        """The Deployment's revision: a template new or returned to gets the next number.

        Written to the `deployment.kubernetes.io/revision` annotation, as the real
        controller does (`kubectl rollout undo` patches that annotation, so it must exist).
        """
        history = self._revisions.setdefault(key, {})
        annotations = obj["metadata"].get("annotations") or {}
        if not history and annotations.get(REVISION, "").isdigit():
            history[template] = int(annotations[REVISION])  # picked up after a restart
        latest = max(history.values(), default=0)
        if history.get(template) != latest or not history:
            history[template] = latest + 1
        revision = history[template]
        if annotations.get(REVISION) != str(revision):
            rt = self.cluster.registry.by_table(key[0])
            if rt is not None:
                with contextlib.suppress(ApiError):
                    self.cluster.ops.patch(
                        rt,
                        key[1],
                        key[2],
                        PatchType.MERGE,
                        {"metadata": {"annotations": {REVISION: str(revision)}}},
                        WriteOptions(field_manager=MANAGER, trusted=True),
                    )
        return revision

    async def _drive(self, key: Key, rollout: _Rollout, wake: asyncio.Event) -> bool:
        """Step the rollout until it settles (False) or the spec changes (True)."""
        timing = self.cluster.timing
        decide = self._kinds[key[0]]
        steps = 0
        while True:
            obj = self._current(key)
            if obj is None:
                return False
            if _generation(obj) != rollout.generation:
                return True
            deadline = timing.progress_deadline
            if deadline is None:
                deadline = float((obj.get("spec") or {}).get("progressDeadlineSeconds", 600))
            progress = Progress(
                generation=rollout.generation,
                steps=steps,
                elapsed=time.monotonic() - rollout.started,
                stalled=time.monotonic() - rollout.progressed,
                old_ready=rollout.old_ready,
                template_changed=rollout.template_changed,
                failing=any(self.cluster.image_fails(i) for i in pod_images(obj)),
                deadline=deadline,
                nodes=timing.nodes,
                now=now_iso(),
            )
            status, settled = decide(obj, progress)
            if _counts(status) != _counts(obj.get("status")):
                rollout.progressed = time.monotonic()
            if status != obj.get("status"):
                self._write_status(key, obj, status)
                found = transitions(key[0], obj, obj.get("status"), status)
                record(
                    self.cluster,
                    obj,
                    found,
                    "kubelet"
                    if key[0] == ("", "pods")
                    else "deployment-controller"
                    if key[0] == DEPLOYMENTS
                    else "job-controller",
                )
                if self.cluster.simulate_pods and key[0] == DEPLOYMENTS:
                    sync_replicas(
                        self.cluster,
                        obj,
                        status,
                        failing=progress.failing,
                        revision=rollout.revision,
                    )
            if settled:
                return False
            # Jitter spreads the steps of objects created together, as real pods spread.
            # asyncio.timeout, not wait_for: no extra task per step for thousands of objects.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timing.step * random.uniform(0.8, 1.2)):
                    await wake.wait()
                return True
            steps += 1

    def _write_status(self, key: Key, obj: dict[str, Any], status: dict[str, Any]) -> None:
        rt = self.cluster.registry.by_table(key[0])
        if rt is None:
            return
        body = dict(obj, status=status)
        body["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
        try:
            self.cluster.ops.replace(
                rt,
                key[1],
                key[2],
                body,
                WriteOptions(field_manager=MANAGER, subresource="status", trusted=True),
            )
        except ApiError as exc:  # deleted meanwhile: the DELETED event ends the task
            log.debug("status write for %s failed: %s", key, exc.message)
