"""Health rules, table-driven: one YAML fixture per state → expected status and message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.domain.enums import Health
from engine.health import Assessment, assess, combine

DATA = Path(__file__).parent / "testdata"

CASES = [
    ("deployment-healthy", Health.HEALTHY, "3 of 3 replicas available"),
    ("deployment-progressing", Health.PROGRESSING, "2 of 3 updated replicas are available"),
    ("deployment-unavailable", Health.PROGRESSING, "1 of 3 updated replicas are available"),
    ("deployment-old-replicas", Health.PROGRESSING, "1 old replicas are pending termination"),
    ("deployment-not-observed", Health.PROGRESSING, "spec not observed"),
    ("deployment-paused", Health.SUSPENDED, "paused"),
    ("deployment-degraded", Health.DEGRADED, "exceeded its progress deadline"),
    ("deployment-broken-status", Health.UNKNOWN, "cannot assess"),
    ("statefulset-healthy", Health.HEALTHY, "2 of 2 pods ready"),
    ("statefulset-progressing", Health.PROGRESSING, "1 of 2 pods are ready"),
    ("daemonset-healthy", Health.HEALTHY, "3 of 3 pods available"),
    ("daemonset-progressing", Health.PROGRESSING, "1 of 3 updated pods are available"),
    ("job-complete", Health.HEALTHY, "1 succeeded"),
    ("job-failed", Health.DEGRADED, "backoff limit"),
    ("job-running", Health.PROGRESSING, "1 active"),
    ("pod-running", Health.HEALTHY, "1 of 1 containers ready"),
    ("pod-crashloop", Health.DEGRADED, "CrashLoopBackOff"),
    ("pvc-bound", Health.HEALTHY, "bound"),
    ("pvc-pending", Health.PROGRESSING, "Pending"),
    ("service-lb-pending", Health.PROGRESSING, "load balancer"),
    ("service-clusterip", Health.HEALTHY, "exists"),
    ("configmap-unknown-kind", Health.HEALTHY, "exists"),
]


@pytest.mark.parametrize(("fixture", "status", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_state_of_each_kind_is_read_as_kubectl_and_argo_cd_read_it(
    fixture: str, status: Health, message: str
) -> None:
    obj = yaml.safe_load((DATA / f"{fixture}.yaml").read_text())
    result = assess(obj)
    assert result.status == status
    assert message in result.message


def test_an_object_that_is_not_there_is_missing() -> None:
    assert assess(None).status == Health.MISSING


def test_a_target_is_as_healthy_as_its_worst_object_and_says_which_and_why() -> None:
    health, reasons = combine(
        [
            ("Deployment a", Assessment(Health.HEALTHY, "ok")),
            ("Deployment b", Assessment(Health.PROGRESSING, "1 of 2")),
            ("Job c", Assessment(Health.DEGRADED, "failed")),
        ]
    )
    assert health == Health.DEGRADED
    assert reasons == ["Job c: Degraded: failed", "Deployment b: Progressing: 1 of 2"]
    assert combine([("Deployment a", Assessment(Health.HEALTHY, "ok"))]) == (
        Health.HEALTHY,
        ["1 of 1 objects healthy"],
    )
