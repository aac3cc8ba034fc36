"""A real `baton` process for the service tests: the console script, started as the README
shows, on this test's database, a sample Git repository and emulated clusters."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.git.sample import SampleRepo, create_sample_repo

TOKENS = {"alice": "alice-token-123456", "bob": "bob-token-123456"}
CONFIG = """\
apps:
{apps}"""
APP = """\
  - name: {name}
    repo: {repo}
    branch: main
    path: deploy
    pipeline:
      - name: dev
        cluster: kubesim:dev
        policy: {{auto_promote: true}}
      - name: staging
        cluster: kubesim:staging
      - name: prod
        cluster: kubesim:prod
        policy: {{approvals: 1}}
"""
BATON = str(Path(sys.executable).with_name("baton"))
#: every process started, so that a test that fails half-way leaves none running
_STARTED: list[subprocess.Popen[str]] = []


def kill_leftovers() -> None:
    """Kill the process group of every started baton still running."""
    for process in _STARTED:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    _STARTED.clear()


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Site:
    """What a baton process needs around it: a database, a Git repo, a config, tokens."""

    root: Path
    database_url: str
    release: str = ""
    env: dict[str, str] = field(default_factory=dict)

    apps: list[str] = field(default_factory=lambda: ["shop"])
    releases: list[str] = field(default_factory=list)

    repo: SampleRepo | None = None

    @classmethod
    def create(cls, root: Path, database_url: str, *, apps: int = 1) -> Site:
        """A sample repository with a release, and the environment of a baton using it: one
        app `shop`, or apps `shop0`... from the same repository."""
        names = ["shop"] if apps == 1 else [f"shop{n}" for n in range(apps)]
        site = cls(root=root, database_url=database_url, apps=names)
        site.repo = create_sample_repo(root / "git")
        site.add_release()
        repo = site.repo
        environments = root / "environments"
        environments.mkdir()
        config = "".join(APP.format(name=name, repo=repo.remote) for name in names)
        (environments / "shop.yaml").write_text(CONFIG.format(apps=config))
        site.env = {
            **os.environ,
            "BATON_DATABASE_URL": database_url,
            "BATON_HOME": str(root / "home"),
            "BATON_ENVIRONMENTS": str(environments),
            "BATON_TOKENS": f"alice:promoter+viewer:{TOKENS['alice']};"
            f"bob:approver+viewer:{TOKENS['bob']}",
            "BATON_DRIFT_INTERVAL": "5s",
            "BATON_HEALTH_INTERVAL": "0.2s",
            "BATON_GIT_POLL_INTERVAL": "1s",
        }
        return site

    def add_release(self) -> str:
        """Commit a new version of the manifests; its SHA."""
        assert self.repo is not None
        n = len(self.releases)
        self.release = self.repo.release(f"1.0.{n}", f"hello {n}", f"shop 1.0.{n}")
        self.releases.append(self.release)
        return self.release


@dataclass
class Baton:
    """One started process and its output."""

    process: subprocess.Popen[str]
    url: str
    log: Path

    @classmethod
    def start(
        cls, site: Site, *args: str, port: int | None = None, env: dict[str, str] | None = None
    ) -> Baton:
        """`baton serve --port P ARGS` (or, with `args` starting with "sh", that command)."""
        port = port or free_port()
        log = site.root / f"baton-{port}-{time.monotonic_ns()}.log"
        command = (
            list(args) if args and args[0] == "sh" else [BATON, "serve", "--port", str(port), *args]
        )
        process = subprocess.Popen(
            command,
            env={**site.env, **(env or {})},
            cwd=site.root,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        _STARTED.append(process)
        return cls(process=process, url=f"http://127.0.0.1:{port}/api/v1", log=log)

    def output(self) -> str:
        """What the process printed so far."""
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> dict[str, Any]:
        """Poll /readyz until it answers 200; fail with the process's output otherwise."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"baton exited {self.process.returncode}:\n{self.output()}")
            status, body = call(self.url, "GET", "/readyz")
            if status == 200:
                return body
            last = (status, body)
            time.sleep(0.2)
        raise AssertionError(f"baton never became ready ({last}):\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send `sig` to the process group; return its exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
            raise AssertionError(
                f"baton did not stop within {timeout}s:\n{self.output()}"
            ) from None


def call(
    base: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    token: str | None = TOKENS["alice"],
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    """One HTTP request; (status, JSON body or None). Connection errors give status 0."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, raw.decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, None


def environment(base: str, name: str, app: str = "shop") -> dict[str, Any]:
    """An app's environment `name` as the API shows it."""
    status, pipeline = call(base, "GET", f"/apps/{app}")
    assert status == 200, pipeline
    found: dict[str, Any] = next(e for e in pipeline["environments"] if e["environment"] == name)
    return found


def wait_for(what: str, check: Any, timeout: float = 60, interval: float = 0.2) -> Any:
    """Poll `check()` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (AssertionError, KeyError, StopIteration) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not reached within {timeout}s (last: {last!r})")


def promote_and_see_applied(
    base: str, release: str, environment_name: str = "staging", app: str = "shop"
) -> None:
    """Once dev verified the release (by itself), promote it on; wait until it is applied."""
    wait_for(
        "dev verified", lambda: environment(base, "dev", app)["last_verified_release"] == release
    )
    status, body = call(
        base,
        "POST",
        "/promotions",
        {"app": app, "environment": environment_name, "release": release},
    )
    assert status == 202, body
    wait_for(
        f"{environment_name} applied",
        lambda: environment(base, environment_name, app)["applied_release"] == release,
    )
