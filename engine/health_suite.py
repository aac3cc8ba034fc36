"""Argo CD's ``health_test.yaml`` files, run against the ``health.lua`` beside each.

Where it sits: behind ``baton health test DIR`` (``baton.cli.health``). A team's
``resource_customizations`` folder holds, per ``<group>/<kind>/``, a ``health.lua`` and a
``health_test.yaml`` (``tests: [{healthStatus: {status, message}, inputPath}]``, inputs
under ``testdata/``). Each case runs the script on its input through the same sandbox the
engine uses and passes when status and message are those expected, as Argo CD's own test
compares them (a missing ``message`` expects none).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.health.lua import CustomChecks, LuaCompileError
from engine.render.yamldocs import load_all

TEST_FILE = "health_test.yaml"
SCRIPT = "health.lua"


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case of one ``health_test.yaml``: what was expected, what the script said."""

    script: Path
    input_path: str
    expected: tuple[str, str]
    got: tuple[str, str]

    @property
    def passed(self) -> bool:
        """True when status and message are those expected."""
        return self.expected == self.got


def find_test_files(directory: Path) -> list[Path]:
    """Every ``health_test.yaml`` under `directory`, in a stable order."""
    return sorted(directory.rglob(TEST_FILE))


def run_test_file(test_file: Path, checks: CustomChecks) -> Iterator[CaseResult]:
    """Run every case of one ``health_test.yaml`` against the ``health.lua`` beside it."""
    script = test_file.parent / SCRIPT
    cases = _cases(test_file)
    if isinstance(cases, str):
        yield CaseResult(script, TEST_FILE, ("a list of tests", ""), ("Error", cases))
        return
    try:
        check = checks.compile(script.read_text(encoding="utf-8"), name=str(script))
        problem = None
    except (OSError, UnicodeDecodeError, LuaCompileError) as exc:
        check, problem = None, str(exc)
    for case in cases:
        health = case.get("healthStatus") if isinstance(case, dict) else None
        health = health if isinstance(health, dict) else {}
        expected = (str(health.get("status", "")), str(health.get("message", "")))
        input_path = str(case.get("inputPath", "")) if isinstance(case, dict) else ""
        if check is None:
            yield CaseResult(script, input_path, expected, ("Error", str(problem)))
            continue
        obj = _input(test_file.parent / input_path)
        if isinstance(obj, str):
            yield CaseResult(script, input_path, expected, ("Error", obj))
            continue
        got = checks.run(check, obj)
        yield CaseResult(script, input_path, expected, (str(got.status), got.message))


def _cases(test_file: Path) -> list[Any] | str:
    """The `tests` list of a test file, or why it cannot be read."""
    try:
        data = yaml.safe_load(test_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return f"cannot read {test_file}: {exc}"
    tests = data.get("tests") if isinstance(data, dict) else None
    if not isinstance(tests, list):
        return f"{test_file}: no `tests:` list"
    return tests


def _input(path: Path) -> dict[str, Any] | str:
    """The object of a case's input file, or why it cannot be read."""
    try:
        documents = load_all(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return f"cannot read input {path}: {exc}"
    obj = documents[0] if documents else None
    return obj if isinstance(obj, dict) else f"input {path} is not an object"
