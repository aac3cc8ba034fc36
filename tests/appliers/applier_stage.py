"""Helpers for the applier tests: kubesim clusters (or a real one), a Git repo, a stage.

With BATON_TEST_KUBECONFIG set, every environment of these tests goes to that
kubeconfig's current context instead of kubesim (each test uses namespaces of its own);
tests that need kubesim-only features (fault injection, failing images) are skipped.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import git
import pytest

from engine.appliers.context import ApplierSettings
from engine.appliers.inprocess import running_appliers
from engine.appliers.service import AppliersService
from engine.config.loader import EnvironmentsConfig
from engine.domain.ids import target_stream
from engine.domain.pipeline import AppSpec
from engine.domain.target import Target
from engine.git.watcher import GitWatcher
from engine.health import CustomChecks
from engine.kube import RetryPolicy
from engine.releases import ReleaseRecorder
from engine.repository import Repository
from engine.store import EventStore, RecordedEvent
from kubesim import SimHandle

REAL_KUBECONFIG = os.environ.get("BATON_TEST_KUBECONFIG")
ENVIRONMENTS = ("dev", "staging", "prod")
kubesim_only = pytest.mark.skipif(
    bool(REAL_KUBECONFIG),
    reason="needs kubesim-only features (fault injection or failing images); "
    "BATON_TEST_KUBECONFIG points at a real cluster",
)
FAST = ApplierSettings(
    drift_interval=0.5, health_interval=0.05, lock_interval=0.2, cluster_backoff=0.3
)
TEST_RETRY = RetryPolicy(attempts=8, base=0.02, cap=0.2, timeout=5.0, retry_after_cap=0.2)


def web(image: str = "web:1", replicas: int = 2) -> str:
    """The app's Deployment."""
    return textwrap.dedent(
        f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: {replicas}
          progressDeadlineSeconds: 5
          selector:
            matchLabels: {{app: web}}
          template:
            metadata:
              labels: {{app: web}}
            spec:
              containers:
                - name: web
                  image: {image}
        """
    )


def config_map(name: str = "settings", value: str = "1") -> str:
    """A ConfigMap."""
    return textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {name}
        data:
          value: "{value}"
        """
    )


class Upstream:
    """A repository standing in for the app's remote; tests commit into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = git.Repo.init(path, initial_branch="main")
        with self.repo.config_writer() as cfg:
            cfg.set_value("user", "name", "Ada Author")
            cfg.set_value("user", "email", "ada@example.test")

    @property
    def url(self) -> str:
        return str(self.path)

    def commit(self, files: dict[str, str | None], message: str | None = None) -> str:
        """Write (None: delete) `files` and commit them; returns the sha."""
        for name, text in files.items():
            if text is None:
                self.repo.index.remove([name], working_tree=True)
                continue
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
            (self.path / name).write_text(text)
            self.repo.index.add([name])
        return self.repo.index.commit(message or "change").hexsha


class Stage:
    """An app in a Git repo, its releases, and the appliers running against clusters."""

    def __init__(self, *, tmp_path: Path, store: EventStore, sim: SimHandle | None) -> None:
        self.store = store
        self.sim = sim
        self.repository = Repository(store)
        self.upstream = Upstream(tmp_path / "repo")
        self.home = tmp_path / "home"
        suffix = uuid.uuid4().hex[:6] if REAL_KUBECONFIG else ""
        self.name = f"web{suffix}"
        self.kubeconfig = REAL_KUBECONFIG or str(sim.kubeconfig_path if sim else "")
        self.contexts = {f"kubesim:{e}": "" for e in ENVIRONMENTS} if REAL_KUBECONFIG else {}
        self.spec: AppSpec | None = None
        self.health: CustomChecks | None = None  # the user's health checks, if any
        self._watcher: GitWatcher | None = None

    def app(
        self, policies: dict[str, dict[str, Any]], *, cluster: dict[str, str] | None = None
    ) -> AppSpec:
        """The app with one environment per entry of `policies`, in order."""
        environments = [
            {"name": env, "cluster": (cluster or {}).get(env, f"kubesim:{env}"), "policy": policy}
            for env, policy in policies.items()
        ]
        record = {"repo": self.upstream.url, "path": "deploy", "poll_interval": "60s"}
        self.spec = AppSpec.from_record(
            self.name, {**record, "environments": environments}, source_file="apps.yaml"
        )
        return self.spec

    @property
    def config(self) -> EnvironmentsConfig:
        assert self.spec is not None
        return EnvironmentsConfig(apps=(self.spec,), health=self.health)

    async def release(self, files: dict[str, str | None], message: str = "") -> str:
        """Commit `files` under deploy/ and let the watcher turn the commit into a release."""
        assert self.spec is not None
        sha = self.upstream.commit({f"deploy/{k}": v for k, v in files.items()}, message or None)
        if self._watcher is None:
            self._watcher = GitWatcher(
                apps=(self.spec,),
                home=self.home,
                recorder=ReleaseRecorder(self.repository),
                interval=timedelta(seconds=60),
            )
        result = await self._watcher.poll(self.spec.name)
        assert result.ok, result.reason
        return sha

    def appliers(
        self, settings: ApplierSettings = FAST, **kw: Any
    ) -> AbstractAsyncContextManager[AppliersService]:
        """The appliers running in this process against the stage's clusters."""
        return running_appliers(
            store=self.store,
            config=self.config,
            kubeconfig=self.kubeconfig,
            contexts=self.contexts,
            home=self.home,
            settings=settings,
            **{"retry": TEST_RETRY, **kw},
        )

    async def target(self, env: str) -> Target:
        return await self.repository.get(Target, target_stream(self.name, env))

    async def events(self, env: str) -> list[RecordedEvent]:
        return await self.store.read_stream(target_stream(self.name, env))

    async def types(self, env: str) -> list[str]:
        return [e.type.removeprefix("Target.") for e in await self.events(env)]

    async def until(
        self, check: Callable[[], Awaitable[bool]], *, within: float = 20.0, what: str = ""
    ) -> None:
        """Poll `check` until it is true; fail naming `what` after `within` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while not await check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what or check}")
            await asyncio.sleep(0.05)

    async def until_verified(self, env: str, release: str, *, within: float = 20.0) -> Target:
        async def verified() -> bool:
            try:
                target = await self.target(env)
            except LookupError:
                return False
            return target.has_verified(release) and target.desired_release == release

        await self.until(verified, within=within, what=f"{release[:8]} verified in {env}")
        return await self.target(env)
