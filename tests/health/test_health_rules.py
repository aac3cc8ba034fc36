"""Health rules, table-driven: one YAML fixture per state → expected status and message.

The table is `cases.yaml`; the fixtures are `testdata/<name>.yaml`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.domain.enums import Health
from engine.health import RULES, Assessment, assess, combine, rule_for, rule_name

DATA = Path(__file__).parent / "testdata"
CASES: dict[str, list[str]] = yaml.safe_load((Path(__file__).parent / "cases.yaml").read_text())


def fixture(name: str) -> Any:
    """The object of one fixture, as the cluster would return it."""
    return yaml.safe_load((DATA / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_state_of_each_kind_is_read_as_argo_cd_and_kstatus_read_it(name: str) -> None:
    status, message = CASES[name]
    result = assess(fixture(name))
    assert (result.status, message in result.message) == (Health(status), True), result


def test_every_fixture_has_an_expectation_and_every_expectation_a_fixture() -> None:
    assert sorted(p.stem for p in DATA.glob("*.yaml")) == sorted(CASES)


# rules that read no failure at all (gitops-engine and kstatus have none for these kinds
# either): a stuck StatefulSet or LoadBalancer is Progressing, never Degraded
NO_DEGRADED_STATE = {
    "built-in apiservice",
    "built-in daemonset",
    "built-in namespace",
    "built-in service",
    "built-in statefulset",
}


def test_every_kind_with_a_rule_has_fixtures_healthy_progressing_and_degraded() -> None:
    kinds: set[tuple[str, str]] = set()
    seen: dict[str, set[Health]] = {}
    for name in CASES:
        obj = fixture(name)
        if isinstance(obj, dict) and isinstance(obj.get("kind"), str):
            api_version = str(obj.get("apiVersion", ""))
            kinds.add((api_version.split("/")[0] if "/" in api_version else "", obj["kind"]))
        result = assess(obj)
        seen.setdefault(result.rule, set()).add(result.status)
    assert sorted(set(RULES) - kinds) == []
    for rule in sorted({rule_name(r) for r in RULES.values()} | {"generic"}):
        wanted = {Health.HEALTHY, Health.PROGRESSING}
        if rule not in NO_DEGRADED_STATE:
            wanted.add(Health.DEGRADED)
        assert wanted <= seen.get(rule, set()), rule


@pytest.mark.parametrize("key", sorted(RULES), ids=lambda k: "/".join(k))
def test_no_rule_raises_on_odd_shapes_each_gives_unknown_with_a_message(
    key: tuple[str, str],
) -> None:
    group, kind = key
    base = {"apiVersion": f"{group}/v1" if group else "v1", "kind": kind, "metadata": {}}
    for odd in ({"status": "Running"}, {"spec": ["x"]}, {"metadata": "web"}):
        result = assess({**base, **odd})
        assert result.status == Health.UNKNOWN and result.message.startswith("cannot assess")
    for conditions in ("Ready", {"Ready": "True"}, 3):
        result = assess({**base, "status": {"conditions": conditions}})
        assert isinstance(result, Assessment)  # rules that read no conditions may not notice
        assert result.status != Health.UNKNOWN or "not a list" in result.message


def test_any_object_being_deleted_is_progressing_whatever_its_kind_or_state() -> None:
    for name in ("deployment-healthy", "job-failed", "rollout-paused", "generic-stalled"):
        obj = fixture(name)
        obj["metadata"]["deletionTimestamp"] = "2026-12-07T05:00:00Z"
        assert assess(obj) == Assessment(Health.PROGRESSING, "pending deletion", "deletion")


def test_kinds_without_their_own_rule_get_the_generic_one_and_rule_for_says_so() -> None:
    assert rule_for("v1", "ConfigMap") is None
    assert rule_for("example.com/v1", "Widget") is None
    assert rule_for("argoproj.io/v1alpha1", "Rollout") is not None
    assert rule_for("networking.k8s.io/v1", "Ingress") is not None
    assert assess(fixture("generic-stalled")).status == Health.DEGRADED


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
