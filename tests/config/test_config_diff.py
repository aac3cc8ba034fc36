"""The config diff recorded when an app's config changes."""

from __future__ import annotations

from engine.domain.config_diff import diff_config


def test_the_diff_names_each_changed_key_with_old_and_new_values() -> None:
    old = {
        "branch": "main",
        "environments": {"prod": {"policy": {"approvals": 1}}},
        "order": ["dev", "prod"],
    }
    new = {
        "branch": "main",
        "environments": {"prod": {"policy": {"approvals": 2}}, "qa": {"namespace": "shop-qa"}},
        "order": ["dev", "qa", "prod"],
    }
    assert [c.to_json() for c in diff_config(old, new)] == [
        {"path": "environments.prod.policy.approvals", "old": 1, "new": 2},
        {"path": "environments.qa", "old": None, "new": {"namespace": "shop-qa"}},
        {"path": "order", "old": ["dev", "prod"], "new": ["dev", "qa", "prod"]},
    ]


def test_identical_configs_have_no_diff() -> None:
    assert diff_config({"a": {"b": 1}}, {"a": {"b": 1}}) == []


def test_environments_are_compared_by_name() -> None:
    old = {
        "environments": [
            {"name": "dev", "policy": {"approvals": 0}},
            {"name": "prod", "policy": {"approvals": 1}},
        ]
    }
    new = {
        "environments": [
            {"name": "dev", "policy": {"approvals": 0}},
            {"name": "qa", "policy": {}},
            {"name": "prod", "policy": {"approvals": 2}},
        ]
    }
    assert [c.to_json() for c in diff_config(old, new)] == [
        {"path": "environments[prod].policy.approvals", "old": 1, "new": 2},
        {"path": "environments[qa]", "old": None, "new": {"name": "qa", "policy": {}}},
    ]
    swapped = {"environments": list(reversed(old["environments"]))}
    assert [c.to_json() for c in diff_config(old, swapped)] == [
        {"path": "environments order", "old": ["dev", "prod"], "new": ["prod", "dev"]},
    ]
