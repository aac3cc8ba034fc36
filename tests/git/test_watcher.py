"""The watcher against real repositories: releases, idempotency, rewrites, broken sources."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from gitrepos import Upstream, deployment, spec
from recorders import ListRecorder

from engine.domain.pipeline import AppSpec, Credentials
from engine.git.manifests import render_release
from engine.git.mirror import GitSourceError
from engine.git.watcher import GitWatcher


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def watcher_for(home: Path, recorder: ListRecorder, *apps: AppSpec) -> GitWatcher:
    return GitWatcher(
        apps=apps, home=home, recorder=recorder, interval=timedelta(seconds=30), max_workers=4
    )


async def test_first_poll_releases_the_current_manifests_once(
    upstream: Upstream, home: Path
) -> None:
    recorder = ListRecorder()
    watcher = watcher_for(home, recorder, spec("shop", upstream.url))
    result = await watcher.poll("shop")
    assert result.ok and result.released == (upstream.head,)
    assert recorder.types("shop") == ["CommitObserved", "ReleaseCreated"]
    created = recorder.of_type("shop", "ReleaseCreated")[0]
    assert set(created["rendered"]) == {"dev", "prod"}
    again = await watcher.poll("shop")
    assert again.ok and not again.changed
    assert len(recorder.types("shop")) == 2
    watcher.close()


async def test_commits_outside_the_manifests_path_are_ignored(
    upstream: Upstream, home: Path
) -> None:
    recorder = ListRecorder()
    watcher = watcher_for(home, recorder, spec("shop", upstream.url))
    await watcher.poll("shop")
    upstream.commit({"README.md": "docs\n"})
    touching = upstream.commit({"deploy/web.yaml": deployment("web", "nginx:1.28")})
    upstream.commit({"src/main.py": "print()\n"})
    result = await watcher.poll("shop")
    assert result.released == (touching,)
    assert [d["sha"] for d in recorder.of_type("shop", "ReleaseCreated")][1:] == [touching]
    watcher.close()


async def test_a_merge_becomes_one_release(upstream: Upstream, home: Path) -> None:
    recorder = ListRecorder()
    watcher = watcher_for(home, recorder, spec("shop", upstream.url))
    await watcher.poll("shop")
    upstream.repo.git.checkout("-b", "feature")
    upstream.commit({"deploy/api.yaml": deployment("api")})
    upstream.commit({"deploy/api.yaml": deployment("api", "nginx:2")})
    upstream.repo.git.checkout("main")
    upstream.repo.git.merge("--no-ff", "-m", "merge feature", "feature")
    result = await watcher.poll("shop")
    assert result.released == (upstream.head,)
    watcher.close()


async def test_a_restart_records_nothing_twice(upstream: Upstream, home: Path) -> None:
    recorder = ListRecorder()
    first = watcher_for(home, recorder, spec("shop", upstream.url))
    await first.poll("shop")
    upstream.commit({"deploy/web.yaml": deployment("web", "nginx:1.28")})
    await first.poll("shop")
    first.close()
    count = len(recorder.types("shop"))
    restarted = watcher_for(home, recorder, spec("shop", upstream.url))
    result = await restarted.poll("shop")
    assert result.ok and result.released == ()
    assert len(recorder.types("shop")) == count
    # even with the mirror gone (a new BATON_HOME), the stored state decides
    fresh = watcher_for(home / "other", recorder, spec("shop", upstream.url))
    assert (await fresh.poll("shop")).released == ()
    assert len(recorder.types("shop")) == count
    restarted.close()
    fresh.close()


async def test_a_force_push_is_recorded_and_the_dropped_release_stays_readable(
    upstream: Upstream, home: Path
) -> None:
    recorder = ListRecorder()
    watcher = watcher_for(home, recorder, spec("shop", upstream.url))
    await watcher.poll("shop")
    base = upstream.head
    dropped = upstream.commit({"deploy/web.yaml": deployment("web", "oops")})
    await watcher.poll("shop")
    upstream.reset_hard(base)
    redo = upstream.commit({"deploy/web.yaml": deployment("web", "fixed")})
    result = await watcher.poll("shop")
    assert result.rewritten_from == dropped and result.released == (redo,)
    rewritten = recorder.of_type("shop", "HistoryRewritten")
    assert rewritten == [{"old_head": dropped, "new_head": redo, "branch_head": redo}]
    mirror = watcher._slot("shop").mirror
    mirror.open().git.gc("--prune=now")
    assert b"oops" in mirror.read_tree(dropped, "deploy")["web.yaml"]
    watcher.close()


async def test_bad_manifests_become_a_rejected_release_not_a_crash(
    upstream: Upstream, home: Path
) -> None:
    recorder = ListRecorder()
    watcher = watcher_for(home, recorder, spec("shop", upstream.url))
    await watcher.poll("shop")
    bad = upstream.commit({"deploy/broken.yaml": "apiVersion: v1\nkind: [x\n"})
    result = await watcher.poll("shop")
    assert result.ok and result.rejected == (bad,)
    rejected = recorder.of_type("shop", "ReleaseRejected")[0]
    assert (rejected["file"], rejected["line"]) == ("deploy/broken.yaml", 3)
    assert (await watcher.poll("shop")).rejected == ()
    watcher.close()


async def test_an_unreachable_remote_does_not_stop_a_healthy_one(
    make_upstream: Callable[[str], Upstream], home: Path, tmp_path: Path
) -> None:
    healthy = make_upstream("healthy")
    healthy.commit({"deploy/web.yaml": deployment("web")})
    recorder = ListRecorder()
    watcher = watcher_for(
        home,
        recorder,
        spec("good", healthy.url),
        spec("gone", str(tmp_path / "does-not-exist")),
        spec("refused", "https://127.0.0.1:9/org/repo.git"),
    )
    results = {r.app: r for r in await watcher.poll_all()}
    assert results["good"].ok and results["good"].released == (healthy.head,)
    assert not results["gone"].ok and "does not appear to be a git repository" in (
        results["gone"].reason or ""
    )
    assert not results["refused"].ok and results["refused"].reason
    assert watcher.status("refused") == results["refused"]
    watcher.close()


async def test_credentials_never_reach_events_or_logs(
    upstream: Upstream,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "tok-very-secret")
    creds = Credentials(username="bot", token_env="SHOP_TOKEN")
    recorder = ListRecorder()
    watcher = watcher_for(
        home,
        recorder,
        spec("shop", upstream.url, credentials=creds),
        spec("remote", "https://127.0.0.1:9/x.git", credentials=creds),
    )
    caplog.set_level(logging.DEBUG)
    results = await watcher.poll_all()
    assert results[0].ok and not results[1].ok
    everything = repr(recorder.events) + caplog.text + repr(results)
    assert "tok-very-secret" not in everything
    assert "127.0.0.1" in (results[1].reason or "")
    assert "tok-very-secret" not in (home / "repos" / "remote.git" / "config").read_text()
    watcher.close()


async def test_missing_credentials_name_the_variable(upstream: Upstream, home: Path) -> None:
    creds = Credentials(username="bot", token_env="NOT_SET_ANYWHERE")
    watcher = watcher_for(home, ListRecorder(), spec("shop", upstream.url, credentials=creds))
    result = await watcher.poll("shop")
    assert not result.ok and result.reason == "environment variable NOT_SET_ANYWHERE is not set"
    watcher.close()


async def test_request_poll_wakes_the_loop_before_its_interval(
    upstream: Upstream, home: Path
) -> None:
    recorder = ListRecorder()
    watcher = GitWatcher(
        apps=[spec("shop", upstream.url)], home=home, recorder=recorder, interval=timedelta(hours=1)
    )
    task = asyncio.create_task(watcher.run(), name="test-watcher")
    try:
        await _until(lambda: watcher.status("shop") is not None)
        new = upstream.commit({"deploy/web.yaml": deployment("web", "nginx:9")})
        watcher.request_poll("shop")
        await _until(lambda: new in [d["sha"] for d in recorder.of_type("shop", "ReleaseCreated")])
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def _until(check: Callable[[], bool], *, seconds: float = 10.0) -> None:
    """Wait for a condition the watcher's own task makes true (checked every 20 ms)."""
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def test_a_corrupt_mirror_is_reported_and_the_others_go_on(
    make_upstream: Callable[[str], Upstream], home: Path
) -> None:
    one, two = make_upstream("one"), make_upstream("two")
    for repo in (one, two):
        repo.commit({"deploy/web.yaml": deployment("web")})
    recorder = ListRecorder()
    watcher = watcher_for(home, recorder, spec("one", one.url), spec("two", two.url))
    assert all(r.ok for r in await watcher.poll_all())
    watcher.close()  # as after a restart: the damage is found when the mirror is reopened
    (home / "repos" / "one.git" / "config").write_text("[core\nthis is not git config\n")
    one.commit({"deploy/web.yaml": deployment("web", "nginx:2")})
    new_two = two.commit({"deploy/web.yaml": deployment("web", "nginx:2")})
    restarted = watcher_for(home, recorder, spec("one", one.url), spec("two", two.url))
    results = {r.app: r for r in await restarted.poll_all()}
    assert not results["one"].ok and "config" in (results["one"].reason or "")
    assert results["two"].ok and results["two"].released == (new_two,)
    restarted.close()


async def test_a_kustomize_layout_renders_each_environment_through_its_overlay(
    make_upstream: Callable[[str], Upstream], home: Path
) -> None:
    repo = make_upstream("kust")
    repo.commit(
        {
            "deploy/kustomization.yaml": "resources:\n  - base\n",
            "deploy/base/kustomization.yaml": "resources:\n  - web.yaml\n",
            "deploy/base/web.yaml": deployment("web"),
            "deploy/overlays/prod/kustomization.yaml": (
                "resources:\n  - ../../base\nnamePrefix: prod-\n"
            ),
        }
    )
    recorder = ListRecorder()
    watcher = watcher_for(home, recorder, spec("kust", repo.url))
    assert (await watcher.poll("kust")).released == (repo.head,)
    rendered = recorder.of_type("kust", "ReleaseCreated")[0]["rendered"]
    assert rendered["dev"] != rendered["prod"]
    broken = repo.commit({"deploy/overlays/prod/kustomization.yaml": "resources:\n  - nope\n"})
    assert (await watcher.poll("kust")).rejected == (broken,)
    rejected = recorder.of_type("kust", "ReleaseRejected")[0]
    assert rejected["file"] == "deploy/overlays/prod/kustomization.yaml"
    assert "nope" in rejected["reason"]
    watcher.close()


async def test_removing_the_manifests_folder_is_a_rejected_release(
    upstream: Upstream, home: Path
) -> None:
    recorder = ListRecorder()
    watcher = watcher_for(home, recorder, spec("shop", upstream.url))
    await watcher.poll("shop")
    gone = upstream.commit({"deploy/web.yaml": None})
    assert (await watcher.poll("shop")).rejected == (gone,)
    assert "does not exist" in recorder.of_type("shop", "ReleaseRejected")[0]["reason"]
    watcher.close()


async def test_a_rewrite_while_down_is_found_even_from_a_fresh_home(
    upstream: Upstream, home: Path, tmp_path: Path
) -> None:
    recorder = ListRecorder()
    first = watcher_for(home, recorder, spec("shop", upstream.url))
    await first.poll("shop")
    base = upstream.head
    dropped = upstream.commit({"deploy/web.yaml": deployment("web", "oops")})
    await first.poll("shop")
    first.close()
    upstream.reset_hard(base)
    redo = upstream.commit({"deploy/web.yaml": deployment("web", "fixed")})
    fresh = watcher_for(tmp_path / "new-home", recorder, spec("shop", upstream.url))
    result = await fresh.poll("shop")
    assert (result.rewritten_from, result.released) == (dropped, (redo,))
    fresh.close()


async def test_reconfigure_starts_new_apps_stops_removed_ones_and_follows_a_new_branch(
    make_upstream: Callable[[str], Upstream], home: Path
) -> None:
    one, two = make_upstream("one"), make_upstream("two")
    one.commit({"deploy/web.yaml": deployment("web")})
    two.commit({"deploy/web.yaml": deployment("web")})
    two.repo.git.checkout("-b", "release")
    on_release = two.commit({"deploy/web.yaml": deployment("web", "nginx:rel")})
    recorder = ListRecorder()
    watcher = GitWatcher(
        apps=[spec("one", one.url)], home=home, recorder=recorder, interval=timedelta(hours=1)
    )
    task = asyncio.create_task(watcher.run(), name="test-watcher")
    try:
        await _until(lambda: watcher.status("one") is not None)
        await watcher.reconfigure([spec("one", one.url), spec("two", two.url)])
        await _until(lambda: recorder.of_type("two", "ReleaseCreated") != [])
        assert recorder.of_type("two", "ReleaseCreated")[0]["sha"] != on_release
        moved = replace(spec("two", two.url), branch="release")
        await watcher.reconfigure([moved])
        assert watcher.apps == ("two",)
        await _until(
            lambda: on_release in [d["sha"] for d in recorder.of_type("two", "ReleaseCreated")]
        )
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_release_renders_later_from_the_mirror_even_after_a_force_push(
    upstream: Upstream, home: Path
) -> None:
    recorder = ListRecorder()
    app = spec("shop", upstream.url)
    watcher = watcher_for(home, recorder, app)
    await watcher.poll("shop")
    base = upstream.head
    dropped = upstream.commit({"deploy/web.yaml": deployment("web", "nginx:dropped")})
    await watcher.poll("shop")
    upstream.reset_hard(base)
    upstream.commit({"deploy/web.yaml": deployment("web", "nginx:new")})
    await watcher.poll("shop")
    watcher.close()
    rendered = render_release(home=home, app=app, sha=dropped, environment="prod")
    created = {d["sha"]: d for d in recorder.of_type("shop", "ReleaseCreated")}
    assert rendered.digest == created[dropped]["rendered"]["prod"]
    assert rendered.objects[0].namespace == "shop-prod"
    with pytest.raises(GitSourceError, match="holds no commit"):
        render_release(home=home, app=app, sha="0" * 40, environment="dev")


async def test_a_remote_that_never_answers_times_out_without_holding_up_the_others(
    upstream: Upstream, home: Path
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        recorder = ListRecorder()
        watcher = GitWatcher(
            apps=[spec("shop", upstream.url), spec("silent", f"http://127.0.0.1:{port}/x.git")],
            home=home,
            recorder=recorder,
            network_timeout=timedelta(seconds=3),
        )
        results = {r.app: r for r in await watcher.poll_all()}
        watcher.close()
    assert results["shop"].ok and results["shop"].seconds < 3
    assert results["silent"].reason == "git ls-remote: no answer within 3s"
