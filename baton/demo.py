"""`baton demo` (`make demo`): the whole story on one machine, with nothing installed.

Where it sits: a client of a baton started in-process (`baton.service.serve.running`) on an
embedded Postgres, a sample Git repository it creates, and three emulated clusters. It
tells the story through the REST API, as a team would live it: a commit becomes a
release and reaches dev by itself; staging follows; prod waits for a second person's
approval, and the four-eyes rule refuses the requester's own; a release that breaks
staging is rolled back automatically; a hand edit in prod is drift, found and undone;
and the log explains all of it, rebuilds to the same state and verifies. Then it keeps
serving until Ctrl-C or SIGTERM (`--once`: it stops).

Its data lives in BATON_HOME (`.baton`), reused by every run: the embedded Postgres under
`postgres/` (the one `serve`, `migrate`, `audit verify` and `replay` reach by default),
whose `baton` database each run empties, and the sample repository, clones and clusters'
kubeconfig under `demo/`, made anew each run. With BATON_DATABASE_URL set, the story
runs in a database `baton_demo` of that server instead, emptied each run.

Ctrl-C or SIGTERM stops it at any moment, the server, clusters and embedded Postgres
with it: exit 0 once the story is told (serving), 130 (SIGINT) or 143 (SIGTERM) when
the story did not finish.
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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.auth import Role, TokenBook, TokenConfigError
from api.config import ApiConfig
from api.errors import TYPE_PREFIX
from baton.cli.errors import ExitCode, Failure
from baton.cli.remote import short
from baton.client import ApiError, Client
from baton.service.serve import Running, ServeOptions, running
from engine.domain.errors import SelfApproval
from engine.git.sample import SampleRepo, create_sample_repo
from engine.settings import Settings
from engine.store.database import (
    DEFAULT_DATABASE,
    describe_url,
    recreate_database,
    start_embedded,
    stop_embedded,
    with_database,
)
from engine.telemetry import setup_logging, setup_tracing, tracer
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


#: the database the story runs in on a configured server (the embedded one's is `baton`)
DEMO_DATABASE = "baton_demo"
#: what the story needs of each person: (role, environment, the need in words)
NEEDS: dict[str, tuple[tuple[Role, str | None, str], ...]] = {
    # alice leads the team: she may approve prod promotions, only not her own
    "alice": (
        (Role.PROMOTER, "prod", "promoter in prod"),
        (Role.APPROVER, "prod", "approver in prod"),
    ),
    "bob": ((Role.APPROVER, "prod", "approver in prod"),),
    "admin": ((Role.ADMIN, None, "admin"),),
}
#: the grants of the tokens the demo makes, in BATON_TOKENS's format
GRANTS = {"alice": "promoter+approver@prod", "bob": "approver@prod", "admin": "admin"}


class StoryFailed(Exception):
    """A step did not happen in time."""


class CannotTell(Exception):
    """The story cannot start: its tokens or its database are not usable."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.line)
        self.failure = failure


@dataclass(frozen=True)
class Person:
    """Someone of the story: who, the token they sign in with, their roles as granted."""

    subject: str
    token: str
    roles: tuple[str, ...]


def people(env: Mapping[str, str] | None = None) -> tuple[TokenBook, dict[str, Person]]:
    """The story's people and the token book the server checks them by: the tokens of
    BATON_TOKENS/BATON_TOKENS_FILE when either is set, else tokens made for this run.

    Raises `CannotTell` naming what the given tokens lack (a person, or a role of one).
    """
    env = os.environ if env is None else env
    if env.get("BATON_TOKENS") or env.get("BATON_TOKENS_FILE"):
        try:
            book = TokenBook.from_env(env, keep_raw=True)
        except TokenConfigError as exc:
            failure = Failure(str(exc), "fix BATON_TOKENS_FILE or BATON_TOKENS", ExitCode.USAGE)
            raise CannotTell(failure) from None
        given = book.raw or []
    else:
        given = [(who, secrets.token_urlsafe(16)) for who in NEEDS]
        book = TokenBook()
        book.load_text(";".join(f"{who}:{GRANTS[who]}:{token}" for who, token in given))
    found: dict[str, Person] = {}
    missing: list[str] = []
    for who, needs in NEEDS.items():
        best: tuple[Person, list[str]] | None = None
        for subject, token in given:
            principal = book.authenticate(token)
            if subject != who or principal is None or principal.subject != who:
                continue
            lacking = [words for role, where, words in needs if not principal.allows(role, where)]
            if best is None or len(lacking) < len(best[1]):
                best = (Person(who, token, tuple(principal.roles)), lacking)
        if best is None:
            missing.append(f"a token of {who}")
        elif best[1]:
            missing.append(f"{who} as {' and '.join(best[1])}")
        else:
            found[who] = best[0]
    if missing:
        failure = Failure(
            f"the tokens of BATON_TOKENS/BATON_TOKENS_FILE lack what the demo's story needs: "
            f"{', '.join(missing)}",
            "add them, or unset both for tokens made by the demo",
            ExitCode.USAGE,
        )
        raise CannotTell(failure)
    return book, found


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
    """The demo's steps, through the API as alice (promoter, approver in prod), bob
    (approver in prod) and admin."""

    def __init__(self, state: Running, repo: SampleRepo, cast: dict[str, Person]) -> None:
        assert state.url is not None
        self.state, self.repo = state, repo
        self.alice = Client(state.url, cast["alice"].token)
        self.bob = Client(state.url, cast["bob"].token)
        self.admin = Client(state.url, cast["admin"].token)
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
        asker, requester = "alice", self.alice
        try:
            promotion = await self.alice.post("/promotions", body)
        except ApiError as refused:
            if "frozen" not in str(refused):
                raise
            _ok(f"refused: {escape(str(refused))}")
            body["override"] = {"reason": "demo: the freeze window is set aside on purpose"}
            asker, requester = "admin", self.admin
            promotion = await self.admin.post("/promotions", body)
            _ok("an admin overrides the freeze, with a reason (recorded as an event)")
        _ok(f"{asker} asked: promotion {promotion['id']} is {promotion['phase']}")
        try:
            # the requester holds the approver role in prod: only the four-eyes rule stops it
            await requester.post(f"/promotions/{promotion['id']}/approve", {})
        except ApiError as refused:
            if refused.problem.get("type") != TYPE_PREFIX + SelfApproval.code:
                raise
            _ok(f"four eyes: {asker} tries to approve it too, refused: {refused.problem['detail']}")
        else:
            raise StoryFailed(f"{asker}'s approval of their own promotion was accepted")
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


async def _database_url(settings: Settings) -> str:
    """An empty database for this run: `baton` of the embedded server of BATON_HOME (the
    one `serve` and `audit verify` use), or `baton_demo` of BATON_DATABASE_URL's server."""
    if settings.database_url:
        admin, name = settings.database_url, DEMO_DATABASE
    else:
        admin, name = await asyncio.to_thread(start_embedded, settings.home), DEFAULT_DATABASE
    try:
        await recreate_database(admin, name)
    except asyncpg.ObjectInUseError:
        failure = Failure(
            f"the demo's database {describe_url(with_database(admin, name))} is in use",
            "stop the baton that uses it (a `baton serve` in this folder?) and run the demo again",
            ExitCode.REFUSED,
        )
        raise CannotTell(failure) from None
    return with_database(admin, name)


async def story(
    *,
    once: bool,
    home: Path,
    database_url: str,
    cast: tuple[TokenBook, dict[str, Person]] | None = None,
    told: asyncio.Event | None = None,
) -> None:
    """The story, told by a baton started here on `database_url`, its files in `home`
    (emptied first), by `cast` (default: `people()`); `told` is set once it is complete."""
    book, cast_ = cast or people()
    await asyncio.to_thread(shutil.rmtree, home, ignore_errors=True)
    repo = await asyncio.to_thread(create_sample_repo, home)
    first = await asyncio.to_thread(repo.release, GOOD, "Welcome to the shop", "shop 1.0.0")
    os.environ["BATON_DEMO_REPO"] = str(repo.remote)
    for name, value in (
        ("BATON_GIT_POLL_INTERVAL", "5s"),
        ("BATON_DRIFT_INTERVAL", "3s"),
        ("BATON_HEALTH_INTERVAL", "0.5s"),
    ):
        os.environ.setdefault(name, value)
    settings = replace(
        Settings.from_env(),
        database_url=database_url,
        home=home,
        environments_dir=Path(os.environ.get("BATON_ENVIRONMENTS", "environments")),
    )
    port = int(os.environ.get("BATON_API_PORT", "0" if once else "8080"))
    options = ServeOptions(
        port=port, kubesim_timing=TIMING, api=replace(ApiConfig.from_env(), tokens=book)
    )
    console.print(f"[bold]baton demo[/]: files in {home}, database {describe_url(database_url)}")
    async with running(options, settings=settings) as state:
        _ok(f"baton serves {state.url}/api/v1, three kubesim clusters")
        _people(state, cast_)
        story = Story(state, repo, cast_)
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
        if told is not None:
            told.set()
        if once:
            return
        _try_next(state, cast_)
        await asyncio.Event().wait()  # until Ctrl-C or SIGTERM cancels it


def _people(state: Running, cast: dict[str, Person]) -> None:
    """The console's address and everyone's token, to sign in while the story runs."""
    console.print(f"  console  {state.url}/   sign in with a token:")
    for person in cast.values():
        console.print(
            f"    {person.subject:<6} {escape(', '.join(person.roles)):<32} {escape(person.token)}",
            overflow="ignore",
            crop=False,
        )


def _try_next(state: Running, cast: dict[str, Person]) -> None:
    console.print(f"""
[bold]Try next[/] (Ctrl-C stops the server):
  console    {state.url}/   sign in with a token of the people above
  API        {state.url}/api/v1/apps/{APP}
  reference  {state.url}/api/docs
  OpenAPI    {state.url}/api/v1/openapi.json
  metrics    {state.url}/api/v1/metrics
  export BATON_URL={state.url} BATON_TOKEN={escape(cast["alice"].token)}   # alice
  baton status {APP}
  baton history {APP} --env prod
  baton audit verify; baton replay --verify   # read the demo's database directly
  curl -H "Authorization: Bearer $BATON_TOKEN" {state.url}/api/v1/events?app={APP}
  kubeconfig of the clusters: {state.sim.kubeconfig_path if state.sim else "-"}""")
    if endpoint := os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        console.print(f"  traces went to {endpoint}; Jaeger's UI is usually on :16686")


def tell(*, once: bool, verbose: int = 0) -> int:
    """Tell the story (`baton demo`); the exit code: 0 told (or stopped while serving),
    1 a step did not happen (saying why), 130/143 stopped by SIGINT/SIGTERM midway.

    A signal cancels whatever runs (starting Postgres, the story, serving); the server and
    clusters stop as the story unwinds, the embedded Postgres last."""
    # the library's chatter (INFO and warnings) only when asked for: `-v` INFO, `-vv` DEBUG
    setup_logging(("ERROR", "INFO", "DEBUG")[min(verbose, 2)])
    # here, not in the story: the process's tracer provider is the command's to install
    setup_tracing()
    settings = Settings.from_env()
    # absolute: the config resolves relative repository paths from its own folder
    settings = replace(settings, home=settings.home.resolve())
    cast = people()  # before anything starts: wrong tokens fail at once
    stopped_by: list[signal.Signals] = []
    told = asyncio.Event()

    async def run() -> None:
        main = asyncio.current_task()
        assert main is not None
        loop = asyncio.get_running_loop()

        def stop(sig: signal.Signals) -> None:
            if not stopped_by:  # a second signal changes nothing: the unwinding goes on
                stopped_by.append(sig)
                console.print(f"\n[bold]stopping[/] ({sig.name})")
                main.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop, sig)
        try:
            url = await _database_url(settings)
            home = settings.home / "demo"
            await story(once=once, home=home, database_url=url, cast=cast, told=told)
        except asyncio.CancelledError:
            if not stopped_by:
                raise

    try:
        asyncio.run(run())
    except (StoryFailed, ApiError) as exc:
        console.print(f"[bold red]demo failed:[/] {escape(str(exc))}")
        return 1
    finally:
        # the embedded server stops even while the signals keep coming: it must not outlive us
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        if not settings.database_url:
            stop_embedded(settings.home)
    if stopped_by and not told.is_set():
        return 128 + stopped_by[0]
    return 0
