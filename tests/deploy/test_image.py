"""The Dockerfile, read without Docker: the build context carries every package the
project installs, the image installs it for real (not editable) and runs as non-root."""

from __future__ import annotations

import tomllib

from tests.deploy.settings import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _ignored() -> set[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_the_build_context_carries_every_package_the_project_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    assert "console" in packages
    ignored = _ignored()
    assert [p for p in packages if p in ignored or not (ROOT / p).is_dir()] == []
    assert {"pyproject.toml", "README.md", "environments"}.isdisjoint(ignored)
    assert {".git", ".venv", "tests"} <= ignored


def test_the_image_installs_a_built_package_and_runs_as_a_user_of_its_own() -> None:
    stages = [line for line in DOCKERFILE.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and stages[-1] == "FROM python:3.11-slim"
    assert "pip install ." in DOCKERFILE and "install -e" not in DOCKERFILE
    assert "COPY --from=builder /opt/baton /opt/baton" in DOCKERFILE
    users = [line.split()[1] for line in DOCKERFILE.splitlines() if line.startswith("USER ")]
    assert users == ["10001:10001"]
    assert "--uid 10001" in DOCKERFILE
