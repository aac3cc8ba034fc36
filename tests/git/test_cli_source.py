"""`baton config check|apply` and `baton git poll` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gitrepos import Upstream

REPO_ROOT = Path(__file__).resolve().parents[2]


def baton(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_config_check_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apps:\n  - name: shop\n    repo: x\n    pipline: []\n")
    done = baton("config", "check", "--dir", str(tmp_path))
    assert done.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}:2: apps[0].pipeline: is required" in done.stderr
    assert f"{tmp_path / 'bad.yaml'}:4: apps[0].pipline: unknown key" in done.stderr
    assert "nothing was applied" in done.stderr


def test_config_apply_then_git_poll_records_a_release(
    upstream: Upstream, tmp_path: Path, database_url: str
) -> None:
    env = {
        "BATON_DATABASE_URL": database_url,
        "BATON_HOME": str(tmp_path / "home"),
        "BATON_DEMO_REPO": upstream.url,
    }
    folder = str(REPO_ROOT / "environments")
    applied = baton("config", "apply", "--dir", folder, **env)
    assert applied.returncode == 0, applied.stderr
    assert "shop: registered" in applied.stdout
    polled = baton("git", "poll", "--dir", folder, "shop", **env)
    assert polled.returncode == 0, polled.stderr
    assert upstream.head[:12] in polled.stdout and "ok" in polled.stdout
    again = baton("config", "apply", "--dir", folder, **env)
    assert "shop: unchanged" in again.stdout
