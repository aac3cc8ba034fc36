"""The logs of a baton process: one line per record, JSON into a pipe (container logs),
readable text on a terminal, a traceback kept inside its record's line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.console_script import ROOT, on_a_terminal

# a process set up as `baton serve` sets itself up, logging a failure with its traceback
_LOGGING_PROCESS = """
import logging
from engine.telemetry import setup_logging

setup_logging()
log = logging.getLogger("baton.test")
log.info("first line\\nsecond line of the same message")
try:
    raise ValueError("the cluster said no")
except ValueError:
    log.exception("applier stopped with an error")
"""


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return {**base, "PYTHONPATH": str(ROOT), **extra}


def test_into_a_pipe_each_record_is_one_json_line_with_its_traceback_inside() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOGGING_PROCESS],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    info, error = (json.loads(line) for line in lines)
    assert info["message"] == "first line\nsecond line of the same message"
    assert error["level"] == "error" and error["message"] == "applier stopped with an error"
    assert error["error"].startswith("Traceback (most recent call last):")
    assert "ValueError: the cluster said no" in error["error"]


def test_on_a_terminal_each_record_is_one_readable_line() -> None:
    code, output = on_a_terminal([sys.executable, "-c", _LOGGING_PROCESS], _env(), stderr_only=True)
    assert code == 0, output
    lines = output.splitlines()
    assert len(lines) == 2, lines
    assert "INFO" in lines[0]
    assert "baton.test: first line second line of the same message" in lines[0]
    assert "ERROR" in lines[1] and "applier stopped with an error" in lines[1]
    assert "ValueError: the cluster said no (at <string>:" in lines[1]
    assert not lines[1].lstrip().startswith("{")
