"""`baton login`, `context list|use`, `logout` against a running baton, as a person uses
them: the real console script, its config under a home of the test's own."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.console_script import assert_one_line_failure, run_baton
from tests.demo.live_server import TOKENS, Live, serving

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with serving(database_url, tmp_path / "served") as found:
        yield found


async def baton(
    home: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`baton ARGS` in a thread (the server runs on this loop), HOME in `home`."""
    environment = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), **env}
    return await asyncio.to_thread(run_baton, *args, env=environment, stdin=stdin)


async def test_login_stores_a_context_that_later_commands_use(served: Live, tmp_path: Path) -> None:
    home = tmp_path / "home"
    token_file = tmp_path / "token"
    token_file.write_text(TOKENS["alice"] + "\n")
    config = home / ".config" / "baton" / "config.yaml"

    refused = await baton(home, "login", served.url, "--token-stdin", stdin="not-a-token-at-all")
    assert_one_line_failure(refused, 4, "refused the token", "nothing was stored")
    assert "not-a-token-at-all" not in refused.stderr
    assert not config.exists()

    logged_in = await baton(home, "login", served.url, "--token-file", str(token_file))
    assert logged_in.returncode == 0, logged_in.stderr
    assert TOKENS["alice"] not in logged_in.stdout + logged_in.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    host = urlsplit(served.url)
    name = f"{host.hostname}:{host.port}"
    stored = yaml.safe_load(config.read_text())
    assert stored == {
        "current-context": name,
        "contexts": [{"name": name, "url": served.url, "token": TOKENS["alice"]}],
    }

    status = await baton(home, "status", "shop")  # no --url, no token: the context's
    assert status.returncode == 0, status.stderr
    assert served.release[:12] in status.stdout

    carol = await baton(
        home, "login", served.url, "--name", "carol", "--token-stdin", stdin=TOKENS["carol"]
    )
    assert carol.returncode == 0, carol.stderr
    listed = await baton(home, "context", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1:] == [
        f"  {name}  {served.url}",
        f"* carol{' ' * (len(name) - 5)}  {served.url}",
    ]

    used = await baton(home, "context", "use", name)
    assert used.returncode == 0, used.stderr
    as_json = json.loads((await baton(home, "context", "list", "-o", "json")).stdout)
    assert as_json["current-context"] == name
    as_yaml = (await baton(home, "context", "list", "-o", "yaml")).stdout
    assert yaml.safe_load(as_yaml) == as_json
    for token in TOKENS.values():
        assert token not in json.dumps(as_json) + as_yaml + listed.stdout

    unknown = await baton(home, "context", "use", "staging")
    assert_one_line_failure(unknown, 2, "no context staging", name, "carol")

    # the environment comes before the context: a token, then a server
    wrong_token = await baton(home, "status", "shop", BATON_TOKEN="wrong-token-123456")
    assert wrong_token.returncode == 4, wrong_token.stderr
    elsewhere = await baton(home, "status", "shop", BATON_URL="http://127.0.0.1:9")
    assert elsewhere.returncode == 3, elsewhere.stderr
    assert "127.0.0.1:9" in elsewhere.stderr
    # and a flag before the environment
    flagged = await baton(
        home, "status", "shop", "--url", served.url, BATON_URL="http://127.0.0.1:9"
    )
    assert flagged.returncode == 0, flagged.stderr

    logged_out = await baton(home, "logout")
    assert logged_out.returncode == 0, logged_out.stderr
    left = yaml.safe_load(config.read_text())
    assert left["current-context"] is None
    assert [c["name"] for c in left["contexts"]] == ["carol"]
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


async def test_login_without_a_token_source_off_a_terminal_is_a_usage_error(
    tmp_path: Path,
) -> None:
    result = await baton(tmp_path, "login", "http://127.0.0.1:9")
    assert_one_line_failure(result, 2, "no token given", "--token-stdin")
    assert not (tmp_path / ".config" / "baton").exists()
