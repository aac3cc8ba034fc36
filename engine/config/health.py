"""The ``health:`` section of the environments config: user checks, read and compiled.

Where it sits: the loader (``engine.config.loader``) hands this module the validated
:class:`HealthModel` of the one file that has it; this reads the scripts of ``checks_dir``
(Argo CD's ``resource_customizations`` layout: ``<group>/<kind>/health.lua``, ``_`` for
the core group) and the inline ``checks``, and compiles them into one
:class:`engine.health.lua.CustomChecks`. A script that does not compile is a problem
naming its file and line, so a start or a reload with it applies nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.config.model import HealthModel
from engine.domain.policy import parse_duration
from engine.health.lua import CustomChecks, Limits, LuaCompileError

CORE_GROUP = "_"  # the folder name Argo CD uses for the core ("") API group
SCRIPT = "health.lua"

#: (key path under ``health``, message, the (file, line) when not that key's) → a problem
AddProblem = Callable[[tuple[str | int, ...], str, tuple[str, int] | None], None]


@dataclass(frozen=True, slots=True)
class ScriptFile:
    """One ``<group>/<kind>/health.lua`` of a checks folder."""

    group: str  # "" for the core group
    kind: str
    path: Path


def scan_checks_dir(directory: Path) -> Iterator[ScriptFile]:
    """Every check script of a folder in Argo CD's layout, in a stable order."""
    for path in sorted(directory.glob(f"*/*/{SCRIPT}")):
        group = path.parent.parent.name
        yield ScriptFile("" if group == CORE_GROUP else group, path.parent.name, path)


def split_key(key: str) -> tuple[str, str]:
    """``"apps/Deployment"`` → ``("apps", "Deployment")``; ``"Pod"``, ``"_/Pod"`` → core."""
    group, _, kind = key.rpartition("/")
    return ("" if group == CORE_GROUP else group), kind


def compile_health(
    model: HealthModel, *, config_file: Path, key_line: Callable[[str], int], add: AddProblem
) -> CustomChecks | None:
    """Compile every check of `model`; None when any of them fails (each one reported).

    ``key_line(key)`` is the config line of an inline check's key; a relative
    ``checks_dir`` is taken from the config file's folder, as a relative ``repo`` is.
    """
    limits = Limits(
        max_instructions=model.max_instructions,
        max_seconds=parse_duration(model.timeout).total_seconds(),
    )
    checks = CustomChecks(limits)
    ok = True
    if model.checks_dir is not None:
        directory = Path(model.checks_dir).expanduser()
        if not directory.is_absolute():
            directory = (config_file.parent / directory).resolve()
        if not directory.is_dir():
            add(("checks_dir",), f"{directory} is not a folder", None)
            return None
        ok = compile_dir(checks, directory, add)
    for key, source in model.checks.items():
        group, kind = split_key(key)
        try:
            checks.add(group, kind, source, name=f"{config_file}:health.checks[{key}]")
        except LuaCompileError as exc:
            # a block scalar's text starts on the line after its key
            line = key_line(key) + (exc.line if "\n" in source.rstrip("\n") else 0)
            add(("checks", key), f"script line {exc.line}: {exc.message}", (str(config_file), line))
            ok = False
    return checks if ok else None


def compile_dir(checks: CustomChecks, directory: Path, add: AddProblem) -> bool:
    """Compile every script of a checks folder into `checks`; False when one fails."""
    ok = True
    for script in scan_checks_dir(directory):
        try:
            source = script.path.read_text(encoding="utf-8")
            checks.add(script.group, script.kind, source, name=str(script.path))
        except (OSError, UnicodeDecodeError) as exc:
            add(("checks_dir",), f"cannot read: {exc}", (str(script.path), 0))
            ok = False
        except LuaCompileError as exc:
            add(("checks_dir",), exc.message, (str(script.path), exc.line))
            ok = False
    return ok
