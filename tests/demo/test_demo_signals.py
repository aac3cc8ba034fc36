"""`baton demo` as `make demo` runs it: a real process on the embedded Postgres of its
BATON_HOME (BATON_DATABASE_URL unset), stopped by a real SIGTERM in the middle of the
story; then the commands that read the database directly read the demo's log, and a
second run works on what the first left.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
#: a step well inside the story: dev runs the first release, staging is on its way
MID_STORY = "2. Staging follows once dev verified it"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder to run the demo in, outside pytest's own: run as root, the embedded server
    runs as a user of its own, and pytest makes its folders private to root again."""
    with tempfile.TemporaryDirectory(prefix="baton-demo-") as path:
        yield Path(path)


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATON_")
        and k not in ("XDG_RUNTIME_DIR", "OTEL_EXPORTER_OTLP_ENDPOINT")
    }
    env.update(
        BATON_HOME=str(home),
        BATON_ENVIRONMENTS=str(ROOT / "environments"),
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
    )
    return env


def _postgres_of(data: Path) -> list[psutil.Process]:
    """The live postgres processes whose data folder is `data` (zombies are gone already)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if (
            process.info["name"] == "postgres"
            and str(data) in cmdline
            and process.info["status"] != psutil.STATUS_ZOMBIE
        ):
            found.append(process)
    return found


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def _interrupted_demo(
    cwd: Path, home: Path, *args: str, at: str = MID_STORY
) -> tuple[int, str, str, float]:
    """Run `baton demo ARGS` until it says `at`, SIGTERM it; exit code, stdout, stderr and
    the seconds it took to stop."""
    out, err = cwd / "demo.out", cwd / "demo.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        demo = subprocess.Popen(
            [sys.executable, "-m", "baton", "demo", *args],
            cwd=cwd,
            env={**_env(home), "BATON_API_PORT": "0"},
            stdout=stdout,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 150
            while at not in out.read_text() and time.monotonic() < deadline:
                assert demo.poll() is None, f"the demo ended early: {err.read_text()}"
                time.sleep(0.2)
            assert at in out.read_text(), f"the demo did not say {at!r} in 150s"
            demo.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            code = demo.wait(timeout=30)
            took = time.monotonic() - sent
        finally:
            if demo.poll() is None:
                demo.kill()
    return code, out.read_text(), err.read_text(), took


def _baton(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        cwd=cwd,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sigterm_mid_story_stops_everything_and_the_log_stays_readable(folder: Path) -> None:
    home = folder / ".baton"
    data = home / "postgres"

    code, out, err, took = _interrupted_demo(folder, home, "--once")
    assert code == 143, out + err
    assert took < 20, f"the demo took {took:.1f}s to stop"
    # quiet: no traceback, no XDG_RUNTIME_DIR or other warning; nothing on stderr at all
    assert err == ""
    assert "Traceback" not in out and "XDG_RUNTIME_DIR" not in out
    assert not _postgres_of(data), "the embedded Postgres outlived the demo"
    # every person of the story, with their roles and token, and where the console is
    assert re.search(r"console\s+http://127\.0\.0\.1:\d+/\s+sign in with a token", out)
    for who, roles in (
        ("alice", "promoter, approver:prod"),
        ("bob", "approver:prod"),
        ("admin", "admin"),
    ):
        assert re.search(rf"^\s+{who}\s+{re.escape(roles)}\s+[A-Za-z0-9_-]{{22}}$", out, re.M), out

    # the commands that read the database directly find the demo's, BATON_DATABASE_URL unset
    verified = _baton(folder, home, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    chain = re.search(r"hash chain intact: (\d+) events, head at position (\d+)", verified.stdout)
    assert chain and int(chain[1]) > 0 and int(chain[2]) > 0, verified.stdout
    replayed = _baton(folder, home, "replay", "--verify")
    assert replayed.returncode == 0, replayed.stderr
    assert re.search(rf"equal a rebuild at position {chain[2]}\b", replayed.stdout)
    assert verified.stderr == replayed.stderr == ""  # no XDG_RUNTIME_DIR warning either
    assert not _postgres_of(data)
    first = _size(home)

    # a second run reuses the folder: the same Postgres, its database emptied, a new story
    # told whole; stopped while it serves, the demo has done its job: exit 0
    code, out, err, took = _interrupted_demo(folder, home, at="Try next")
    assert code == 0 and err == "", out + err
    assert took < 20, f"the demo took {took:.1f}s to stop"
    assert "is release #1 " in out  # a fresh log: the first release is #1 again
    assert not _postgres_of(data)
    assert sorted(p.name for p in home.iterdir()) == ["demo", "postgres"]
    assert _size(home) < 1.5 * first, f"{first} bytes after one run, {_size(home)} after two"
    told = re.search(r"audit verify: (\d+) events, hash chain intact", out)
    verified = _baton(folder, home, "audit", "verify")
    assert told and f"hash chain intact: {told[1]} events" in verified.stdout, verified.stdout


def test_given_tokens_without_a_person_of_the_story_fail_before_anything_starts(
    folder: Path,
) -> None:
    home = folder / ".baton"
    env = {**_env(home), "BATON_TOKENS": "alice:promoter+approver@prod:alice-secret-1"}
    done = subprocess.run(
        [sys.executable, "-m", "baton", "demo", "--once"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "needs: a token of bob, a token of admin; add them" in done.stderr
    assert not home.exists()  # nothing started: no Postgres, no repository
