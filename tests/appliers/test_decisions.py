"""The appliers' pure decisions: drift fields, sync plans, verdicts, retries, promotions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.appliers.objects import ObjectRef, drift_of, owned_body
from engine.appliers.plan import (
    Live,
    Step,
    TargetView,
    decide_promotion,
    decide_step,
    plan_drift,
    plan_sync,
)
from engine.domain.enums import Health, PromotionPhase
from engine.domain.pipeline import AppSpec
from engine.kube.retry import RetryPolicy
from engine.promoter import Ask, decide
from engine.store import EventMetadata, RecordedEvent

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def cm(name: str, value: str = "1", **labels: str) -> dict[str, Any]:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "shop-dev"},
        "data": {"v": value},
    }
    return (
        owned_body(body, app="shop", environment="dev", release="r1")
        if not labels
        else {**body, "metadata": {**body["metadata"], "labels": labels}}
    )


def live_of(*objects: dict[str, Any], absent: tuple[str, ...] = ()) -> Live:
    known: dict[Any, Any] = {
        ("", "ConfigMap", "shop-dev", o["metadata"]["name"]): o for o in objects
    }
    known.update({("", "ConfigMap", "shop-dev", n): None for n in absent})
    return Live(known)


def test_drift_names_each_field_baton_set_that_the_cluster_changed() -> None:
    applied = {
        "spec": {
            "replicas": 2,
            "template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}},
        }
    }
    live = {
        "spec": {
            "replicas": 5,
            "strategy": {"type": "RollingUpdate"},
            "template": {
                "spec": {
                    "containers": [{"name": "web", "image": "web:2", "imagePullPolicy": "Always"}]
                }
            },
        }
    }
    assert drift_of(applied, live) == [
        "spec.replicas: 2 → 5",
        "spec.template.spec.containers[0].image: web:1 → web:2",
    ]
    assert drift_of(applied, None) == ["deleted"]
    assert drift_of({"spec": {"port": "80"}}, {"spec": {"port": 80}}) == []


def test_a_sync_writes_only_what_differs_and_prunes_only_what_baton_owns_for_the_target() -> None:
    desired = [cm("a"), cm("b", "2"), cm("c")]
    ours_gone = cm("old")
    not_ours = cm("hand-made", team="x")
    other_target = owned_body(cm("other", team="x"), app="shop", environment="prod", release="r1")
    live = live_of(cm("a"), cm("b", "1"), ours_gone, not_ours, other_target, absent=("c",))
    inventory = [
        ObjectRef(api_version="v1", kind="ConfigMap", namespace="shop-dev", name=n)
        for n in ("a", "old", "hand-made", "other", "vanished")
    ]
    plan = plan_sync(desired, live=live, inventory=inventory, app="shop", environment="dev")
    assert [b["metadata"]["name"] for b in plan.unchanged] == ["a"]
    assert [b["metadata"]["name"] for b in plan.rest] == ["b", "c"]
    assert plan.created == {("", "ConfigMap", "shop-dev", "c")}
    # `vanished` is unknown to the cache: it is tried (a delete of nothing is no error)
    assert sorted(r.name for r in plan.prune) == ["old", "vanished"]


def test_drift_is_only_reported_for_objects_whose_live_state_is_known() -> None:
    desired = [cm("a"), cm("b", "2")]
    assert plan_drift(desired, Live({})) == []
    drift = plan_drift(desired, live_of(cm("a"), cm("b", "3")))
    assert drift == [{"object": "ConfigMap shop-dev/b", "fields": ["data.v: 2 → 3"]}]


def view(**kw: Any) -> TargetView:
    base: dict[str, Any] = dict(
        desired_release="r2",
        applied_release="r2",
        sync_failed=False,
        promotion_id="p",
        promotion_phase=PromotionPhase.SYNCED,
        health=Health.HEALTHY,
        healthy_since=NOW,
    )
    base.update(kw)
    return TargetView(**base)


@pytest.mark.parametrize(
    ("facts", "step"),
    [
        ({"desired_release": None}, Step.IDLE),
        ({"applied_release": "r1"}, Step.SYNC),
        ({"sync_failed": True}, Step.SYNC),
        ({}, Step.CHECK),
    ],
)
def test_a_pass_syncs_when_the_desired_release_is_not_applied(
    facts: dict[str, Any], step: Step
) -> None:
    assert decide_step(view(**facts)) == step


def test_a_promotion_is_verified_after_the_soak_and_failed_when_degraded() -> None:
    assert decide_promotion(view(), soak_seconds=0, now=NOW).verify
    waiting = decide_promotion(view(), soak_seconds=60, now=NOW + timedelta(seconds=20))
    assert (waiting.verify, waiting.soak_left) == (False, 40)
    assert decide_promotion(view(health=Health.DEGRADED), soak_seconds=0, now=NOW).fail
    assert not decide_promotion(view(health=Health.PROGRESSING), soak_seconds=0, now=NOW).verify
    started = view(promotion_phase=PromotionPhase.STARTED)
    assert not decide_promotion(started, soak_seconds=0, now=NOW).verify


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(base=0.1, cap=1.0)
    rng = random.Random(1)
    delays = [policy.delay(n, retry_after=None, rng=rng) for n in range(1, 9)]
    assert all(0 <= d <= min(1.0, 0.1 * 2 ** (n - 1)) for n, d in enumerate(delays, 1))
    assert policy.delay(1, retry_after=3, rng=rng) == 3
    assert RetryPolicy(retry_after_cap=2).delay(1, retry_after=30, rng=rng) == 2


def recorded(type_: str, stream: str, **data: Any) -> RecordedEvent:
    return RecordedEvent(
        position=7,
        stream_id=stream,
        stream_version=1,
        type=type_,
        schema_version=1,
        data=data,
        metadata=EventMetadata(actor="x"),
        recorded_at=NOW,
        hash=b"",
    )


PIPELINE = AppSpec.from_record(
    "shop",
    {
        "environments": [
            {"name": "dev", "policy": {"auto_promote": True, "auto_rollback": True}},
            {"name": "staging", "policy": {"auto_promote": True}},
            {"name": "prod"},
        ]
    },
)


def test_the_promoter_promotes_new_releases_and_verified_ones_where_policy_says_so() -> None:
    created = decide(recorded("App.ReleaseCreated", "app:shop", sha="s1", number=1), PIPELINE)
    assert [(r.ask, r.environment, r.release) for r in created] == [(Ask.PROMOTE, "dev", "s1")]
    verified_dev = decide(
        recorded("Target.PromotionVerified", "target:shop:dev", promotion_id="p", release="s1"),
        PIPELINE,
    )
    assert [(r.environment, r.release) for r in verified_dev] == [("staging", "s1")]
    verified_staging = decide(
        recorded("Target.PromotionVerified", "target:shop:staging", promotion_id="p", release="s1"),
        PIPELINE,
    )
    assert verified_staging == []  # prod does not auto-promote


def test_the_promoter_rolls_back_a_failed_promotion_only_where_policy_says_so() -> None:
    failed = decide(
        recorded(
            "Target.PromotionFailed",
            "target:shop:dev",
            promotion_id="p9",
            reason="Degraded after sync",
        ),
        PIPELINE,
    )
    assert [(r.ask, r.failed_promotion) for r in failed] == [(Ask.ROLLBACK, "p9")]
    assert failed[0].reason == "auto-rollback: Degraded after sync"
    assert (
        decide(
            recorded("Target.PromotionFailed", "target:shop:staging", promotion_id="p", reason="x"),
            PIPELINE,
        )
        == []
    )
