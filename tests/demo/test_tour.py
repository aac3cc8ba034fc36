"""README's five-minute tour, typed as written: `baton demo` serving in one process, the
tour's lines in one shell, in order, each line's exit code and output as README says.

The only words changed are the ones README asks the reader to fill in (alice's token, a
promotion id's prefix) and the server's address, since the test cannot count on port
8080 being free.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from baton.demo import DEMO_DATABASE
from engine.store.database import with_database
from tests.service.baton_process import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARKER = "@@exit="
pytestmark = pytest.mark.timeout(420)


def tour_lines() -> list[str]:
    """The commands of the block README marks as the tour."""
    block = README.read_text().split("<!-- tested: tour -->", 1)[1]
    body = block.split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in body.splitlines() if line.strip()]


@contextlib.asynccontextmanager
async def demo(database_url: str, home: Path, port: int) -> AsyncIterator[tuple[str, str]]:
    """`baton demo` serving on `port` once its story is told: (its URL, alice's token)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(
        BATON_DATABASE_URL=database_url,
        BATON_HOME=str(home),
        BATON_API_PORT=str(port),
        BATON_ENVIRONMENTS=str(ROOT / "environments"),
        COLUMNS="160",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton",
        "demo",
        cwd=home,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    said: list[str] = []
    try:
        while not any("export BATON_URL=" in line for line in said):
            line = await asyncio.wait_for(process.stdout.readline(), 240)
            assert line, "the demo ended before it served:\n" + "".join(said)
            said.append(line.decode())
        export = next(line for line in said if "export BATON_URL=" in line)
        found = re.search(r"BATON_URL=(\S+) BATON_TOKEN=(\S+)", export)
        assert found, export
        # the rest of what it prints must not fill the pipe while the tour runs
        drain = asyncio.create_task(process.stdout.read())
        yield found.group(1), found.group(2)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 60)
    drain.cancel()


async def test_the_five_minute_tour_works_line_by_line(pg_admin_url: str, tmp_path: Path) -> None:
    lines = tour_lines()
    assert lines[0] == ". .venv/bin/activate"
    port = free_port()
    async with demo(pg_admin_url, tmp_path, port) as (url, token):
        assert url == f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        # the commands that read the database read the demo's, as they do with the
        # embedded server README's reader has; on a configured server that is baton_demo
        database = with_database(pg_admin_url, DEMO_DATABASE)
        env.update(BATON_DATABASE_URL=database, BATON_HOME=str(tmp_path), COLUMNS="160")
        # the virtualenv the tour activates is the one these tests run in
        venv = Path(sys.executable).parent.parent
        shell = await Shell.start(env, ROOT)
        results: list[tuple[str, int, str]] = []
        promotion = ""
        for line in lines:
            typed = (
                line.replace(". .venv/bin/activate", f". {venv}/bin/activate")
                .replace("http://127.0.0.1:8080", url)
                .replace("<alice's token>", token)
            )
            typed = re.sub(r"<the first 6 or more characters of[^>]*>", promotion[:8], typed)
            code, out = await shell.type(typed)
            results.append((line, code, out))
            if found := re.search(r"promotion ([0-9a-f-]{36})", out):
                promotion = found.group(1)
        await shell.close()

    said = {line: (code, out) for line, code, out in results}
    for line, code, out in results:
        expected = 1 if "--wait" in line else 0
        assert code == expected, f"{line!r} exited {code}:\n{out}"
        assert "Traceback" not in out, out

    assert "Healthy" in said["baton status shop"][1]
    assert "bob" in said["baton history shop --type PromotionApproved"][1]
    releases = said["baton releases shop"][1]
    assert "shop 1.1.0" in releases and "shop 1.0.0" in releases
    waited = said["baton promote shop --to staging --from dev --wait"][1]
    assert "rolled back" in waited or "failed" in waited, waited
    got = next(out for line, _, out in results if line.startswith("baton promotion get"))
    assert promotion in got
    assert "intact" in said["baton audit verify"][1]
    assert "equal" in said["baton replay --verify"][1]


class Shell:
    """One bash the tour is typed into, line after line (what `.` and `export` do stays)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, env: dict[str, str], cwd: Path) -> Shell:
        """A bash reading its commands from a pipe, its errors with its output."""
        process = await asyncio.create_subprocess_exec(
            "bash",
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(process)

    async def type(self, line: str) -> tuple[int, str]:
        """Run one line: its exit code and what it printed."""
        assert self.process.stdin is not None and self.process.stdout is not None
        # stdin is the script itself: a command must not read what follows it
        self.process.stdin.write(f"{line} </dev/null\necho {MARKER}$?\n".encode())
        await self.process.stdin.drain()
        said: list[str] = []
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), 180)
            assert raw, "the shell ended:\n" + "".join(said)
            text = raw.decode()
            if text.startswith(MARKER):
                return int(text.removeprefix(MARKER)), "".join(said)
            said.append(text)

    async def close(self) -> None:
        """End the shell."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        await asyncio.wait_for(self.process.wait(), 30)
