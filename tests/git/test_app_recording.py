"""The watcher recording through the App aggregate into the real event store."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from gitrepos import Upstream, deployment, spec
from opentelemetry.sdk.trace import TracerProvider

from engine.config.loader import EnvironmentsConfig
from engine.domain.app import App
from engine.domain.ids import app_stream
from engine.git.watcher import GitWatcher
from engine.releases import ReleaseRecorder, build_watcher
from engine.repository import Repository
from engine.settings import Settings
from engine.store import EventStore, RecordedEvent


def watcher(home: Path, store: EventStore, upstream: Upstream) -> GitWatcher:
    return GitWatcher(
        apps=[spec("shop", upstream.url)], home=home, recorder=ReleaseRecorder(Repository(store))
    )


def without_time(event: RecordedEvent) -> dict[str, object]:
    return {k: v for k, v in event.data.items() if k != "timestamp"}


async def events(store: EventStore) -> list[RecordedEvent]:
    return await store.read_stream(app_stream("shop"))


async def test_a_new_commit_is_recorded_as_observed_and_released(
    upstream: Upstream, tmp_path: Path, store: EventStore
) -> None:
    w = watcher(tmp_path / "home", store, upstream)
    await w.poll("shop")
    sha = upstream.commit({"deploy/web.yaml": deployment("web", "nginx:1.28")}, "bump web")
    await w.poll("shop")
    w.close()
    recorded = await events(store)
    assert [e.type for e in recorded] == [
        "App.Registered",
        "App.CommitObserved",
        "App.ReleaseCreated",
        "App.CommitObserved",
        "App.ReleaseCreated",
    ]
    observed, created = recorded[3].data, recorded[4].data
    assert observed["sha"] == sha and observed["branch_head"] == sha
    assert observed["author"] == "Ada Author" and observed["committer"] == "Ada Author"
    assert observed["changed_files"] == ["deploy/web.yaml"]
    assert created["sha"] == sha and created["number"] == 2 and created["message"] == "bump web"
    assert created["digest"].startswith("sha256:")
    assert set(created["rendered"]) == {"dev", "prod"}
    assert recorded[4].metadata.actor == "git-watcher"
    assert recorded[0].data["config"]["environments"][1]["name"] == "prod"


async def test_restarts_and_a_second_replica_record_nothing_twice(
    upstream: Upstream, tmp_path: Path, store: EventStore
) -> None:
    first = watcher(tmp_path / "home", store, upstream)
    await first.poll("shop")
    upstream.commit({"deploy/web.yaml": deployment("web", "nginx:1.28")})
    # two replicas (separate homes) poll the same new commit at the same time
    second = watcher(tmp_path / "replica", store, upstream)
    await asyncio.gather(first.poll("shop"), second.poll("shop"))
    count = len(await events(store))
    assert count == 5
    restarted = watcher(tmp_path / "home", store, upstream)
    assert (await restarted.poll("shop")).released == ()
    assert (await restarted.poll("shop")).released == ()
    for w in (first, second, restarted):
        w.close()
    assert len(await events(store)) == count


async def test_a_force_push_is_recorded_and_old_releases_stay(
    upstream: Upstream, tmp_path: Path, store: EventStore
) -> None:
    w = watcher(tmp_path / "home", store, upstream)
    await w.poll("shop")
    base = upstream.head
    dropped = upstream.commit({"deploy/web.yaml": deployment("web", "oops")})
    await w.poll("shop")
    upstream.reset_hard(base)
    redo = upstream.commit({"deploy/web.yaml": deployment("web", "fixed")})
    await w.poll("shop")
    w.close()
    recorded = await events(store)
    rewritten = [without_time(e) for e in recorded if e.type == "App.HistoryRewritten"]
    assert rewritten == [{"old_head": dropped, "new_head": redo}]
    app = await Repository(store).get(App, app_stream("shop"))
    assert app.has_release(dropped) and app.has_release(redo)
    assert app.release(redo).number == 3
    assert app.branch_head == redo


async def test_bad_manifests_are_recorded_as_a_rejected_release(
    upstream: Upstream, tmp_path: Path, store: EventStore
) -> None:
    w = watcher(tmp_path / "home", store, upstream)
    await w.poll("shop")
    bad = upstream.commit({"deploy/api.yaml": "apiVersion: v1\nmetadata:\n  name: api\n"})
    await w.poll("shop")
    await w.poll("shop")
    w.close()
    recorded = await events(store)
    assert [e.type for e in recorded][-2:] == ["App.CommitObserved", "App.ReleaseRejected"]
    assert without_time(recorded[-1]) == {
        "sha": bad,
        "environment": None,
        "file": "deploy/api.yaml",
        "line": 1,
        "reason": "object without kind",
    }


async def test_build_watcher_takes_home_and_interval_from_the_environment(
    upstream: Upstream, tmp_path: Path, store: EventStore
) -> None:
    config = EnvironmentsConfig(apps=(spec("shop", upstream.url),))
    settings = Settings.from_env({"BATON_HOME": str(tmp_path / "home")})
    w = build_watcher(
        config,
        settings=settings,
        repository=Repository(store),
        environ={"BATON_GIT_POLL_INTERVAL": "5s"},
    )
    assert w.apps == ("shop",) and w.interval == timedelta(seconds=5)
    assert (await w.poll("shop")).released == (upstream.head,)
    assert (tmp_path / "home" / "repos" / "shop.git" / "HEAD").exists()
    w.close()


async def test_events_carry_the_trace_of_the_request_that_asked_for_the_poll(
    upstream: Upstream, tmp_path: Path, store: EventStore
) -> None:
    tracer = TracerProvider().get_tracer("test")
    w = watcher(tmp_path / "home", store, upstream)
    with tracer.start_as_current_span("webhook") as span:
        await w.poll("shop")
    w.close()
    trace_id = f"{span.get_span_context().trace_id:032x}"
    recorded = await events(store)
    assert recorded[-1].metadata.traceparent is not None
    assert recorded[-1].metadata.traceparent.split("-")[1] == trace_id
    assert recorded[-1].metadata.correlation_id == f"git-poll:shop:{upstream.head[:12]}"
