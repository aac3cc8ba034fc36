"""`baton --help` lists every command without loading what the commands drive."""

from __future__ import annotations

import subprocess
import sys

from tests.console_script import ROOT, run_baton

# a process that lists the commands as `baton --help` does, then names the heavy
# modules it loaded
_LIST_COMMANDS = """
import sys
from baton.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = ("aiohttp", "asyncpg", "kubernetes_asyncio", "rich", "engine.store", "api.app")
print("loaded:", " ".join(name for name in heavy if name in sys.modules))
"""


def test_the_help_lists_every_command_without_loading_the_server() -> None:
    listed = subprocess.run(
        [sys.executable, "-c", _LIST_COMMANDS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[-1].strip() == "loaded:", listed.stdout
    for command in ("serve", "promote", "replay", "migrate", "health", "demo", "kubesim"):
        assert f"  {command} " in listed.stdout, command


def test_an_unknown_command_is_a_usage_error() -> None:
    result = run_baton("deploy")
    assert result.returncode == 2, result.stderr
    assert "deploy" in result.stderr and "Traceback" not in result.stderr
