"""The bare mirror: fetch, new commits on the branch, changed files, rewrites, trees."""

from __future__ import annotations

from pathlib import Path

import git
import pytest
from gitrepos import Upstream, deployment

from engine.git.credentials import GitAuth
from engine.git.mirror import GitSourceError, Mirror


def mirror_of(upstream: Upstream, tmp_path: Path) -> Mirror:
    return Mirror(
        directory=tmp_path / "home" / "shop.git", url=upstream.url, branch="main", auth=GitAuth()
    )


def test_first_fetch_clones_and_heads_agree(upstream: Upstream, tmp_path: Path) -> None:
    mirror = mirror_of(upstream, tmp_path)
    assert mirror.local_head() is None
    assert mirror.remote_head() == upstream.head
    assert mirror.fetch() == upstream.head
    assert git.Repo(mirror.directory).bare


def test_new_commits_come_oldest_first_with_files_against_first_parent(
    upstream: Upstream, tmp_path: Path
) -> None:
    mirror = mirror_of(upstream, tmp_path)
    base = mirror.fetch()
    a = upstream.commit({"deploy/web.yaml": deployment("web", "nginx:1.28")}, "bump web")
    b = upstream.commit({"docs/notes.md": "x\n"}, "docs only")
    head = mirror.fetch()
    assert head == b
    commits = mirror.commits_since(base, head)
    assert [c.sha for c in commits] == [a, b]
    assert commits[0].changed_files == ("deploy/web.yaml",)
    assert commits[0].touches("deploy") and not commits[1].touches("deploy")
    assert commits[0].author == "Ada Author" and commits[0].message == "bump web"


def test_a_merge_is_one_commit_of_the_branch(upstream: Upstream, tmp_path: Path) -> None:
    mirror = mirror_of(upstream, tmp_path)
    base = mirror.fetch()
    repo = upstream.repo
    repo.git.checkout("-b", "feature")
    f1 = upstream.commit({"deploy/api.yaml": deployment("api")}, "add api")
    f2 = upstream.commit({"deploy/api.yaml": deployment("api", "nginx:2")}, "bump api")
    repo.git.checkout("main")
    m1 = upstream.commit({"README.md": "main moved\n"}, "main moves")
    repo.git.merge("--no-ff", "-m", "merge feature", "feature")
    merge = upstream.head
    commits = mirror.commits_since(base, mirror.fetch() or "")
    assert [c.sha for c in commits] == [m1, merge]
    assert f1 not in [c.sha for c in commits] and f2 not in [c.sha for c in commits]
    assert commits[1].changed_files == ("deploy/api.yaml",)
    assert len(commits[1].parents) == 2


def test_a_force_push_is_not_a_fast_forward_and_kept_commits_survive(
    upstream: Upstream, tmp_path: Path
) -> None:
    mirror = mirror_of(upstream, tmp_path)
    first = mirror.fetch() or ""
    dropped = upstream.commit({"deploy/web.yaml": deployment("web", "bad")}, "to be dropped")
    assert mirror.fetch() == dropped
    mirror.keep(dropped)
    upstream.reset_hard(first)
    upstream.repo.git.reflog("expire", "--expire=now", "--all")
    upstream.repo.git.gc("--prune=now")
    replacement = upstream.commit({"deploy/web.yaml": deployment("web", "good")}, "redo")
    assert mirror.fetch() == replacement
    assert not mirror.is_ancestor(dropped, replacement)
    assert mirror.is_ancestor(first, replacement)
    mirror.open().git.gc("--prune=now")
    assert mirror.has_commit(dropped)
    assert b"image: bad" in mirror.read_tree(dropped, "deploy")["web.yaml"]


def test_read_tree_returns_files_relative_to_the_path(upstream: Upstream, tmp_path: Path) -> None:
    upstream.commit({"deploy/overlays/prod/patch.yaml": "a: 1\n"})
    mirror = mirror_of(upstream, tmp_path)
    head = mirror.fetch() or ""
    assert sorted(mirror.read_tree(head, "deploy")) == ["overlays/prod/patch.yaml", "web.yaml"]
    assert mirror.read_tree(head, "nowhere") == {}
    assert mirror.tree_id(head, "deploy") is not None
    assert mirror.tree_id(head, "nowhere") is None


def test_an_unreachable_remote_fails_with_a_reason_and_no_secret(tmp_path: Path) -> None:
    auth = GitAuth(secrets=("s3cret",))
    mirror = Mirror(
        directory=tmp_path / "m.git",
        url="https://user:s3cret@127.0.0.1:9/x.git",
        branch="main",
        auth=auth,
    )
    with pytest.raises(GitSourceError) as info:
        mirror.remote_head()
    assert "s3cret" not in str(info.value)
    assert "git ls-remote:" in str(info.value)
    missing = Mirror(
        directory=tmp_path / "n.git", url=str(tmp_path / "nope"), branch="main", auth=GitAuth()
    )
    with pytest.raises(GitSourceError, match="does not appear to be a git repository"):
        missing.fetch()
