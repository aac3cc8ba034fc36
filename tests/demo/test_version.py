"""`baton version` against a running server: the client's version, and the server's from
its public /healthz."""

from __future__ import annotations

import asyncio
import json
from importlib import metadata

from tests.console_script import run_baton
from tests.demo.live_server import Live

VERSION = metadata.version("baton")


async def test_version_shows_the_client_and_the_server_it_is_pointed_at(live: Live) -> None:
    shown = await asyncio.to_thread(run_baton, "version", "--url", live.url)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [f"client: {VERSION}", f"server: {VERSION} ({live.url})"]


async def test_version_as_json_names_the_server_from_baton_url(live: Live) -> None:
    shown = await asyncio.to_thread(run_baton, "version", "-o", "json", env={"BATON_URL": live.url})
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {"client": VERSION, "server": VERSION, "url": live.url}


async def test_version_without_a_server_named_asks_none() -> None:
    shown = await asyncio.to_thread(run_baton, "version", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {"client": VERSION, "server": None, "url": None}


async def test_version_of_a_server_that_does_not_answer_exits_3_after_the_client() -> None:
    shown = await asyncio.to_thread(run_baton, "version", "--url", "http://127.0.0.1:9")
    assert shown.returncode == 3
    assert shown.stdout == f"client: {VERSION}\n"
    assert "cannot reach http://127.0.0.1:9" in shown.stderr and "Traceback" not in shown.stderr
