"""Closed-loop load from `wrk` (Debian's package), when the machine has it.

A load generator in Python spends a core of its own on every request it sends and reads;
on a two-core machine that is the core the server needs, so the figures would measure
the client. wrk, in C, costs a fraction of that. It cycles through the paths it is given
(a Lua table), so both generators send the same requests.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)")


def available() -> bool:
    """True when `wrk` is on the PATH."""
    return shutil.which("wrk") is not None


def _script(paths: Sequence[str], headers: Mapping[str, str]) -> str:
    quoted = ",\n".join(f'  "{p}"' for p in paths)
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    return f"""{header_lines}
local paths = {{
{quoted}
}}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


async def closed_loop(
    base: str, paths: Sequence[str], headers: Mapping[str, str], *, connections: int, seconds: float
) -> dict[str, float]:
    """`connections` connections, each sending its next GET when answered: rate, p50, p99."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "paths.lua"
        script.write_text(_script(paths, headers))
        process = await asyncio.create_subprocess_exec(
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:.0f}s",
            "--latency",
            "-s",
            str(script),
            base,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output = (await process.communicate())[0].decode()
    if process.returncode != 0 or _ERRORS.search(output):
        raise RuntimeError(f"wrk reported errors:\n{output}")
    latency = {q: float(v) * _UNITS[unit] for q, v, unit in _LATENCY.findall(output)}
    rate = _RATE.search(output)
    if rate is None or set(latency) != {"50", "99"}:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    return {
        "rps": round(float(rate.group(1)), 1),
        "p50_ms": round(latency["50"], 2),
        "p99_ms": round(latency["99"], 2),
    }
