"""`baton serve --workers N`: more processes answering the REST API on the same port.

Where it sits: beside `serve`. One Python process answers about two thousand small reads
a second; the others are parsing and rendering JSON, not waiting on Postgres, so more
throughput needs more processes. Every process binds the port with SO_REUSEPORT and the
kernel spreads new connections across them. The first process runs what the role asks
for; the extra ones (`--role api` with projections and the Git watcher off) only answer
HTTP. Nothing the API answers lives in one process's memory only: pipelines are checked
against stream versions, idempotency keys and replay jobs are in Postgres, a webhook
reaches the watcher by NOTIFY, and each process's aggregates are checked on append.

The first process restarts an extra one that exits (each is a task of its supervisor,
``http-worker-<n>``, restarted with its backoff), and stops them all when it stops
(they drain their requests beside it, each as a SIGTERM'd `baton serve` does);
an extra one stops by itself when its parent is gone, so none outlives a killed server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from functools import partial

from engine.supervisor import Supervisor

log = logging.getLogger(__name__)
_STOP_TIMEOUT_S = 10.0
_PARENT_CHECK_S = 1.0


def _command(host: str, port: int, kubeconfig: str | None) -> list[str]:
    """The command line of an extra HTTP process of this one."""
    command = [
        sys.executable,
        "-m",
        "baton",
        "serve",
        "--role",
        "api",
        "--host",
        host,
        "--port",
        str(port),
        "--worker-of",
        str(os.getpid()),
    ]
    if kubeconfig:
        command += ["--kubeconfig", kubeconfig]
    return command


def _env(database_url: str) -> dict[str, str]:
    """This process's environment, with the parts that must run once turned off."""
    return {
        **os.environ,
        # this process's database: when it is the embedded server, an extra process must
        # use it, not start (and, stopping, stop) the server itself
        "BATON_DATABASE_URL": database_url,
        "BATON_API_PROJECTIONS": "0",
        "BATON_API_WATCH_GIT": "0",
    }


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(process.wait(), _STOP_TIMEOUT_S)
    except TimeoutError:
        log.warning(
            "HTTP worker %s did not stop within %ss; killing it", process.pid, _STOP_TIMEOUT_S
        )
        process.kill()
        await process.wait()
        return
    if code != 0:
        log.warning("HTTP worker %s stopped with exit code %s", process.pid, code)


class WorkerExited(Exception):
    """An extra HTTP process ended while the first one still serves."""


async def _run(
    command: Sequence[str],
    env: dict[str, str],
    processes: dict[int, asyncio.subprocess.Process],
    slot: int,
) -> None:
    """Run one extra process until it exits: a failure, for the supervisor to restart."""
    process = processes[slot] = await asyncio.create_subprocess_exec(*command, env=env)
    code = await process.wait()
    raise WorkerExited(f"HTTP worker {process.pid} exited with {code}")


class ExtraWorkers:
    """Extra HTTP processes on one port, restarted when they exit, until told to stop."""

    def __init__(
        self,
        count: int,
        *,
        host: str,
        port: int,
        database_url: str,
        kubeconfig: str | None,
        supervisor: Supervisor,
    ) -> None:
        self._command, self._env = _command(host, port, kubeconfig), _env(database_url)
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._supervisor = supervisor
        self._names = [f"http-worker-{slot}" for slot in range(count)]
        for slot, name in enumerate(self._names):
            run = partial(_run, self._command, self._env, self._processes, slot)
            supervisor.start(name, run)

    async def terminate(self) -> None:
        """Restart none any more; send each a SIGTERM (they stop as this process does)."""
        await asyncio.gather(*(self._supervisor.remove(name) for name in self._names))
        for process in self._processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)

    async def stop(self) -> None:
        """`terminate()`, then wait for every process to exit (killed after a timeout)."""
        await self.terminate()
        await asyncio.gather(*(_stop(p) for p in self._processes.values()))


async def until_orphaned(parent: int) -> None:
    """Return once `parent` no longer is this process's parent (it died)."""
    # nothing signals a parent's death portably; a killed parent re-parents its children
    while os.getppid() == parent:  # noqa: ASYNC110
        await asyncio.sleep(_PARENT_CHECK_S)
