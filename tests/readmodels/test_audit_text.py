"""The audit's one-line summaries, for the events a demo run does not write."""

from __future__ import annotations

from typing import Any

import pytest

from projections.audit_text import summary

SHA = "0123456789abcdef0123456789abcdef01234567"

CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "App.ConfigChanged",
        {"diff": [{"path": "environments.prod.policy"}, {"path": "repo"}]},
        "changed config: environments.prod.policy, repo",
    ),
    (
        "App.ReleaseRejected",
        {"sha": SHA, "file": "deploy/web.yaml", "line": 7, "reason": "not a mapping"},
        "rejected 0123456789ab: deploy/web.yaml:7: not a mapping",
    ),
    (
        "App.HistoryRewritten",
        {"old_head": SHA, "new_head": "f" * 40},
        "branch rewritten: 0123456789ab → ffffffffffff",
    ),
    (
        "Target.PolicyOverridden",
        {"by": "ops", "rules": ["freeze", "order"], "promotion_id": "p1", "reason": "hotfix"},
        "ops overrode freeze, order for p1: hotfix",
    ),
    (
        "Target.PromotionRejected",
        {"by": "carol", "promotion_id": "p1", "reason": "not now"},
        "carol rejected p1: not now",
    ),
    ("Target.PromotionCancelled", {"by": "bob", "promotion_id": "p1"}, "bob cancelled p1: "),
    ("Target.PromotionSuperseded", {"promotion_id": "p1"}, "p1 superseded by ?"),
    (
        "Target.SyncFailed",
        {"sync_id": "s1", "object": "Deployment/web", "reason": "Invalid", "attempts": 3},
        "sync s1 failed at Deployment/web: Invalid:  (after 3 attempts)",
    ),
    (
        "Target.SyncAbandoned",
        {"sync_id": "s1", "release": SHA, "reason": "restarted"},
        "abandoned sync s1 of 0123456789ab: restarted",
    ),
    (
        "Target.SyncSucceeded",
        {
            "release": SHA,
            "sync_id": "s2",
            "objects": [
                {"action": "created", "attempts": 2},
                {"action": "unchanged"},
                {"action": "created"},
            ],
        },
        "applied 0123456789ab (sync s2, 3 objects: 2 created, 1 unchanged, 1 retries)",
    ),
    # what a sentence needs is missing, or the type is new: the document, never nothing
    (
        "Target.PromotionApproved",
        {"promotion_id": "p1"},
        'PromotionApproved {"promotion_id": "p1"}',
    ),
    ("Target.Paused", {"by": "ops"}, 'Paused {"by": "ops"}'),
]


@pytest.mark.parametrize(("event_type", "data", "expected"), CASES)
def test_each_event_reads_as_one_line(event_type: str, data: dict[str, Any], expected: str) -> None:
    assert summary(event_type, data) == expected
