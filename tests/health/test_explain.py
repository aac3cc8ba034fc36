"""Explain over odd manifests: lists unfolded, empty documents skipped, nothing raises."""

from __future__ import annotations

from engine.domain.enums import Health
from engine.health.explain import explain


def test_a_list_is_explained_item_by_item_and_empty_documents_are_skipped() -> None:
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    settings = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}
    rows = explain([{"apiVersion": "v1", "kind": "List", "items": [web]}, None, settings])
    assert [(r.kind, r.name, r.rule) for r in rows] == [
        ("Deployment", "web", "built-in deployment"),
        ("ConfigMap", "settings", "generic"),
    ]


def test_documents_that_are_not_objects_or_have_no_kind_are_unknown_saying_why() -> None:
    rows = explain(["just text", [1, 2], {"apiVersion": "v1", "metadata": "web"}])
    assert [(r.status, r.message) for r in rows] == [
        (Health.UNKNOWN, "not an object but a str"),
        (Health.UNKNOWN, "not an object but a list"),
        (Health.UNKNOWN, "cannot assess: the object has no kind"),
    ]
    assert [r.as_json()["status"] for r in rows] == ["Unknown"] * 3
