"""Peak memory of a rebuild: this process's high-water mark and the Postgres backends'.

A backend's resident set counts the shared buffers it has touched, which are the server's
cache rather than the rebuild's cost; its anonymous (private) pages are where sorts,
hashes and index builds live, bounded by the work_mem settings the rebuild raises. Both
are sampled from /proc while the rebuild runs, which needs the server on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

SAMPLE_S = 0.25
_FIELD = re.compile(r"^(\w+):\s+(\d+) kB$", re.MULTILINE)
# the database's own backends (the rebuild's pool), not the sampler's
_BACKENDS = (
    "SELECT pid FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def status_kib(pid: int | str) -> dict[str, int]:
    """The kB figures of /proc/<pid>/status (VmRSS, VmHWM, RssAnon...); empty once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {name: int(value) for name, value in _FIELD.findall(text)}


def reset_peak() -> bool:
    """Restart this process's VmHWM from its current RSS; False where the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class Peaks:
    """The largest figures seen, in MiB."""

    backends_private: float = 0.0  # all the database's backends together, anonymous pages
    backend_private_max: float = 0.0  # the largest single backend, anonymous pages
    backends_rss: float = 0.0  # all together, shared buffers they touched included
    seen: bool = False  # whether /proc showed any backend (a remote server shows none)

    def take(self, figures: list[dict[str, int]]) -> None:
        """Fold one sample (each backend's status figures) in."""
        figures = [f for f in figures if f]
        if not figures:
            return
        self.seen = True
        private = [f.get("RssAnon", 0) / 1024 for f in figures]
        self.backends_private = max(self.backends_private, sum(private))
        self.backend_private_max = max(self.backend_private_max, *private)
        self.backends_rss = max(self.backends_rss, sum(f.get("VmRSS", 0) / 1024 for f in figures))


async def sample_backends(url: str, peaks: Peaks, stop: asyncio.Event) -> None:
    """Sample the database's backends every SAMPLE_S until `stop` is set."""
    conn = await asyncpg.connect(url)
    try:
        while not stop.is_set():
            pids = [row["pid"] for row in await conn.fetch(_BACKENDS)]
            peaks.take([status_kib(pid) for pid in pids])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_S)
    finally:
        await conn.close()
