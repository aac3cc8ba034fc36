"""`baton serve --workers N`: N processes answer the API on one port; none outlives it.

Run as an operator runs it, `python -m baton serve` in a process of its own; which process
listens is read from Linux's /proc.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.api.conftest import token_of

ROOT = Path(__file__).resolve().parents[2]
READY_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port:  # 0A: LISTEN
            inodes.add(inode)
    return inodes


def _sockets_of(pid: int) -> set[str]:
    found = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:
        return found  # the process is gone
    for fd in fds:
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue  # closed since the listing: a running process opens and closes files
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def _listeners(port: int, pids: list[int]) -> list[int]:
    """The processes among `pids` that listen on `port`."""
    inodes = _listening_inodes(port)
    return [pid for pid in pids if _alive(pid) and _sockets_of(pid) & inodes]


def _both_listen(pid: int, port: int) -> bool:
    """True when the server and its one extra process both listen on `port`."""
    return len(_listeners(port, [pid, *_children(pid)])) == 2


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited, just not been reaped


async def _eventually(check: object, what: str, within: float = READY_S) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[int, int]]:
    """`python -m baton serve --role api --workers 2` on a free port, both processes listening:
    (its pid, the port)."""
    port = _free_port()
    env = {
        **os.environ,
        "BATON_DATABASE_URL": database_url,
        "BATON_HOME": str(tmp_path),
        "BATON_TOKENS": f"viewer:viewer:{token_of('viewer')}",
        "BATON_API_POOL_SIZE": "4",
        "BATON_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton",
        "serve",
        "--role",
        "api",
        "--workers",
        "2",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        await _eventually(
            lambda: _both_listen(process.pid, port),
            "the server and one extra process listening on the port",
        )
        yield process.pid, port
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_two_processes_serve_the_port_and_a_dead_one_is_replaced(
    server: tuple[int, int],
) -> None:
    pid, port = server
    first_child = _children(pid)[0]
    headers = {"Authorization": f"Bearer {token_of('viewer')}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def read() -> int:
            # a new connection each time, so that the kernel spreads them over both
            async with session.get(
                f"http://127.0.0.1:{port}/api/v1/apps", headers={"Connection": "close"}
            ) as response:
                return response.status

        assert await asyncio.gather(*(read() for _ in range(40))) == [200] * 40

    os.kill(first_child, signal.SIGKILL)
    await _eventually(
        lambda: any(c != first_child for c in _children(pid)) and _both_listen(pid, port),
        "another extra process listening in place of the killed one",
    )


async def test_extra_processes_stop_when_the_server_is_killed(
    server: tuple[int, int],
) -> None:
    pid, port = server
    child = _children(pid)[0]
    os.kill(pid, signal.SIGKILL)  # no chance to stop its children itself
    await _eventually(lambda: not _alive(child), "the orphaned extra process exiting", within=10)
    assert _listening_inodes(port) == set()


async def test_a_server_that_cannot_start_exits_with_the_reason(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "BATON_DATABASE_URL": database_url,
        "BATON_HOME": str(tmp_path),
        "BATON_TOKENS": "ci:viewer:short",
        "BATON_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton",
        "serve",
        "--workers",
        "2",
        "--port",
        str(_free_port()),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # the Git watcher and the other parts already started must not hold it open
        _, stderr = await asyncio.wait_for(process.communicate(), READY_S)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 2
    assert "token of ci: shorter than 8 characters" in stderr.decode()
