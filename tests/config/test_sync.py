"""Applying the environments config records it as events, and only what changed."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from engine.config.loader import ConfigError, load_environments
from engine.config.sync import ConfigOutcome, apply_config
from engine.domain.app import App
from engine.domain.ids import app_stream
from engine.repository import Repository
from engine.store import EventMetadata, EventStore

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN = EventMetadata(actor="admin")


def sample(tmp_path: Path, *, approvals: int = 1) -> Path:
    text = (REPO_ROOT / "environments" / "shop.yaml").read_text()
    (tmp_path / "shop.yaml").write_text(text.replace("approvals: 1", f"approvals: {approvals}"))
    return tmp_path


async def test_the_sample_registers_once_then_records_only_a_diff(
    tmp_path: Path, store: EventStore
) -> None:
    repository = Repository(store)
    env = {"BATON_DEMO_REPO": "/srv/git/shop.git"}
    config = load_environments(sample(tmp_path), environ=env)
    assert await apply_config(config, repository, metadata=ADMIN) == {
        "shop": ConfigOutcome.REGISTERED
    }
    assert await apply_config(config, repository, metadata=ADMIN) == {
        "shop": ConfigOutcome.UNCHANGED
    }
    changed = load_environments(sample(tmp_path, approvals=2), environ=env)
    assert await apply_config(changed, repository, metadata=ADMIN) == {
        "shop": ConfigOutcome.CHANGED
    }
    recorded = await store.read_stream(app_stream("shop"))
    assert [e.type for e in recorded] == ["App.Registered", "App.ConfigChanged"]
    assert recorded[1].data["diff"] == [
        {"path": "environments[prod].policy.approvals", "old": 1, "new": 2}
    ]
    assert recorded[1].metadata.actor == "admin"
    app = await repository.get(App, app_stream("shop"))
    prod = app.spec.environment("prod")
    assert (prod.upstream, prod.namespace, prod.policy.approvals) == ("staging", "shop", 2)
    assert [w.name for w in prod.policy.freeze] == ["weekend", "christmas"]
    assert prod.policy.freeze[0].timezone == "Europe/Berlin"


async def test_the_config_read_back_from_the_log_is_the_config_loaded(
    tmp_path: Path, store: EventStore
) -> None:
    repository = Repository(store)
    (tmp_path / "shop.yaml").write_text(
        (REPO_ROOT / "environments" / "shop.yaml").read_text().replace("soak: 10s", "soak: 1.5s")
    )
    config = load_environments(tmp_path, environ={"BATON_DEMO_REPO": "/srv/git/shop.git"})
    await apply_config(config, repository, metadata=ADMIN)
    app = await repository.get(App, app_stream("shop"))
    assert app.spec == replace(config.app("shop"), source_file="")
    assert app.spec.environment("staging").policy.soak == timedelta(seconds=1.5)


async def test_a_config_with_a_mistake_applies_nothing(tmp_path: Path, store: EventStore) -> None:
    sample(tmp_path)
    (tmp_path / "other.yaml").write_text("apps:\n  - name: Bad Name\n")
    with pytest.raises(ConfigError) as info:
        load_environments(tmp_path, environ={"BATON_DEMO_REPO": "/r"})
    assert "other.yaml:2: apps[0].name" in str(info.value)
    assert await store.read_stream(app_stream("shop")) == []


async def test_two_processes_applying_the_same_config_at_once_both_succeed(
    tmp_path: Path, store: EventStore
) -> None:
    config = load_environments(sample(tmp_path), environ={"BATON_DEMO_REPO": "/srv/git/shop.git"})
    first, second = Repository(store), Repository(store)
    outcomes = await asyncio.gather(
        apply_config(config, first, metadata=EventMetadata(actor="config")),
        apply_config(config, second, metadata=EventMetadata(actor="config")),
    )
    assert sorted(o["shop"] for o in outcomes) == ["registered", "unchanged"]
    assert [e.type for e in await store.read_stream("app:shop")] == ["App.Registered"]
