"""The promotion service: load the aggregates a command needs, run it, save. Retries on races.

Every method is the eventsourcing application shape: load, one command, save. The facts
a rule needs from elsewhere (the app's pipeline, the upstream target's verified releases,
the time) are gathered here and handed to the aggregate.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from engine.backoff import retry
from engine.domain import errors
from engine.domain.app import App
from engine.domain.enums import PromotionKind
from engine.domain.ids import app_stream, parse_target_stream, target_stream
from engine.domain.pipeline import AppSpec, EnvironmentSpec
from engine.domain.promotion import Override, Promotion, ReleaseRef
from engine.domain.target import Target
from engine.repository import AggregateNotFound, Repository
from engine.store import ConcurrencyError, EventMetadata
from engine.telemetry import traced_command

T = TypeVar("T")
_ATTEMPTS = 5


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class NoVerifiedRelease(errors.DomainError):
    """`from_environment` names an environment with nothing verified yet."""

    code = "no-verified-release"


@dataclass(frozen=True, kw_only=True)
class _Facts:
    """What a promotion's rules are checked against, loaded for one command."""

    app: AppSpec
    environment: EnvironmentSpec
    release: ReleaseRef
    target: Target
    upstream_verified: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Check:
    """What a promotion or rollback command would decide now; nothing was recorded."""

    app: AppSpec
    kind: PromotionKind
    #: the candidate, resolved as the command resolves it; None when there is none
    release: ReleaseRef | None
    #: the release applied in the target now, if any
    running: str | None
    #: the domain errors the command would raise, in the order it checks its rules
    refusals: tuple[errors.DomainError, ...]
    approvals_required: int

    @property
    def accepted(self) -> bool:
        """True when the command would be accepted."""
        return not self.refusals


def _promotion_attributes(value: Promotion | Target) -> dict[str, Any]:
    """Span attributes of a command's outcome: the promotion and its release."""
    promotion = value.promotion if isinstance(value, Target) else value
    if promotion is None:
        return {}
    return {"promotion_id": promotion.id, "release": promotion.release}


class Promotions:
    """Commands on apps and targets."""

    def __init__(self, repository: Repository, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.repository = repository
        self.clock = clock

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run load-command-save again when another writer got there first."""
        return await retry(attempt, attempts=_ATTEMPTS, on=ConcurrencyError)

    async def app(self, name: str) -> App:
        """The app called `name`."""
        return await self.repository.get(App, app_stream(name))

    async def target(self, app: str, environment: str) -> Target | None:
        """The target, or None when nothing has happened there yet."""
        return await self.repository.find(Target, target_stream(app, environment))

    async def locate(self, promotion_id: str) -> tuple[str, str]:
        """(app, environment) of the target a promotion belongs to; UnknownPromotion if none."""
        stream_id = await self.repository.store.promotion_stream(promotion_id)
        where = parse_target_stream(stream_id) if stream_id else None
        if where is None:
            raise errors.UnknownPromotion("baton", promotion_id)
        return where

    async def pipeline(self, app: str) -> AppSpec:
        """The app's pipeline from the configuration in force."""
        return (await self.app(app)).spec

    @traced_command("register_app", "app")
    async def register_app(
        self, name: str, config: dict[str, Any], *, metadata: EventMetadata
    ) -> App:
        """Register an app, unless it exists already."""
        existing = await self.repository.find(App, app_stream(name))
        if existing is not None:
            return existing
        app = App(name=name, config=config)
        await self.repository.save(app, metadata=metadata)
        return app

    @traced_command("create_release", "app")
    async def create_release(
        self,
        app_name: str,
        *,
        sha: str,
        digest: str,
        message: str,
        author: str,
        committed_at: datetime,
        metadata: EventMetadata,
    ) -> ReleaseRef:
        """Record a release of an app (idempotent per SHA)."""

        async def attempt() -> ReleaseRef:
            app = await self.app(app_name)
            ref = app.create_release(
                sha=sha, digest=digest, message=message, author=author, committed_at=committed_at
            )
            await self.repository.save(app, metadata=metadata)
            return ref

        return await self._retrying(attempt)

    async def _load_target(self, app: str, environment: str) -> Target:
        target = await self.target(app, environment)
        return target if target is not None else Target(app=app, environment=environment)

    @traced_command("request_promotion", "app", "environment", result=_promotion_attributes)
    async def request(
        self,
        app_name: str,
        environment: str,
        *,
        metadata: EventMetadata,
        release: str | None = None,
        from_environment: str | None = None,
        reason: str = "",
        override: Override | None = None,
        auto: bool = False,
        promotion_id: str | None = None,
    ) -> Promotion:
        """Ask for a release (or what `from_environment` verified last) to run in a target."""
        promotion_id = promotion_id or str(uuid.uuid4())
        metadata = _correlated(metadata, promotion_id)

        async def attempt() -> Promotion:
            facts = await self._promotion_facts(app_name, environment, release, from_environment)
            target, spec = facts.target, facts.environment
            target.request_promotion(
                promotion_id=promotion_id,
                release=facts.release,
                requested_by=metadata.actor,
                reason=reason,
                policy=spec.policy,
                now=self.clock(),
                upstream=spec.upstream,
                upstream_verified=facts.upstream_verified,
                auto=auto,
                override=override,
            )
            await self.repository.save(target, metadata=metadata)
            assert target.promotion is not None
            return target.promotion

        return await self._retrying(attempt)

    async def _promotion_facts(
        self, app_name: str, environment: str, release: str | None, from_environment: str | None
    ) -> _Facts:
        """The candidate release and the facts its promotion's rules need, loaded."""
        app = await self.app(app_name)
        spec = app.spec.environment(environment)
        upstream = await self.target(app_name, spec.upstream) if spec.upstream else None
        ref = app.release(release or await self._latest_verified(app_name, from_environment))
        return _Facts(
            app=app.spec,
            environment=spec,
            release=ref,
            target=await self._load_target(app_name, environment),
            upstream_verified=tuple(upstream.verified) if upstream else (),
        )

    async def check_promotion(
        self,
        app_name: str,
        environment: str,
        *,
        release: str | None = None,
        from_environment: str | None = None,
        override: Override | None = None,
    ) -> Check:
        """What `request` would say, found as it finds it, without recording anything.

        An unknown app, environment or release raises as `request` does; a rule the
        promotion would break is a refusal in the answer.
        """
        try:
            facts = await self._promotion_facts(app_name, environment, release, from_environment)
        except NoVerifiedRelease as exc:
            app = await self.app(app_name)
            target = await self._load_target(app_name, environment)
            return Check(
                app=app.spec,
                kind=PromotionKind.MANUAL,
                release=None,
                running=target.applied_release,
                refusals=(exc,),
                approvals_required=app.spec.environment(environment).policy.approvals,
            )
        spec = facts.environment
        refusals = facts.target.promotion_refusals(
            facts.release,
            policy=spec.policy,
            now=self.clock(),
            upstream=spec.upstream,
            upstream_verified=facts.upstream_verified,
            override=override,
        )
        return Check(
            app=facts.app,
            kind=PromotionKind.MANUAL,
            release=facts.release,
            running=facts.target.applied_release,
            refusals=tuple(refusals),
            approvals_required=spec.policy.approvals,
        )

    async def _latest_verified(self, app: str, environment: str | None) -> str:
        if environment is None:
            raise ValueError("a promotion names a release or an environment to promote from")
        target = await self.target(app, environment)
        if target is None or not target.verified:
            raise NoVerifiedRelease(f"{app}/{environment} has no verified release to promote")
        return target.verified[-1]

    async def _on_target(
        self,
        app: str,
        environment: str,
        metadata: EventMetadata,
        command: Callable[[Target], None],
    ) -> Target:
        async def attempt() -> Target:
            target = await self.target(app, environment)
            if target is None:
                raise AggregateNotFound(target_stream(app, environment))
            command(target)
            await self.repository.save(target, metadata=metadata)
            return target

        return await self._retrying(attempt)

    @traced_command("approve", "app", "environment", "promotion_id", result=_promotion_attributes)
    async def approve(
        self,
        app: str,
        environment: str,
        promotion_id: str,
        *,
        metadata: EventMetadata,
        comment: str = "",
    ) -> Target:
        """Approve a promotion as `metadata.actor`."""
        return await self._on_target(
            app,
            environment,
            _correlated(metadata, promotion_id),
            lambda t: t.approve(
                promotion_id=promotion_id, user=metadata.actor, now=self.clock(), comment=comment
            ),
        )

    @traced_command("reject", "app", "environment", "promotion_id", result=_promotion_attributes)
    async def reject(
        self,
        app: str,
        environment: str,
        promotion_id: str,
        *,
        metadata: EventMetadata,
        reason: str,
    ) -> Target:
        """Reject a promotion that awaits approval."""
        return await self._on_target(
            app,
            environment,
            _correlated(metadata, promotion_id),
            lambda t: t.reject(
                promotion_id=promotion_id, user=metadata.actor, reason=reason, now=self.clock()
            ),
        )

    @traced_command("cancel", "app", "environment", "promotion_id", result=_promotion_attributes)
    async def cancel(
        self,
        app: str,
        environment: str,
        promotion_id: str,
        *,
        metadata: EventMetadata,
        reason: str,
    ) -> Target:
        """Cancel a promotion that has not started."""
        return await self._on_target(
            app,
            environment,
            _correlated(metadata, promotion_id),
            lambda t: t.cancel(
                promotion_id=promotion_id, user=metadata.actor, reason=reason, now=self.clock()
            ),
        )

    @traced_command("rollback", "app", "environment", result=_promotion_attributes)
    async def rollback(
        self,
        app_name: str,
        environment: str,
        *,
        metadata: EventMetadata,
        to: str | None = None,
        reason: str = "",
    ) -> Promotion:
        """Go back to `to` (default: the last release verified before the current one)."""
        promotion_id = str(uuid.uuid4())
        metadata = _correlated(metadata, promotion_id)

        async def attempt() -> Promotion:
            app, ref, target = await self._rollback_facts(app_name, environment, to)
            if target is None:
                raise errors.NoRollbackTarget(f"{app_name}/{environment}")
            candidate = target.rollback_candidate()
            number = app.releases[candidate].number if candidate in app.releases else 0
            target.request_rollback(
                promotion_id=promotion_id,
                requested_by=metadata.actor,
                reason=reason,
                now=self.clock(),
                to=ref,
                to_number=number,
            )
            await self.repository.save(target, metadata=metadata)
            assert target.promotion is not None
            return target.promotion

        return await self._retrying(attempt)

    async def _rollback_facts(
        self, app_name: str, environment: str, to: str | None
    ) -> tuple[App, ReleaseRef | None, Target | None]:
        """The app, the release asked for (if one was) and the target, loaded."""
        app = await self.app(app_name)
        app.spec.environment(environment)  # an unknown environment is a KeyError, as for request
        ref = app.release(to) if to is not None else None
        return app, ref, await self.target(app_name, environment)

    async def check_rollback(
        self, app_name: str, environment: str, *, to: str | None = None
    ) -> Check:
        """What `rollback` would say, found as it finds it, without recording anything."""
        app, ref, target = await self._rollback_facts(app_name, environment, to)
        if target is None:
            refusal = errors.NoRollbackTarget(f"{app_name}/{environment}")
            return Check(
                app=app.spec,
                kind=PromotionKind.ROLLBACK,
                release=ref,
                running=None,
                refusals=(refusal,),
                approvals_required=0,
            )
        if ref is None and (candidate := target.rollback_candidate()) in app.releases:
            ref = app.releases[candidate]
        return Check(
            app=app.spec,
            kind=PromotionKind.ROLLBACK,
            release=ref,
            running=target.applied_release,
            refusals=tuple(target.rollback_refusals(ref)),
            approvals_required=0,  # rollbacks skip approvals: they are how an incident ends
        )


def _correlated(metadata: EventMetadata, promotion_id: str) -> EventMetadata:
    """Metadata whose correlation id is the promotion, unless the caller set one."""
    if metadata.correlation_id:
        return metadata
    return replace(metadata, correlation_id=promotion_id)
