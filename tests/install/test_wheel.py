"""`pip install .` gives a complete baton: the wheel, installed in a fresh virtualenv and run
from a folder far from the sources, migrates an empty database, serves, and promotes.

The new virtualenv sees the project's dependencies through a .pth line naming the test
interpreter's site-packages (the tests run offline), never this checkout: `baton`,
`engine` and the SQL files they read must all come from the wheel.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.baton_process import (
    Baton,
    Site,
    free_port,
    kill_leftovers,
    promote_and_see_applied,
)

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]
#: what a wheel is built from; the rest of a checkout (tests, caches, a venv) stays behind
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".baton", "build", "dist", "*.egg-info", "__pycache__", "*_cache",
    ".hypothesis", "tests", "bench", "docs",
)  # fmt: skip


@pytest.fixture(autouse=True)
def no_process_left() -> Iterator[None]:
    """A test that fails half-way leaves no baton running."""
    yield
    kill_leftovers()


def _run(command: list[str], *, env: dict[str, str] | None = None, cwd: Path) -> str:
    done = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def build_wheel(into: Path) -> Path:
    """The wheel of this checkout, built offline with the backend the test extra installs."""
    sources = into / "sources"
    shutil.copytree(ROOT, sources, ignore=_NOT_SOURCES)
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "-w", str(into / "dist"), str(sources)],
        cwd=into,
    )  # fmt: skip
    (wheel,) = (into / "dist").glob("baton-*.whl")
    return wheel


def install(wheel: Path, prefix: Path) -> Path:
    """A fresh virtualenv with the wheel installed; its `bin` folder."""
    venv.create(prefix, with_pip=False, symlinks=True)
    python = prefix / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        cwd=prefix,
    )  # fmt: skip
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   cwd=prefix).strip()  # fmt: skip
    # the dependencies, as this interpreter has them (after the wheel's own files on the path)
    Path(purelib, "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return prefix / "bin"


def _clean_env(bin_dir: Path) -> dict[str, str]:
    """The environment a user's shell would give: no PYTHONPATH, the new venv first."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not k.startswith("BATON_")
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def _install_migrate_serve_promote(tmp: Path, empty_database_url: str) -> None:
    bin_dir = install(build_wheel(tmp / "build"), tmp / "venv")
    away = tmp / "elsewhere"
    away.mkdir()
    env = _clean_env(bin_dir)
    where = _run(
        [str(bin_dir / "python"), "-c",
         "import baton, engine.store.migrate as m; print(baton.__file__); "
         "print(m.default_migrations_dir())"],
        env=env, cwd=away,
    ).split()  # fmt: skip
    for path in where:
        assert Path(path).is_relative_to(tmp / "venv"), where
    assert _run([str(bin_dir / "baton"), "version"], env=env, cwd=away).startswith("client: ")

    _run([str(bin_dir / "baton"), "migrate"], env={**env, "BATON_DATABASE_URL": empty_database_url},
         cwd=away)  # fmt: skip

    site = Site.create(tmp / "site", empty_database_url)
    site.env = {**_clean_env(bin_dir), **{k: v for k, v in site.env.items() if "BATON_" in k}}
    port = free_port()
    baton = Baton.start(
        site, "sh", "-c", f"exec {bin_dir / 'baton'} serve --port {port}", port=port
    )
    try:
        baton.wait_ready()
        promote_and_see_applied(baton.url, site.release)
    finally:
        code = baton.stop(signal.SIGTERM)
    assert code == 0, baton.output()
    assert "Traceback" not in baton.output(), baton.output()


async def test_the_installed_wheel_migrates_serves_and_promotes(
    empty_database_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(_install_migrate_serve_promote, tmp_path, empty_database_url)
