"""The `baton` console script as a user runs it: a process, its exit code, its stderr.

The script installed beside the interpreter runs this checkout's code (PYTHONPATH), with
no BATON_* setting of the outer environment but those a test gives, and no terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATON = Path(sys.executable).with_name("baton")


def run_baton(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `baton ARGS` to its end, stdout and stderr captured (pipes, not a terminal),
    `stdin` (if any) on its standard input."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    base.pop("COLUMNS", None)
    return subprocess.run(
        [str(BATON), *args],
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_failure(
    result: subprocess.CompletedProcess[str], code: int, *names: str
) -> str:
    """The run failed with `code` and said so in one line naming every one of `names`."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def on_a_terminal(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin: str | None = None,
    stderr_only: bool = False,
) -> tuple[int, str]:
    """Run `command` with a pseudo-terminal as its stdout and stderr (`stderr_only`: its
    stderr alone; stdout goes nowhere): its exit code and all it wrote to the terminal."""
    import pty

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        list(command),
        env={**env, "TERM": "xterm-256color"},
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL if stderr_only else terminal,
        stderr=terminal,
    )
    os.close(terminal)
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin.encode())
        process.stdin.close()
    screen = b""
    try:
        # read while it writes: a terminal holds only a few kilobytes unread
        while chunk := os.read(controller, 65536):
            screen += chunk
    except OSError:  # the terminal's other end is closed: all is read
        pass
    finally:
        os.close(controller)
    return process.wait(timeout=60), screen.decode(errors="replace")
