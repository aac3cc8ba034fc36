"""The pure controller decisions, table-driven: object and progress in, status out."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.controllers.deployment import decide
from kubesim.controllers.model import Progress
from kubesim.controllers.workloads import decide_daemonset, decide_statefulset


def _deployment(replicas: int = 3, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "generation": 2},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "main", "image": "web:2"}]}},
            **spec,
        },
    }


def _progress(
    steps: int,
    *,
    old_ready: int = 0,
    changed: bool = True,
    failing: bool = False,
    elapsed: float = 0.0,
    deadline: float = 10.0,
) -> Progress:
    return Progress(
        generation=2,
        steps=steps,
        elapsed=elapsed,
        old_ready=old_ready,
        template_changed=changed,
        failing=failing,
        deadline=deadline,
        nodes=2,
        now="2026-01-01T00:00:00Z",
    )


def _reason(status: dict[str, Any], kind: str) -> str:
    return next(c["reason"] for c in status["conditions"] if c["type"] == kind)


@pytest.mark.parametrize(
    ("progress", "updated", "ready", "progressing", "settled"),
    [
        (_progress(0), 0, 0, "NewReplicaSetCreated", False),
        (_progress(2), 2, 1, "ReplicaSetUpdated", False),
        (_progress(4), 3, 3, "NewReplicaSetAvailable", True),
        # an update keeps the old pods serving until new ones are ready
        (_progress(1, old_ready=3), 1, 3, "ReplicaSetUpdated", False),
        # a pure scale from 2 to 3: the existing pods are already current
        (_progress(1, old_ready=2, changed=False), 3, 2, "ReplicaSetUpdated", False),
        (_progress(50, failing=True, elapsed=11.0), 1, 0, "ProgressDeadlineExceeded", True),
        (
            _progress(50, failing=True, old_ready=3, elapsed=11.0),
            1,
            3,
            "ProgressDeadlineExceeded",
            True,
        ),
    ],
)
def test_deployment_status_after_steps(
    progress: Progress, updated: int, ready: int, progressing: str, settled: bool
) -> None:
    status, done = decide(_deployment(), progress)
    assert status.get("updatedReplicas", 0) == updated
    assert status.get("readyReplicas", 0) == ready
    assert status["observedGeneration"] == 2
    assert _reason(status, "Progressing") == progressing
    assert done is settled


def test_deployment_availability_follows_max_unavailable() -> None:
    status, _ = decide(_deployment(replicas=4), _progress(3))  # 2 of 4 ready, 25% = 1 may lack
    assert _reason(status, "Available") == "MinimumReplicasUnavailable"
    status, _ = decide(_deployment(replicas=4), _progress(4))  # 3 of 4 ready
    assert _reason(status, "Available") == "MinimumReplicasAvailable"


def test_paused_deployment_does_not_progress() -> None:
    status, done = decide(_deployment(paused=True), _progress(10))
    assert status.get("updatedReplicas", 0) == 0 and done
    assert _reason(status, "Progressing") == "DeploymentPaused"


def test_statefulset_revisions_converge_when_all_pods_are_ready() -> None:
    sts = {
        "metadata": {"name": "db"},
        "spec": {"replicas": 2, "template": {}},
        "status": {"currentRevision": "db-old"},
    }
    mid, done = decide_statefulset(sts, _progress(1, old_ready=2))
    assert not done and mid["currentRevision"] == "db-old" != mid["updateRevision"]
    end, done = decide_statefulset(sts, _progress(3, old_ready=2))
    assert done and end["currentRevision"] == end["updateRevision"]
    assert end["readyReplicas"] == 2


def test_daemonset_with_failing_image_never_becomes_available() -> None:
    ds = {"metadata": {"name": "agent"}, "spec": {"template": {}}}
    status, done = decide_daemonset(ds, _progress(10, failing=True))
    assert not done and status["numberAvailable"] == 0 and status["numberUnavailable"] == 2
