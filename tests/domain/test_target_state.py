"""The fold of a target's events (`evolve`): pure, and the aggregate's only state."""

from __future__ import annotations

from typing import Any

from test_target_rules import NOW, R1, R2, deploy_and_verify, promote

from engine.domain.enums import Health, PromotionPhase, SyncStatus
from engine.domain.promotion import Promotion
from engine.domain.target import Target
from engine.domain.target_state import TargetState, evolve
from engine.domain.vocabulary import EventType


def folded(events: list[Any]) -> TargetState | None:
    state = None
    for e in events:
        state = evolve(state, EventType(type(e).__qualname__), vars(e))
    return state


def test_the_aggregate_state_is_the_fold_of_its_events() -> None:
    target = Target(app="web", environment="dev")
    deploy_and_verify(target, R1, "p1")
    promote(target, R2, "p2")
    target.detect_drift(release=R1.sha, objects=[{"object": "Deployment web"}], now=NOW)
    target.request_rollback(promotion_id="p3", requested_by="ops", reason="bad", now=NOW)
    state = target.state
    assert folded(list(target.collect_events())) == state
    assert state.promotion is not None and state.promotion.id == "p3"
    assert state.promotion.previous_release == R2.sha
    assert state.rolled_back == {R2.sha}
    assert (state.desired_release, state.applied_release) == (R1.sha, R1.sha)
    assert state.sync_status == SyncStatus.OUT_OF_SYNC


def test_what_the_rows_show_restores_every_shown_field() -> None:
    target = Target(app="web", environment="prod")
    promote(target, R1, "p1")
    target.record_sync(sync_id="s1", release=R1.sha, now=NOW)
    target.record_health(health=Health.DEGRADED, reasons=["crash loop"], now=NOW)
    state = target.state
    assert state.promotion is not None and state.promotion.phase == PromotionPhase.SYNCED
    promotion = Promotion.from_shown(state.promotion.shown())
    restored = TargetState.from_shown("web", "prod", state.shown(), promotion)
    assert restored.shown() == state.shown()
    assert restored.promotion == state.promotion.with_(previous_release=None)


def test_an_event_about_a_promotion_the_target_no_longer_holds_changes_nothing() -> None:
    target = Target(app="web", environment="dev")
    promote(target, R1, "p1")
    state = target.state
    stale = {"promotion_id": "p0", "by": "bob", "reason": "late", "at": NOW}
    assert evolve(state, EventType.PROMOTION_REJECTED, stale) is state
