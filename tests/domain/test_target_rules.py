"""The promotion rules of a target, each proved on the aggregate alone (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.domain import errors
from engine.domain.enums import Health, PromotionKind, PromotionPhase
from engine.domain.policy import FreezeWindow, Policy
from engine.domain.promotion import Override, ReleaseRef
from engine.domain.target import Target

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # a Thursday
R1 = ReleaseRef(sha="a" * 40, number=1)
R2 = ReleaseRef(sha="b" * 40, number=2)
R3 = ReleaseRef(sha="c" * 40, number=3)
OPEN = Policy()


def promote(target: Target, release: ReleaseRef, pid: str, **kw: object) -> None:
    args: dict[str, object] = dict(
        promotion_id=pid,
        release=release,
        requested_by="alice",
        reason="ship",
        policy=OPEN,
        now=NOW,
    )
    args.update(kw)
    target.request_promotion(**args)  # type: ignore[arg-type]


def deploy_and_verify(target: Target, release: ReleaseRef, pid: str, **kw: object) -> None:
    promote(target, release, pid, **kw)
    target.record_sync(sync_id=f"sync-{pid}", release=release.sha, now=NOW)
    target.record_health(health=Health.HEALTHY, reasons=[], now=NOW)
    assert target.verify(soak_seconds=0, now=NOW)


def event_names(target: Target) -> list[str]:
    return [type(e).__name__ for e in target.collect_events()]


def test_a_target_runs_at_most_one_promotion_at_a_time() -> None:
    target = Target(app="web", environment="dev")
    promote(target, R1, "p1")
    with pytest.raises(errors.PromotionInFlight) as caught:
        promote(target, R2, "p2")
    assert caught.value.promotion_id == "p1"
    assert "web/dev already has promotion p1 in flight (started)" in str(caught.value)


def test_a_release_enters_staging_only_once_verified_in_dev() -> None:
    staging = Target(app="web", environment="staging")
    with pytest.raises(errors.NotVerifiedUpstream, match="not been verified in dev"):
        promote(staging, R1, "p1", upstream="dev", upstream_verified=[])
    assert staging.desired_release is None
    promote(staging, R1, "p1", upstream="dev", upstream_verified=[R1.sha])
    assert staging.desired_release == R1.sha


def test_an_admin_override_of_pipeline_order_needs_a_reason_and_is_an_event() -> None:
    prod = Target(app="web", environment="prod")
    prod.collect_events()
    with pytest.raises(errors.OverrideNeedsReason, match="pipeline-order"):
        promote(prod, R1, "p1", upstream="staging", override=Override(by="root", reason=" "))
    promote(prod, R1, "p1", upstream="staging", override=Override(by="root", reason="hotfix"))
    names = event_names(prod)
    assert names == ["PromotionRequested", "PolicyOverridden", "PromotionStarted"]
    assert prod.promotion is not None and prod.promotion.overrides == ("pipeline-order",)


def test_prod_needs_k_approvals_from_people_other_than_the_requester() -> None:
    prod = Target(app="web", environment="prod")
    promote(prod, R1, "p1", policy=Policy(approvals=2))
    assert prod.promotion is not None
    assert prod.promotion.phase == PromotionPhase.AWAITING_APPROVAL
    assert prod.desired_release is None
    with pytest.raises(errors.SelfApproval, match="alice requested promotion p1"):
        prod.approve(promotion_id="p1", user="alice", now=NOW)
    prod.approve(promotion_id="p1", user="bob", now=NOW)
    with pytest.raises(errors.AlreadyApproved, match="bob has already approved"):
        prod.approve(promotion_id="p1", user="bob", now=NOW)
    assert prod.promotion.phase == PromotionPhase.AWAITING_APPROVAL
    prod.approve(promotion_id="p1", user="carol", now=NOW, comment="lgtm")
    assert prod.promotion.phase == PromotionPhase.STARTED
    assert prod.desired_release == R1.sha
    assert [a.by for a in prod.promotion.approvals] == ["bob", "carol"]


def test_no_promotion_inside_a_freeze_window_unless_an_admin_overrides() -> None:
    thursday_freeze = FreezeWindow(
        name="thanksgiving", schedule="0 0 26 11 *", duration=timedelta(days=2)
    )
    policy = Policy(freeze=(thursday_freeze,))
    prod = Target(app="web", environment="prod")
    with pytest.raises(errors.EnvironmentFrozen, match="'thanksgiving' until 2026-11-28"):
        promote(prod, R1, "p1", policy=policy)
    promote(prod, R1, "p1", policy=policy, override=Override(by="root", reason="security fix"))
    assert prod.promotion is not None
    assert prod.promotion.overrides == ("freeze-window:thanksgiving",)
    later = Target(app="web", environment="prod")
    promote(later, R1, "p2", policy=policy, now=NOW + timedelta(days=3))
    assert later.desired_release == R1.sha


def test_rollback_returns_to_the_last_verified_release_and_auto_promotion_respects_it() -> None:
    dev = Target(app="web", environment="dev")
    auto = Policy(auto_promote=True)
    deploy_and_verify(dev, R1, "p1", policy=auto, auto=True)
    promote(dev, R2, "p2", policy=auto, auto=True)
    dev.record_sync(sync_id="s2", release=R2.sha, now=NOW)
    dev.record_health(health=Health.DEGRADED, reasons=["web: 0 of 1 available"], now=NOW)
    dev.fail(promotion_id="p2", reason="Degraded after sync", now=NOW)

    dev.request_rollback(promotion_id="rb", requested_by="baton", reason="auto", now=NOW)
    assert dev.desired_release == R1.sha
    assert dev.promotion is not None and dev.promotion.kind == PromotionKind.ROLLBACK
    dev.record_sync(sync_id="s3", release=R1.sha, now=NOW)
    dev.record_health(health=Health.HEALTHY, reasons=[], now=NOW)
    assert dev.verify(soak_seconds=0, now=NOW)

    # auto-promotion does not bring the rolled-back release back...
    with pytest.raises(errors.AutoPromotionRefused, match="was rolled back"):
        promote(dev, R2, "p4", policy=auto, auto=True)
    # ...but a newer release goes through
    promote(dev, R3, "p5", policy=auto, auto=True)
    assert dev.desired_release == R3.sha


def test_rollback_needs_a_release_that_was_verified_there() -> None:
    dev = Target(app="web", environment="dev")
    promote(dev, R1, "p1")
    with pytest.raises(errors.NoRollbackTarget, match="no verified release"):
        dev.request_rollback(promotion_id="rb", requested_by="x", reason="", now=NOW)
    with pytest.raises(errors.NoRollbackTarget, match="never verified in web/dev"):
        dev.request_rollback(promotion_id="rb", requested_by="x", reason="", now=NOW, to=R2)


def test_a_manual_rollback_supersedes_the_promotion_in_flight() -> None:
    dev = Target(app="web", environment="dev")
    deploy_and_verify(dev, R1, "p1")
    promote(dev, R2, "p2")
    dev.collect_events()
    dev.request_rollback(promotion_id="rb", requested_by="ops", reason="bad", now=NOW)
    assert event_names(dev) == [
        "PromotionSuperseded",
        "PromotionRequested",
        "ReleaseRolledBack",
        "PromotionStarted",
    ]
    assert dev.desired_release == R1.sha


def test_a_promotion_completes_only_after_healthy_for_the_soak_time() -> None:
    dev = Target(app="web", environment="dev")
    promote(dev, R1, "p1")
    dev.record_health(health=Health.HEALTHY, reasons=[], now=NOW)
    assert not dev.verify(soak_seconds=0, now=NOW), "not synced yet"
    dev.record_sync(sync_id="s", release=R1.sha, now=NOW)
    assert not dev.verify(soak_seconds=0, now=NOW), "health before the sync does not count"
    dev.record_health(health=Health.HEALTHY, reasons=[], now=NOW)
    assert not dev.verify(soak_seconds=600, now=NOW + timedelta(minutes=5))
    assert dev.verify(soak_seconds=600, now=NOW + timedelta(minutes=10))
    assert dev.has_verified(R1.sha)
    assert dev.promotion is not None and dev.promotion.phase == PromotionPhase.COMPLETED


def test_only_promotions_awaiting_approval_can_be_rejected_or_cancelled() -> None:
    prod = Target(app="web", environment="prod")
    promote(prod, R1, "p1", policy=Policy(approvals=1))
    prod.reject(promotion_id="p1", user="bob", reason="not today", now=NOW)
    with pytest.raises(errors.InvalidPromotionState, match="p1 is rejected; cannot cancel"):
        prod.cancel(promotion_id="p1", user="alice", reason="", now=NOW)
    with pytest.raises(errors.UnknownPromotion):
        prod.approve(promotion_id="nope", user="bob", now=NOW)
    promote(prod, R1, "p2", policy=Policy(approvals=1))
    prod.cancel(promotion_id="p2", user="alice", reason="wrong release", now=NOW)
    assert prod.in_flight is None
    assert prod.desired_release is None


def test_promoting_the_release_already_desired_is_refused() -> None:
    dev = Target(app="web", environment="dev")
    deploy_and_verify(dev, R1, "p1")
    with pytest.raises(errors.AlreadyDesired):
        promote(dev, R1, "p2")


def test_a_sync_opens_once_and_its_outcome_closes_it() -> None:
    target = Target(app="web", environment="dev")
    promote(target, R1, "p1")
    target.start_sync(sync_id="s1", release=R1.sha, object_count=3, reason="promotion", now=NOW)
    with pytest.raises(errors.SyncInProgress, match="sync s1 open"):
        target.start_sync(sync_id="s2", release=R1.sha, object_count=3, reason="x", now=NOW)
    with pytest.raises(errors.SyncNotOpen, match="sync s2 is not open"):
        target.record_sync(sync_id="s2", release=R1.sha, now=NOW)
    target.record_sync(
        sync_id="s1",
        release=R1.sha,
        now=NOW,
        objects=[{"object": "Deployment dev/web", "action": "created"}],
    )
    assert target.open_sync is None
    assert target.sync_status == "Synced"
    assert target.inventory == [{"object": "Deployment dev/web", "action": "created"}]


def test_a_sync_without_an_outcome_is_abandoned_before_the_next_begins() -> None:
    target = Target(app="web", environment="dev")
    promote(target, R1, "p1")
    target.start_sync(sync_id="s1", release=R1.sha, object_count=3, reason="promotion", now=NOW)
    assert target.abandon_sync(reason="applier restarted", now=NOW) == "s1"
    assert target.abandon_sync(reason="again", now=NOW) is None
    target.start_sync(sync_id="s2", release=R1.sha, object_count=3, reason="resume", now=NOW)
    target.fail_sync(
        sync_id="s2",
        object="Deployment dev/web",
        reason="Invalid",
        message="bad",
        attempts=1,
        now=NOW,
    )
    assert target.sync_status == "Failed"
    assert event_names(target)[-4:] == ["SyncStarted", "SyncAbandoned", "SyncStarted", "SyncFailed"]


def test_a_drift_is_recorded_once_and_corrected_once() -> None:
    target = Target(app="web", environment="dev")
    deploy_and_verify(target, R1, "p1")
    drift = [{"object": "Deployment dev/web", "fields": ["spec.replicas: 2 → 5"]}]
    assert target.detect_drift(release=R1.sha, objects=drift, now=NOW)
    assert not target.detect_drift(release=R1.sha, objects=drift, now=NOW)
    assert target.sync_status == "OutOfSync"
    target.correct_drift(sync_id="s9", now=NOW)
    assert target.sync_status == "Synced"
    with pytest.raises(errors.NoDrift):
        target.correct_drift(sync_id="s9", now=NOW)


def test_reapplying_the_running_release_keeps_the_soak_going() -> None:
    target = Target(app="web", environment="dev")
    promote(target, R1, "p1")
    target.record_sync(sync_id="s1", release=R1.sha, now=NOW)
    target.record_health(health=Health.HEALTHY, reasons=[], now=NOW)
    target.record_sync(sync_id="s2", release=R1.sha, now=NOW + timedelta(seconds=5))
    assert target.healthy_since == NOW
    assert target.verify(soak_seconds=10, now=NOW + timedelta(seconds=10))
