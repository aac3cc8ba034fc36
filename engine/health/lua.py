"""User-defined health checks in Argo CD's Lua format, run in a sandboxed embedded Lua.

Where it sits: the config loader (``engine.config.health``) compiles the scripts of a
team's ``resource_customizations`` folder and of the config's inline ``checks`` into one
:class:`CustomChecks`; :func:`engine.health.assess` consults it before the built-in rules,
so a user's check wins for its group/kind. No I/O here: scripts arrive as text.

Argo CD runs its scripts with gopher-lua (Lua 5.1), so this runs Lua 5.1 too (numbers
print as Argo CD prints them). A script sees ``obj`` and returns a table ``hs`` with
``status`` and ``message``. The sandbox offers only the pure parts of the standard
library (no io, os, require, load, loadstring, dofile, debug, package, coroutine); each
call runs in fresh globals, under an instruction limit and a wall-time limit checked
from a count hook, and within the runtime's memory limit. Anything that goes wrong —
a syntax error, a runtime error, a limit, a reply that is not a known status — is
Unknown with the script's name and the reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import lupa.lua51 as lua

from engine.domain.enums import Health
from engine.health.types import Assessment

MAX_INSTRUCTIONS = 1_000_000
MAX_SECONDS = 0.5
MAX_MEMORY = 64 * 1024 * 1024  # bytes, for all the scripts of one CustomChecks
_HOOK_EVERY = 1000  # instructions between two looks at the counters and the clock
_STATUSES = {h.value: h for h in Health}
_CHUNK = "script"
_LINE = re.compile(rf"{_CHUNK}:(\d+): (.*)", re.DOTALL)
_WHERE = re.compile(rf"\b{_CHUNK}:(\d+):")

# Runs one compiled chunk: fresh globals, counters checked from a count hook, and pcall
# wrappers that cannot swallow a limit (else `while true do pcall(loop) end` runs forever).
_RUNNER = """
local sethook, setfenv, pcall, xpcall, error = debug.sethook, setfenv, pcall, xpcall, error
local pairs, setmetatable, rawget, type, tostring = pairs, setmetatable, rawget, type, tostring
local SAFE = {"assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget", "rawset",
  "select", "setmetatable", "tonumber", "tostring", "type", "unpack"}
local base, libs = {}, {}
for _, name in ipairs(SAFE) do base[name] = _G[name] end
for name, lib in pairs({string = string, table = table, math = math}) do
  libs[name] = {}
  for k, v in pairs(lib) do libs[name][k] = v end
end
libs.string.dump = nil
return function(chunk, obj, max_instructions, deadline, now, every)
  local env, spent, stop = {}, 0, nil
  for name, fn in pairs(base) do env[name] = fn end
  -- a script's writes to a library land in its own layer, not in the shared table
  for name, lib in pairs(libs) do env[name] = setmetatable({}, {__index = lib}) end
  local function guard(ok, ...)
    if stop then error(stop, 0) end
    return ok, ...
  end
  env.pcall = function(...) return guard(pcall(...)) end
  env.xpcall = function(...) return guard(xpcall(...)) end
  env._G = env
  env.obj = obj
  sethook(function()
    spent = spent + every
    if stop == nil then
      if spent > max_instructions then
        stop = "instruction limit of " .. max_instructions .. " exceeded"
      elseif now() > deadline then
        stop = "time limit exceeded"
      end
    end
    if stop then error(stop, 0) end
  end, "", every)
  -- hs is read under the hook too, with rawget: a metamethod must not run unwatched
  local function judge()
    local hs = setfenv(chunk, env)()
    if type(hs) ~= "table" then return "returned " .. type(hs) .. ", not hs" end
    local status, message = rawget(hs, "status"), rawget(hs, "message")
    if type(message) == "number" then message = tostring(message) end
    if message ~= nil and type(message) ~= "string" then
      return "hs.message is a " .. type(message)
    end
    if type(status) ~= "string" then return "hs.status is " .. type(status) end
    return nil, status, message or ""
  end
  local ok, problem, status, message = pcall(judge)
  sethook()
  if not ok and type(problem) ~= "string" then problem = "error(" .. type(problem) .. ")" end
  return problem, status, message
end
"""


class LuaCompileError(ValueError):
    """A script does not compile; ``line`` is the script's line of the problem."""

    def __init__(self, name: str, line: int, message: str) -> None:
        super().__init__(f"{name}:{line}: {message}")
        self.name, self.line, self.message = name, line, message


@dataclass(frozen=True, slots=True)
class LuaCheck:
    """One compiled script and where it came from (a file's path, or the config key)."""

    name: str
    chunk: Any = field(repr=False)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one call of a script may use."""

    max_instructions: int = MAX_INSTRUCTIONS
    max_seconds: float = MAX_SECONDS


class CustomChecks:
    """The user's checks by (group, kind), compiled in one sandboxed Lua runtime."""

    def __init__(self, limits: Limits | None = None, *, max_memory: int = MAX_MEMORY) -> None:
        self.limits = limits or Limits()
        self._lua = lua.LuaRuntime(
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            max_memory=max_memory,
        )
        self._run = self._lua.execute(_RUNNER)
        self._load = self._lua.eval("loadstring")
        self._checks: dict[tuple[str, str], LuaCheck] = {}

    def __len__(self) -> int:
        return len(self._checks)

    def kinds(self) -> list[tuple[str, str]]:
        """The (group, kind) pairs that have a check."""
        return sorted(self._checks)

    def add(self, group: str, kind: str, source: str, *, name: str) -> LuaCheck:
        """Compile `source` as the check of group/kind; LuaCompileError names line and why."""
        check = self.compile(source, name=name)
        self._checks[(group, kind)] = check
        return check

    def compile(self, source: str, *, name: str) -> LuaCheck:
        """Compile `source` into a check of this runtime, for no kind (tests run it)."""
        # Lua cuts chunk names to 60 characters: the messages say "script:<line>:", and
        # the name, whole, is added where they are shown
        chunk = self._load(source, f"={_CHUNK}")
        if isinstance(chunk, tuple):  # nil and the error: the only reply of two values
            match = _LINE.match(str(chunk[1]))
            line = int(match.group(1)) if match else 0
            raise LuaCompileError(name, line, match.group(2) if match else str(chunk[1]))
        return LuaCheck(name=name, chunk=chunk)

    def find(self, api_version: str, kind: str) -> LuaCheck | None:
        """The user's check of this apiVersion's group and kind, if any."""
        group = api_version.split("/")[0] if "/" in api_version else ""
        return self._checks.get((group, kind))

    def run(self, check: LuaCheck, obj: Mapping[str, Any]) -> Assessment:
        """Run `check` on `obj`; anything that goes wrong is Unknown, naming the script."""
        try:
            table = self._lua.table_from(obj, recursive=True)
            deadline = time.monotonic() + self.limits.max_seconds
            problem, status, message = self._run(
                check.chunk,
                table,
                self.limits.max_instructions,
                deadline,
                time.monotonic,
                _HOOK_EVERY,
            )
        except lua.LuaMemoryError:
            return _unknown(check, "memory limit exceeded")
        except Exception as exc:  # a user's script must never take the applier down
            return _unknown(check, f"{type(exc).__name__}: {exc}")
        if problem is not None:
            return _unknown(check, str(problem))
        health = _STATUSES.get(status)
        if health is None:
            return _unknown(check, f"returned status {status!r}, not one of {', '.join(_STATUSES)}")
        return Assessment(health, str(message), check.name)


def _unknown(check: LuaCheck, why: str) -> Assessment:
    why = _WHERE.sub(r"line \1:", why)  # "script:2: attempt to ..." → "line 2: attempt to ..."
    return Assessment(Health.UNKNOWN, f"health check {check.name} failed: {why}", check.name)
