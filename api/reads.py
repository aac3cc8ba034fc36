"""Reads the views need: read models from `projections`, with the log as a fallback where a
client must see its own write at once.

Where it sits: between the read views and the read models. Each function takes a
connection from the application's pool and returns JSON-ready dicts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api.keys import CONFIG, DATABASE, PIPELINES, PROMOTIONS, READS, RUNNER, SUPERVISOR
from api.params import Moment, invalid
from api.render import dump_bytes, promotion_json
from engine.audit import verify
from engine.domain import errors
from engine.domain.enums import Health, PromotionPhase, SyncStatus
from engine.domain.pipeline import AppSpec, EnvironmentSpec
from engine.store.audit import Verification, latest_verification
from engine.store.database import create_pool
from engine.store.types import RecordedEvent
from projections import catalog, insights, progress, queries, timetravel
from projections.base import Projection
from projections.dora import Window
from projections.rebuild import BESIDE_READERS, rebuild
from projections.runner import ProjectionRunner
from projections.runner import projection_status as runner_status

Row = dict[str, Any]
log = logging.getLogger(__name__)
_NDJSON_PAGE = 1000
_RUNNER_POOL = 6  # one listener, one per projection, room for a rebuild
_STOP_TIMEOUT_S = 5.0


async def promotion(app: web.Application, promotion_id: str) -> dict[str, Any] | None:
    """A promotion by id, from the read model; the log answers for one too new for it."""
    async with _conn(app) as conn:
        row = await queries.get_promotion(conn, promotion_id)
    if row is not None:
        return row
    promotions = app[PROMOTIONS]
    try:
        app_name, environment = await promotions.locate(promotion_id)
    except errors.UnknownPromotion:
        return None
    target = await promotions.target(app_name, environment)
    if target is None or target.promotion is None or target.promotion.id != promotion_id:
        return None
    return promotion_json(app_name, environment, target.promotion)


async def promotion_events(app: web.Application, promotion_id: str) -> list[Row]:
    """The events of a promotion and of its target while it ran, oldest first (from the
    log: a timeline shows a decision the moment it is recorded)."""
    async with _conn(app) as conn:
        return await queries.promotion_events(conn, promotion_id)


async def promotion_progress(app: web.Application, found: Row) -> dict[str, Any]:
    """How far the promotion `found` got (`projections.progress`): from its events in the
    log, so a client following it sees each step the moment it is recorded."""
    events = await promotion_events(app, found["id"])
    known = await app[PIPELINES].get(found["app"])
    specs = known[0].environments if known is not None else []
    spec = next((e for e in specs if e.name == found["environment"]), None)
    soak = spec.policy.soak if spec is not None else None
    return progress.promotion_progress(events, soak=soak, now=datetime.now(UTC))


#: the states a client filters promotions by → the phases each stands for
PROMOTION_STATES: dict[str, tuple[PromotionPhase, ...]] = {
    "pending": tuple(p for p in PromotionPhase if p.is_in_flight),
    "awaiting-approval": (PromotionPhase.AWAITING_APPROVAL,),
    "running": (PromotionPhase.STARTED, PromotionPhase.SYNCED),
    "done": tuple(p for p in PromotionPhase if p.is_terminal),
}


@dataclass(frozen=True, kw_only=True)
class PromotionFilter:
    """Filters of the promotions list; `id_prefix` finds a promotion by its id's start."""

    app: str | None = None
    environment: str | None = None
    state: str | None = None
    id_prefix: str | None = None

    def passes(self, row: Row) -> bool:
        """True when the promotion `row` passes every filter given."""
        phases = PROMOTION_STATES[self.state] if self.state else None
        return (
            (self.app is None or row["app"] == self.app)
            and (self.environment is None or row["environment"] == self.environment)
            and (phases is None or row["phase"] in phases)
            and (self.id_prefix is None or str(row["id"]).startswith(self.id_prefix))
        )


async def find_promotions(
    app: web.Application, filters: PromotionFilter, *, limit: int
) -> list[Row]:
    """The latest promotions that pass `filters`: by app, in each app's pipeline order,
    newest first within a target. A whole id the read model has not caught up with yet is
    found in the log (as `promotion` finds it), so a client sees its own write at once."""
    phases = PROMOTION_STATES[filters.state] if filters.state else None
    async with _conn(app) as conn:
        rows = await queries.find_promotions(
            conn,
            app=filters.app,
            environment=filters.environment,
            phases=None if phases is None else [p.value for p in phases],
            id_prefix=filters.id_prefix,
            limit=limit,
        )
    if not rows and filters.id_prefix is not None:
        exact = await promotion(app, filters.id_prefix)
        rows = [exact] if exact is not None and filters.passes(exact) else []
    return await in_pipeline_order(app, rows)


@dataclass(frozen=True, kw_only=True)
class EventFilter:
    """Filters of the audit log."""

    app: str | None = None
    environment: str | None = None
    actor: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def app_names(app: web.Application) -> list[str]:
    """Every app's name, in order."""
    async with _conn(app) as conn:
        return await queries.list_apps(conn)


async def all_apps(app: web.Application) -> list[dict[str, Any]]:
    """Every app with its environments."""
    async with _conn(app) as conn:
        names = await queries.list_apps(conn)
        targets = await queries.list_targets(conn)
    return await _apps_json(app, names, targets)


async def some_apps(app: web.Application, names: list[str]) -> list[dict[str, Any]]:
    """The apps of `names` with their environments (as `all_apps` shows each)."""
    async with _conn(app) as conn:
        targets = await queries.targets_of(conn, names)
    return await _apps_json(app, names, targets)


async def release_subjects(
    app: web.Application, releases: list[tuple[str, str]]
) -> dict[tuple[str, str], Row]:
    """(app, sha) → number and commit subject of each release."""
    async with _conn(app) as conn:
        return await queries.release_subjects(conn, releases)


async def promotions_by_id(app: web.Application, ids: list[str]) -> dict[str, Row]:
    """Promotion id → its read-model row."""
    async with _conn(app) as conn:
        return await queries.promotions_of(conn, ids)


async def read_models_reach(app: web.Application, position: int, *, within: float) -> bool:
    """Wait until every projection has applied `position`, at most `within` seconds;
    True when they have."""
    runner = app[RUNNER]
    try:
        async with asyncio.timeout(within):
            if runner is not None:
                await runner.wait_for(position)
                return True
            # another process projects: nothing wakes this one, so it looks again
            while await _read_models_at(app) < position:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            return True
    except TimeoutError:
        return False


async def _read_models_at(app: web.Application) -> int:
    async with _conn(app) as conn:
        statuses = await runner_status(conn)
    return min((s.position for s in statuses), default=0)


async def _apps_json(
    app: web.Application, names: list[str], targets: list[Row]
) -> list[dict[str, Any]]:
    by_app: dict[str, list[Row]] = {}
    for row in targets:
        by_app.setdefault(row["app"], []).append(row)
    pipelines = await app[PIPELINES].get_many(names)
    return [_app_json(name, by_app.get(name, []), pipelines[name]) for name in names]


async def one_app(app: web.Application, name: str) -> dict[str, Any] | None:
    """One app's pipeline, or None."""
    async with _conn(app) as conn:
        targets = await queries.list_targets(conn, app=name)
    found = _app_json(name, targets, await app[PIPELINES].get(name))
    if not targets and found.get("source") is None:
        return None
    return found


def _app_json(
    name: str, targets: list[Row], known: tuple[AppSpec, dict[str, Any]] | None
) -> dict[str, Any]:
    """The pipeline in its configured order, each environment with its target's state."""
    rows = {r["environment"]: r for r in targets}
    environments: list[dict[str, Any]] = []
    if known is not None:
        pipeline, source = known
        for spec in pipeline.environments:
            environments.append(_environment(spec.name, rows.pop(spec.name, None), spec))
    else:
        source = None
    environments.extend(_environment(env, row, None) for env, row in sorted(rows.items()))
    return {"name": name, "source": source, "environments": environments}


def _environment(name: str, row: Row | None, spec: EnvironmentSpec | None) -> dict[str, Any]:
    row = row or {}
    phase = row.get("promotion_phase")
    in_flight = None
    if phase is not None and PromotionPhase(phase).is_in_flight:
        in_flight = {"id": row["promotion_id"], "release": row["promotion_release"], "phase": phase}
    policy = None
    if spec is not None:
        p = spec.policy
        policy = {
            "auto_promote": p.auto_promote,
            "auto_rollback": p.auto_rollback,
            "approvals": p.approvals,
            "soak_seconds": p.soak.total_seconds(),
            "freeze": [w.name for w in p.freeze],
        }
    return {
        "environment": name,
        "upstream": spec.upstream if spec else None,
        "policy": policy,
        "desired_release": row.get("desired_release"),
        "applied_release": row.get("applied_release"),
        "last_verified_release": row.get("last_verified_release"),
        "health": row.get("health", Health.UNKNOWN.value),
        "sync_status": row.get("sync_status", SyncStatus.UNKNOWN.value),
        "in_flight": in_flight,
        "last_promotion": None
        if row.get("promotion_id") is None
        else {"id": row["promotion_id"], "release": row["promotion_release"], "phase": phase},
        "last_changed_at": row.get("last_changed_at"),
        "last_actor": row.get("last_actor"),
    }


async def releases(
    app: web.Application, name: str, *, limit: int, before: int | None
) -> dict[str, Any] | None:
    """A page of an app's releases, or None when there is no such app."""
    async with _conn(app) as conn:
        rows = await queries.list_releases(conn, name, limit=limit + 1, before_number=before)
    if not rows and await app[PIPELINES].get(name) is None:
        return None
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_before": rows[-1]["number"] if more else None}


async def lineage(app: web.Application, name: str, sha: str) -> dict[str, Any] | None:
    """A release's lineage, or None."""
    async with _conn(app) as conn:
        return await queries.release_lineage(conn, name, sha)


async def release_matrix(
    app: web.Application, name: str, *, limit: int, before: int | None
) -> dict[str, Any] | None:
    """A page of an app's releases, each with where it went (`lineage`: rows of
    `release_environments`), or None when there is no such app."""
    found = await releases(app, name, limit=limit, before=before)
    if found is None:
        return None
    shas = [r["sha"] for r in found["items"]]
    async with _conn(app) as conn:
        rows = await queries.lineage_of(conn, name, shas) if shas else []
    by_sha: dict[str, list[Row]] = {}
    for row in rows:
        by_sha.setdefault(row["sha"], []).append(row)
    items = [{**r, "lineage": by_sha.get(r["sha"], [])} for r in found["items"]]
    return {"items": items, "next_before": found["next_before"]}


async def app_history(app: web.Application, name: str, *, per_environment: int) -> dict[str, Any]:
    """Per environment: its latest promotions, and the releases verified there."""
    async with _conn(app) as conn:
        promotions = await queries.recent_promotions(conn, name, per_environment=per_environment)
        verified = await queries.verified_releases(conn, name, limit=per_environment)
    history: dict[str, list[Row]] = {}
    for row in promotions:
        history.setdefault(row["environment"], []).append(row)
    good: dict[str, list[Row]] = {}
    for row in verified:
        good.setdefault(row["environment"], []).append(row)
    return {"promotions": history, "verified": good}


async def events_page(
    app: web.Application,
    filters: EventFilter,
    *,
    limit: int,
    before: int | None,
    after: int | None,
) -> dict[str, Any]:
    """One page of the audit log and the cursor of the next (newest first unless `after`)."""
    async with _conn(app) as conn:
        rows = await _audit(conn, filters, limit=limit + 1, before=before, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1]["position"] if more else None
    return {
        "items": rows,
        "next_before": last if after is None else None,
        "next_after": last if after is not None else None,
    }


async def _audit(
    conn: Any, filters: EventFilter, *, limit: int, before: int | None, after: int | None
) -> list[Row]:
    return await queries.audit_page(
        conn,
        app=filters.app,
        environment=filters.environment,
        actor=filters.actor,
        action=filters.type,
        since=filters.since,
        until=filters.until,
        before_position=before,
        after_position=after,
        limit=limit,
    )


async def iter_events(
    app: web.Application, filters: EventFilter, *, before: int | None, after: int | None
) -> AsyncIterator[dict[str, Any]]:
    """Every matching event, page after page (a connection is held per page only)."""
    while True:
        async with _conn(app) as conn:
            rows = await _audit(conn, filters, limit=_NDJSON_PAGE, before=before, after=after)
        for row in rows:
            yield row
        if len(rows) < _NDJSON_PAGE:
            return
        if after is not None:
            after = rows[-1]["position"]
        else:
            before = rows[-1]["position"]


async def dora(
    app: web.Application, *, name: str | None, environment: str | None, window: Window
) -> list[dict[str, Any]] | None:
    """The four DORA keys per target over `window`; None when the app or environment is
    unknown (an app is known by its configured pipeline or by a target)."""
    async with _conn(app) as conn:
        rows = await queries.list_targets(conn, app=name)
    keys = {(r["app"], r["environment"]) for r in rows}
    if name is not None:
        known = await app[PIPELINES].get(name)
        if known is not None:
            keys |= {(name, spec.name) for spec in known[0].environments}
    if environment is not None:
        keys = {key for key in keys if key[1] == environment}
    filtered = name is not None or environment is not None
    if filtered and not keys:
        return None
    async with _conn(app) as conn:
        found = await insights.insights(
            conn, window=window, targets=sorted(keys), only_targets=filtered
        )
    return await in_pipeline_order(app, found)


async def in_pipeline_order(app: web.Application, rows: list[Row]) -> list[Row]:
    """`rows` (each of an app and an environment) by app, then in each app's pipeline
    order; environments no pipeline names last, by name."""
    pipelines = await app[PIPELINES].get_many(sorted({r["app"] for r in rows}))
    rank: dict[tuple[str, str], int] = {}
    for name, known in pipelines.items():
        for index, spec in enumerate(known[0].environments if known else ()):
            rank[(name, spec.name)] = index
    return sorted(
        rows,
        key=lambda r: (
            r["app"],
            rank.get((r["app"], r["environment"]), len(rank)),
            r["environment"],
        ),
    )


def _point(moment: Moment | None) -> datetime | int:
    if moment is None:
        return datetime.now(UTC)
    if moment.position is not None:
        return moment.position
    assert moment.at is not None
    return moment.at


async def state(app: web.Application, moment: Moment | None) -> bytes:
    """State of every target at a moment (default: now), as a JSON body."""
    point = _point(moment)
    async with _conn(app) as conn:
        if isinstance(point, int):
            targets = await timetravel.state_as_of_json(conn, position=point)
        else:
            targets = await timetravel.state_as_of_json(conn, at=point)
    # Postgres wrote the targets' JSON; it goes out as it came
    return b'{"as_of":' + dump_bytes(_echo(point)) + b',"targets":' + targets.encode() + b"}"


async def diff(app: web.Application, start: Moment, end: Moment | None) -> dict[str, Any]:
    """Changes between two moments (`end` default: now)."""
    first, last = _point(start), _point(end)
    async with _conn(app) as conn:
        changes = await timetravel.state_diff(conn, from_=first, to=last)
    return {"from": _echo(first), "to": _echo(last), "changes": changes}


def _echo(point: datetime | int) -> dict[str, Any]:
    return {"position": point} if isinstance(point, int) else {"at": point.isoformat()}


async def event_at(app: web.Application, position: int) -> RecordedEvent | None:
    """The event at `position` (data in its current shape, metadata, hash), or None."""
    found = await app[DATABASE].store.read_all(after=position - 1, limit=1)
    return found[0] if found and found[0].position == position else None


async def verify_chain(app: web.Application) -> Verification:
    """Recompute the hash chain and record the outcome (on the writers' pool)."""
    return await verify(app[DATABASE].store)


async def last_verification(app: web.Application) -> Verification | None:
    """The latest recorded verification of the chain, or None."""
    async with app[DATABASE].store.pool.acquire() as conn:
        return await latest_verification(conn)


def verification_json(found: Verification) -> dict[str, Any]:
    """A verification as the API answers it (`AuditReport`)."""
    report = found.report
    return {
        "ok": report.ok,
        "checked": report.checked,
        "head_position": report.head_position,
        "broken_at": report.broken_at,
        "reason": report.reason,
        "verified_to": report.verified_to,
        "verified_at": found.verified_at,
    }


def check_projections(names: list[str] | None) -> list[Projection]:
    """The projections called `names` (all when None); 422 naming an unknown one."""
    try:
        return catalog.select(names)
    except ValueError as exc:
        raise invalid("projections", str(exc)) from None


def rebuild_work(
    app: web.Application, projections: list[Projection]
) -> Callable[[], Awaitable[Any]]:
    """The coroutine function a replay job runs: rebuild, then report."""

    async def work() -> dict[str, Any]:
        pool = app[DATABASE].store.pool
        report = await rebuild(pool, projections, loads_at_once=BESIDE_READERS)
        return asdict(report)

    return work


async def projection_status(app: web.Application) -> dict[str, Any]:
    """Checkpoints and lag of every projection."""
    async with _conn(app) as conn:
        statuses = await runner_status(conn)
        head = int(await conn.fetchval("SELECT position FROM event_head"))
    return {
        "head_position": head,
        "projections": [
            {
                "name": s.name,
                "version": s.version,
                "position": s.position,
                "lag": s.lag,
                "updated_at": s.updated_at,
                "last_error": s.last_error,
            }
            for s in statuses
        ],
    }


async def projections_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the projection runner on the app's supervisor when configured to.

    The runner gets a small pool of its own, so that stopping it can never hold up the
    API's pool: it is asked to stop, given a few seconds, and its pool closed regardless.
    """
    if not app[CONFIG].run_projections:
        app[RUNNER] = None
        yield
        return
    pool = await create_pool(app[DATABASE].url, min_size=1, max_size=_RUNNER_POOL)
    runner = ProjectionRunner(pool, poll_interval=0.5)
    try:
        await runner.ensure()
    except BaseException:
        await pool.close()
        raise
    app[RUNNER] = runner
    try:
        await runner.start(app[SUPERVISOR])
        yield
    finally:
        try:
            await runner.stop()  # each loop waited for at most a few seconds
        finally:
            try:
                await asyncio.wait_for(pool.close(), timeout=_STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("the projection runner did not stop within %ss", _STOP_TIMEOUT_S)
                pool.terminate()


def _conn(app: web.Application) -> Any:
    return app[READS].acquire()
