"""Credentials over real smart HTTP: the token reaches the server and nothing else."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from githttp import git_http_server
from gitrepos import Upstream, spec
from recorders import ListRecorder

from engine.domain.pipeline import Credentials
from engine.git.credentials import resolve_auth
from engine.git.watcher import GitWatcher

TOKEN = "ghp_right-token-123"


async def test_a_token_from_a_file_fetches_and_a_wrong_one_fails_redacted(
    upstream: Upstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.setenv("WRONG_TOKEN", "ghp_wrong-token-456")
    good = Credentials(username="bot", token_file=str(token_file))
    bad = Credentials(username="bot", token_env="WRONG_TOKEN")
    recorder = ListRecorder()
    with git_http_server(upstream.path.parent, user="bot", token=TOKEN) as base:
        url = f"{base}/{upstream.path.name}"
        watcher = GitWatcher(
            apps=[
                spec("good", url, credentials=good),
                spec("bad", url, credentials=bad),
                spec("anonymous", url),
            ],
            home=tmp_path / "home",
            recorder=recorder,
            interval=timedelta(seconds=30),
        )
        results = {r.app: r for r in await watcher.poll_all()}
        watcher.close()
    assert results["good"].ok and results["good"].released == (upstream.head,)
    for name in ("bad", "anonymous"):
        assert not results[name].ok
        assert "Authentication failed" in (results[name].reason or ""), results[name].reason
    shown = caplog.text + repr(results) + repr(recorder.events)
    for secret in (TOKEN, "ghp_wrong-token-456"):
        assert secret not in shown
        for repo in ("good", "bad"):
            config = tmp_path / "home" / "repos" / f"{repo}.git" / "config"
            assert secret not in config.read_text()


def test_an_ssh_key_from_the_environment_lands_in_a_private_file(tmp_path: Path) -> None:
    creds = Credentials(username="git", ssh_key_env="DEPLOY_KEY")
    auth = resolve_auth(
        creds,
        app="shop",
        key_dir=tmp_path / "keys",
        environ={"DEPLOY_KEY": "-----BEGIN KEY-----\nabc\n-----END KEY-----"},
    )
    key = tmp_path / "keys" / "shop.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert str(key) in auth.env["GIT_SSH_COMMAND"]
    assert "BatchMode=yes" in auth.env["GIT_SSH_COMMAND"]
    assert "abc" not in repr(auth.env)


def test_redact_hides_secrets_and_url_user_info() -> None:
    auth = resolve_auth(
        Credentials(username="bot", token_env="T"),
        app="a",
        key_dir=Path("/nonexistent"),
        environ={"T": "s3cr3t"},
    )
    text = auth.redact("fatal: https://bot:s3cr3t@host/x.git said s3cr3t")
    assert text == "fatal: https://***@host/x.git said ***"
