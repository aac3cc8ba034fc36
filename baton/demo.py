"""`baton demo` (`make demo`): the whole story on one machine, with nothing installed.

Where it sits: a client of a baton started in-process (`baton.service.serve.running`) on an
embedded Postgres, a sample Git repository it creates, and three emulated clusters. It
tells the story through the REST API, as a team would live it: a commit becomes a
release and reaches dev by itself; staging follows; prod waits for a second person's
approval; a release that breaks staging is rolled back automatically; a hand edit in
prod is drift, found and undone; and the log explains all of it, rebuilds to the same
state and verifies. Then it keeps serving until Ctrl-C (`--once`: it stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from api.auth import TokenBook
from api.config import ApiConfig
from baton.cli.remote import short
from baton.client import ApiError, Client
from baton.service.serve import Running, ServeOptions, running
from engine.git.sample import SampleRepo, create_sample_repo
from engine.settings import Settings
from engine.store.database import ensure_database, with_database
from engine.telemetry import setup_tracing, tracer
from kubesim import ControllerTiming
from projections.catalog import all_projections
from projections.rebuild import verify

T = TypeVar("T")
console = Console()
APP = "shop"
GOOD, BAD = "1.0.0", "1.1.0"
# visible rollouts: a step every 0.3 s, a stuck one gives up after 4 s
TIMING = ControllerTiming(
    observe=0.1, step=0.3, progress_deadline=4.0, job_duration=0.5, bookmark_interval=1.0
)


class StoryFailed(Exception):
    """A step did not happen in time."""


def _step(number: int, text: str) -> None:
    console.rule(f"[bold cyan]{number}. {text}")


def _ok(text: str) -> None:
    console.print(f"  [green]✔[/] {text}")


async def _until(what: str, check: Callable[[], Awaitable[T | None]], *, within: float = 90.0) -> T:
    """Poll `check` until it returns something; fail naming `what` after `within` s."""
    deadline = time.monotonic() + within
    with console.status(f"  waiting: {what}"):
        while time.monotonic() < deadline:
            result = await check()
            if result is not None and result is not False:
                return result
            await asyncio.sleep(0.3)
    raise StoryFailed(f"timed out after {within:.0f}s waiting for: {what}")


class Story:
    """The demo's steps, through the API as alice (promoter), bob (approver), admin."""

    def __init__(self, state: Running, repo: SampleRepo, tokens: dict[str, str]) -> None:
        assert state.url is not None
        self.state, self.repo = state, repo
        self.alice = Client(state.url, tokens["alice"])
        self.bob = Client(state.url, tokens["bob"])
        self.admin = Client(state.url, tokens["admin"])
        self.releases: dict[str, str] = {}

    async def close(self) -> None:
        for client in (self.alice, self.bob, self.admin):
            await client.close()

    async def env(self, name: str) -> dict[str, Any]:
        app = await self.alice.get(f"/apps/{APP}")
        return next(e for e in app["environments"] if e["environment"] == name)

    async def release_of(self, sha: str) -> dict[str, Any] | None:
        with contextlib.suppress(ApiError):
            found: dict[str, Any] = await self.alice.get(f"/apps/{APP}/releases/{sha}")
            return found
        return None

    async def verified(self, env: str, sha: str) -> dict[str, Any] | None:
        """The environment once it runs `sha`, verified, with nothing in flight."""
        state = await self.env(env)
        done = (
            state["last_verified_release"] == sha
            and state["applied_release"] == sha
            and state["in_flight"] is None
            and state["health"] == "Healthy"
        )
        return state if done else None

    async def commit(self, version: str, greeting: str, message: str) -> str:
        sha = await asyncio.to_thread(self.repo.release, version, greeting, message)
        assert self.state.watcher is not None
        self.state.watcher.request_poll(APP)  # as the Git webhook would
        return sha

    async def first_release(self) -> None:
        _step(1, "A commit becomes a release and reaches dev by itself")
        sha = self.releases[GOOD]
        release = await _until(
            "the watcher to turn the commit into a release", lambda: self.release_of(sha)
        )
        _ok(
            f"commit {sha[:12]} is release #{release['number']} "
            f"(manifests digest {release['digest'][:12]})"
        )
        dev = await _until("dev to run it, healthy, verified", lambda: self.verified("dev", sha))
        _ok(f"dev runs {sha[:12]}: {dev['health']}, {dev['sync_status']} (auto-promoted)")

    async def to_staging(self) -> None:
        _step(2, "Staging follows once dev verified it")
        sha = self.releases[GOOD]
        staging = await _until(
            "staging to soak it for 10s and verify it", lambda: self.verified("staging", sha)
        )
        _ok(f"staging runs {sha[:12]}: {staging['health']} and verified after its soak")

    async def to_prod(self) -> None:
        _step(3, "Prod needs an approval from someone other than the requester")
        sha = self.releases[GOOD]
        body: dict[str, Any] = {
            "app": APP,
            "environment": "prod",
            "from_environment": "staging",
            "reason": "ship 1.0.0",
        }
        try:
            promotion = await self.alice.post("/promotions", body)
        except ApiError as refused:
            if "frozen" not in str(refused):
                raise
            _ok(f"refused: {refused}")
            body["override"] = {"reason": "demo: the freeze window is set aside on purpose"}
            promotion = await self.admin.post("/promotions", body)
            _ok("an admin overrides the freeze, with a reason (recorded as an event)")
        _ok(f"alice asked: promotion {promotion['id']} is {promotion['phase']}")
        try:
            await self.alice.post(f"/promotions/{promotion['id']}/approve", {})
        except ApiError as refused:
            _ok(f"alice cannot approve her own promotion: {refused.problem.get('title')}")
        approved = await self.bob.post(
            f"/promotions/{promotion['id']}/approve", {"comment": "looks good"}
        )
        _ok(f"bob approved: promotion is {approved['phase']}")
        prod = await _until(
            "prod to run it and soak it for 15s", lambda: self.verified("prod", sha)
        )
        _ok(f"prod runs {sha[:12]}: {prod['health']}, verified")

    async def bad_release(self) -> None:
        _step(4, "A release that breaks staging is rolled back automatically")
        assert self.state.sim is not None
        # the image runs in dev but not in staging's cluster (say a missing secret there)
        self.state.sim.cluster("staging").fail_image(f":{BAD}")
        good, sha = self.releases[GOOD], await self.commit(BAD, "Hello again", "shop 1.1.0")
        self.releases[BAD] = sha
        await _until("dev to verify 1.1.0", lambda: self.verified("dev", sha))
        _ok(f"dev runs {sha[:12]} and verified it; staging gets it automatically")

        async def rolled_back() -> dict[str, Any] | None:
            page = await self.alice.get(
                "/events", app=APP, environment="staging", type="ReleaseRolledBack", limit=5
            )
            return page["items"][0] if page["items"] else None

        rollback = await _until("staging to degrade and roll back", rolled_back, within=120)
        failed = await self.alice.get(
            "/events", app=APP, environment="staging", type="PromotionFailed", limit=1
        )
        if failed["items"]:
            _ok(f"staging: {failed['items'][0]['summary']}")
        _ok(f"{rollback['actor']}: {rollback['summary']}")
        await _until("staging to run 1.0.0 again", lambda: self.verified("staging", good))
        _ok(f"staging runs {good[:12]} again; auto-promotion will not bring {sha[:12]} back")

    async def drift(self) -> None:
        _step(5, "A hand edit in prod is drift: found and undone")
        assert self.state.sim is not None
        kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
        command = [
            kubectl,
            "--kubeconfig",
            str(self.state.sim.kubeconfig_path),
            "--context",
            "prod",
            "-n",
            "shop",
            "patch",
            "configmap",
            "shop-config",
            "--type=merge",
            "-p",
            '{"data":{"GREETING":"edited by hand"}}',
        ]
        done = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise StoryFailed(f"kubectl patch failed: {done.stderr.strip()}")
        _ok("someone ran: kubectl -n shop patch configmap shop-config (GREETING)")

        async def corrected() -> dict[str, Any] | None:
            page = await self.alice.get(
                "/events", app=APP, environment="prod", type="DriftCorrected", limit=1
            )
            return page["items"][0] if page["items"] else None

        detected = await _until(
            "the drift check to notice it", lambda: self._action("prod", "DriftDetected")
        )
        _ok(f"detected: {detected['summary']}")
        fixed = await _until("baton to put it back", corrected)
        _ok(f"corrected: {fixed['summary']}")

    async def _action(self, env: str, action: str) -> dict[str, Any] | None:
        page = await self.alice.get("/events", app=APP, environment=env, type=action, limit=1)
        return page["items"][0] if page["items"] else None

    async def explain(self) -> None:
        _step(6, "The log explains everything")
        app = await self.alice.get(f"/apps/{APP}")
        table = Table(title="the pipeline")
        for column in ("environment", "desired", "applied", "health", "sync", "verified"):
            table.add_column(column)
        for e in app["environments"]:
            table.add_row(
                e["environment"],
                short(e["desired_release"]),
                short(e["applied_release"]),
                e["health"],
                e["sync_status"],
                short(e["last_verified_release"]),
            )
        console.print(table)
        lineage = await self.alice.get(f"/apps/{APP}/releases/{self.releases[GOOD]}")
        table = Table(title=f"lineage of release #{lineage['number']} ({self.releases[GOOD][:12]})")
        for column in (
            "environment",
            "requested by",
            "approved by",
            "soak (s)",
            "outcome",
            "rolled back",
        ):
            table.add_column(column)
        for e in lineage["environments"]:
            table.add_row(
                e["environment"],
                e["requested_by"],
                ", ".join(a["by"] for a in e["approvals"]) or "-",
                f"{e['soak_seconds']:.1f}" if e.get("soak_seconds") else "-",
                e.get("outcome") or "-",
                e.get("rolled_back_by") or "-",
            )
        console.print(table)
        page = await self.alice.get("/events", app=APP, limit=25)
        table = Table(title="the audit trail (latest 25)")
        for column in ("pos", "env", "actor", "what", "trace id"):
            table.add_column(column, overflow="fold")
        for e in reversed(page["items"]):
            table.add_row(
                str(e["position"]),
                e.get("environment") or "-",
                e["actor"],
                e["summary"],
                (e.get("trace_id") or "-")[:16],
            )
        console.print(table)

    async def verify(self) -> None:
        _step(7, "Replay rebuilds the same state; the hash chain is intact")
        report = await verify(self.state.database.store.pool, all_projections())
        if not report.ok:
            raise StoryFailed(f"replay --verify found differences: {report.differences}")
        _ok(f"replay --verify: every read model equals a rebuild at position {report.position}")
        chain = await self.alice.get("/audit/verify")
        if not chain["ok"]:
            raise StoryFailed(f"audit verify: broken at {chain['broken_at']}")
        _ok(f"audit verify: {chain['checked']} events, hash chain intact")


async def _database_url() -> str | None:
    """With a server configured, a fresh database for this run; else the embedded one."""
    url = os.environ.get("BATON_DATABASE_URL")
    if not url:
        return None
    name = f"baton_demo_{datetime.now(UTC):%Y%m%d%H%M%S}"
    await ensure_database(url, name)
    return with_database(url, name)


async def story(*, once: bool, home: Path, database_url: str | None) -> None:
    """The story, told by a baton started here on `database_url` (None: an embedded one)."""
    run_home = home / "demo" / f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
    repo = await asyncio.to_thread(create_sample_repo, run_home / "git")
    first = await asyncio.to_thread(repo.release, GOOD, "Welcome to the shop", "shop 1.0.0")
    os.environ["BATON_DEMO_REPO"] = str(repo.remote)
    for name, value in (
        ("BATON_GIT_POLL_INTERVAL", "5s"),
        ("BATON_DRIFT_INTERVAL", "3s"),
        ("BATON_HEALTH_INTERVAL", "0.5s"),
    ):
        os.environ.setdefault(name, value)
    tokens = {who: secrets.token_urlsafe(16) for who in ("alice", "bob", "admin")}
    book = TokenBook()
    book.load_text(
        f"alice:promoter+viewer:{tokens['alice']};"
        f"bob:approver@prod+viewer:{tokens['bob']};admin:admin:{tokens['admin']}"
    )
    settings = replace(
        Settings.from_env(),
        database_url=database_url,
        home=run_home,
        environments_dir=Path(os.environ.get("BATON_ENVIRONMENTS", "environments")),
    )
    port = int(os.environ.get("BATON_API_PORT", "0" if once else "8080"))
    options = ServeOptions(
        port=port, kubesim_timing=TIMING, api=replace(ApiConfig.from_env(), tokens=book)
    )
    console.print(f"[bold]baton demo[/]: home {run_home}")
    async with running(options, settings=settings) as state:
        database = (
            "the Postgres of BATON_DATABASE_URL"
            if settings.database_url
            else ("an embedded Postgres")
        )
        _ok(f"baton serves {state.url}/api/v1, three kubesim clusters, {database}")
        story = Story(state, repo, tokens)
        story.releases[GOOD] = first
        steps = (
            story.first_release,
            story.to_staging,
            story.to_prod,
            story.bad_release,
            story.drift,
            story.explain,
            story.verify,
        )
        try:
            for step in steps:
                # each step is a trace of its own, carried by the API into the events
                with tracer.start_as_current_span(f"demo: {step.__name__}"):
                    await step()
        finally:
            await story.close()
        console.rule("[bold green]the story is complete")
        if once:
            return
        _try_next(state, tokens)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def _try_next(state: Running, tokens: dict[str, str]) -> None:
    console.print(f"""
[bold]Try next[/] (Ctrl-C stops the server):
  console    {state.url}/   sign in with a token:
             alice (promoter) {tokens["alice"]}
             bob (approver in prod) {tokens["bob"]}
             admin {tokens["admin"]}
  API        {state.url}/api/v1/apps/{APP}
  reference  {state.url}/api/docs
  OpenAPI    {state.url}/api/v1/openapi.json
  metrics    {state.url}/api/v1/metrics
  export BATON_URL={state.url} BATON_TOKEN={tokens["alice"]}   # alice, a promoter
  baton status {APP}
  baton history {APP} --env prod
  curl -H "Authorization: Bearer $BATON_TOKEN" {state.url}/api/v1/events?app={APP}
  kubeconfig of the clusters: {state.sim.kubeconfig_path if state.sim else "-"}""")
    if endpoint := os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        console.print(f"  traces went to {endpoint}; Jaeger's UI is usually on :16686")


def tell(*, once: bool) -> None:
    """Tell the story (`baton demo`); exit 1, saying why, when a step does not happen."""
    # absolute: the config resolves relative repository paths from its own folder
    home = Path(os.environ.get("BATON_HOME", ".baton")).resolve()
    # here, not in the story: the process's tracer provider is the command's to install
    setup_tracing()

    async def run() -> None:
        await story(once=once, home=home, database_url=await _database_url())

    try:
        asyncio.run(run())
    except (StoryFailed, ApiError) as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        sys.exit(1)
