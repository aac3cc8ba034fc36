"""Helpers that build real Git repositories with GitPython for the Git-source tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import git

from engine.domain.pipeline import AppSpec, Credentials, EnvironmentSpec
from engine.domain.policy import Policy


class Upstream:
    """A non-bare repository standing in for an app's remote; tests commit into it."""

    def __init__(self, path: Path, *, branch: str = "main") -> None:
        self.path = path
        self.repo = git.Repo.init(path, initial_branch=branch)
        with self.repo.config_writer() as cfg:
            cfg.set_value("user", "name", "Ada Author")
            cfg.set_value("user", "email", "ada@example.test")
        self.counter = 0

    @property
    def url(self) -> str:
        """What an app's ``repo:`` points at."""
        return str(self.path)

    @property
    def head(self) -> str:
        """The branch head."""
        return self.repo.head.commit.hexsha

    def commit(self, files: dict[str, str | None], message: str | None = None) -> str:
        """Write (or with None delete) ``files`` and commit them; returns the sha."""
        for name, text in files.items():
            target = self.path / name
            if text is None:
                self.repo.index.remove([name], working_tree=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text))
            self.repo.index.add([name])
        self.counter += 1
        return self.repo.index.commit(message or f"change {self.counter}").hexsha

    def reset_hard(self, sha: str) -> None:
        """Move the branch back, as a force-push that drops commits would."""
        self.repo.git.reset("--hard", sha)


def deployment(name: str, image: str = "nginx:1.27") -> str:
    """A small Deployment manifest."""
    return f"""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: {name}
    spec:
      template:
        spec:
          containers:
            - name: app
              image: {image}
    """


def spec(name: str, repo: str, *, credentials: Credentials | None = None) -> AppSpec:
    """An app with manifests under ``deploy/`` and a dev → prod pipeline."""
    envs = tuple(
        EnvironmentSpec(
            name=e, cluster=f"kubesim:{e}", namespace=f"{name}-{e}", upstream=u, policy=Policy()
        )
        for e, u in (("dev", None), ("prod", "dev"))
    )
    return AppSpec(
        name=name,
        repo=repo,
        branch="main",
        path="deploy",
        poll_interval=None,
        credentials=credentials,
        environments=envs,
        source_file="apps.yaml",
    )
