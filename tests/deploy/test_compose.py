"""docker-compose.yml, read without Docker: every setting has a default or a word in the
README, everything it builds or runs exists, and baton gets only variables it reads.

`docker compose config` resolves the file when the Compose plugin is installed; otherwise
PyYAML reads it and the defaults are applied here.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.settings import ROOT, unknown_names

COMPOSE = ROOT / "docker-compose.yml"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}; `$$` is a literal dollar
_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def _has_compose() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    done = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    return done.returncode == 0


def resolved() -> dict[str, Any]:
    """The file with its variables expanded (from their defaults: nothing is set here)."""
    if _has_compose():
        done = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE), "config", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={"PATH": "/usr/bin:/bin:/usr/local/bin"},
        )
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def default(match: re.Match[str]) -> str:
        return match.group(3) or ""

    text = _VARIABLE.sub(default, COMPOSE.read_text()).replace("$$", "$")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_every_variable_has_a_default_or_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    header = "".join(line for line in COMPOSE.read_text().splitlines() if line.startswith("#"))
    undefaulted = [
        match.group(1)
        for match in _VARIABLE.finditer(COMPOSE.read_text())
        if match.group(2) not in (":-", "-")
        and match.group(1) not in readme
        and match.group(1) not in header
    ]
    assert undefaulted == []


def test_what_each_service_builds_or_runs_exists() -> None:
    services = resolved()["services"]
    for name, service in services.items():
        if "build" in service:
            build = service["build"]
            context = ROOT / (build if isinstance(build, str) else build["context"])
            assert (context / "Dockerfile").is_file(), name
        else:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on {needed}, not a service"


def test_baton_gets_only_variables_it_reads_and_a_repository_it_can_watch() -> None:
    baton = resolved()["services"]["baton"]
    environment = baton["environment"]
    assert unknown_names(list(environment)) == []
    # the sample environments config watches BATON_DEMO_REPO: by default the sample
    # repository the container creates at its first start, in baton's own volume
    assert "${BATON_DEMO_REPO" in (ROOT / "environments" / "shop.yaml").read_text()
    repo = environment["BATON_DEMO_REPO"]
    command = " ".join(baton["command"]) if isinstance(baton["command"], list) else ""
    assert f"engine.git.sample {repo.removesuffix('/shop.git')}" in command
    home = environment.get("BATON_HOME", "/var/lib/baton")  # the image's
    mounts = [v["target"] if isinstance(v, dict) else v.split(":")[1] for v in baton["volumes"]]
    assert home in mounts and repo.startswith(f"{home}/")


def test_the_modules_baton_runs_before_serving_exist() -> None:
    command = resolved()["services"]["baton"]["command"]
    words = shlex.split(command[-1] if isinstance(command, list) else command)
    modules = [words[i + 1] for i, word in enumerate(words) if word == "-m"]
    assert modules == ["engine.kube.aliases", "engine.git.sample"]
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module


def test_the_sample_repository_is_created_once_with_a_first_release(tmp_path: Path) -> None:
    def create() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "engine.git.sample", str(tmp_path / "demo")],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            cwd=ROOT,
        )
        return done.stdout

    assert "release 1.0.0" in create()
    assert "there already" in create()  # a restart keeps the repository and its history
    log = subprocess.run(
        ["git", "-C", str(tmp_path / "demo" / "shop.git"), "log", "--format=%s", "main"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert log.stdout.splitlines() == ["shop 1.0.0"]
