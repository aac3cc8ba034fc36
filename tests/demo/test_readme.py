"""The REST API page's curl examples (docs/api.md), run as written against a running server."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
from pathlib import Path

import aiohttp
import pytest

from tests.demo.live_server import TOKENS, Live

API_PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
pytestmark = pytest.mark.timeout(180)


def curl_examples() -> list[str]:
    """The commands in the block marked as tested, continuation lines joined."""
    text = API_PAGE.read_text()
    block = text.split("<!-- tested: curl -->", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [c.strip() for c in re.sub(r"\\\n\s*", " ", block).splitlines() if c.strip()]


async def run_curl(command: str, env: dict[str, str]) -> tuple[int, bytes, str]:
    """Run the example with curl, or, where curl is not installed, the same request
    (method, headers, body, URL) through aiohttp."""
    if shutil.which("curl"):
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode is not None
        return process.returncode, out, err.decode()
    for name in ("BATON_URL", "BATON_TOKEN"):
        command = command.replace(f"${name}", env[name])
    words = shlex.split(command)
    headers, body, url = {}, None, ""
    rest = iter(words[1:])
    for word in rest:
        if word == "-H":
            name, _, value = next(rest).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            body = next(rest).encode()
        elif not word.startswith("-"):
            url = word
    async with (
        aiohttp.ClientSession() as session,
        session.request("POST" if body else "GET", url, headers=headers, data=body) as response,
    ):
        return (0 if response.status < 400 else 22), await response.read(), response.reason or ""


async def test_every_curl_example_of_the_api_page_succeeds(live: Live) -> None:
    env = {**os.environ, "BATON_URL": live.url, "BATON_TOKEN": TOKENS["alice"]}
    commands = curl_examples()
    assert commands, "the tested block of docs/api.md holds no command"
    for command in commands:
        code, out, err = await run_curl(command, env)
        assert code == 0, f"{command}\n{err}"
        assert out, command
