"""A pipeline cell as a release manager reads it: pure, from an environment's read-model row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.cells import cell
from engine.domain.pipeline import EnvironmentSpec
from engine.domain.policy import FreezeWindow, Policy

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SHA = "a" * 40
NEXT = "b" * 40


def _env(**changes: object) -> dict[str, object]:
    env: dict[str, object] = {
        "environment": "staging",
        "upstream": "dev",
        "desired_release": SHA,
        "applied_release": SHA,
        "last_verified_release": SHA,
        "health": "Healthy",
        "sync_status": "Synced",
        "in_flight": None,
    }
    env.update(changes)
    return env


def _spec(**policy: object) -> EnvironmentSpec:
    return EnvironmentSpec(
        name="staging",
        upstream="dev",
        namespace="shop",
        policy=Policy(**policy),
    )


def test_a_verified_healthy_release_shows_its_number_and_subject() -> None:
    subjects = {("shop", SHA): {"number": 7, "subject": "fix the cart"}}
    found = cell(_env(), _spec(), subjects=subjects, promotion=None, app="shop", now=NOW)
    assert (found.short, found.release_number, found.subject) == (SHA[:12], 7, "fix the cart")
    assert found.verified and not found.drifted and found.tone == "good"


def test_out_of_sync_while_the_desired_release_runs_is_drift() -> None:
    found = cell(
        _env(sync_status="OutOfSync"), _spec(), subjects={}, promotion=None, app="shop", now=NOW
    )
    assert found.drifted and found.tone == "warn"
    moving = cell(
        _env(sync_status="OutOfSync", desired_release=NEXT),
        _spec(),
        subjects={},
        promotion=None,
        app="shop",
        now=NOW,
    )
    assert not moving.drifted  # a new release on its way is not drift


def test_a_promotion_awaiting_approval_counts_the_approvals() -> None:
    in_flight = {"id": "p1", "release": NEXT, "phase": "awaiting_approval"}
    promotion = {"approvals": [{"by": "bob"}], "approvals_required": 2}
    found = cell(
        _env(in_flight=in_flight), _spec(), subjects={}, promotion=promotion, app="shop", now=NOW
    )
    assert found.awaiting_approval and found.approvals == "1/2" and found.tone == "warn"
    assert found.in_flight_short == NEXT[:12]


def test_a_soaking_release_shows_the_time_left() -> None:
    in_flight = {"id": "p1", "release": NEXT, "phase": "synced"}
    promotion = {"synced_at": NOW - timedelta(minutes=4)}
    found = cell(
        _env(in_flight=in_flight),
        _spec(soak=timedelta(minutes=10)),
        subjects={},
        promotion=promotion,
        app="shop",
        now=NOW,
    )
    assert found.soak_left == timedelta(minutes=6) and found.tone == "busy"
    late = cell(
        _env(in_flight=in_flight),
        _spec(soak=timedelta(minutes=3)),
        subjects={},
        promotion=promotion,
        app="shop",
        now=NOW,
    )
    assert late.soak_left == timedelta(0)


def test_a_freeze_window_in_force_names_itself_and_its_end() -> None:
    window = FreezeWindow(name="lunch", schedule="0 11 * * *", duration=timedelta(hours=2))
    found = cell(_env(), _spec(freeze=(window,)), subjects={}, promotion=None, app="shop", now=NOW)
    assert found.frozen_by == "lunch"
    assert found.frozen_until == datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
    after = cell(
        _env(),
        _spec(freeze=(window,)),
        subjects={},
        promotion=None,
        app="shop",
        now=NOW + timedelta(hours=2),
    )
    assert after.frozen_by is None


def test_a_degraded_release_is_bad_whatever_else() -> None:
    found = cell(_env(health="Degraded"), _spec(), subjects={}, promotion=None, app="shop", now=NOW)
    assert found.tone == "bad"
