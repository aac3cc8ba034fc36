"""Fixtures: real Git repositories for the Git-source tests, built in tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gitrepos import Upstream, deployment


@pytest.fixture
def make_upstream(tmp_path: Path) -> Callable[[str], Upstream]:
    """Factory: a fresh upstream repository called ``name``."""

    def make(name: str) -> Upstream:
        return Upstream(tmp_path / "upstream" / name)

    return make


@pytest.fixture
def upstream(make_upstream: Callable[[str], Upstream]) -> Upstream:
    """One upstream repository with a first commit of manifests under ``deploy/``."""
    repo = make_upstream("shop")
    repo.commit({"deploy/web.yaml": deployment("web"), "README.md": "shop\n"}, "initial")
    return repo
