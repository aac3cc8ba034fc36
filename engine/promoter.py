"""The promoter: a process manager that asks for automatic promotions and rollbacks.

Where it sits: after the event log, beside the appliers, as the durable subscription
``promoter`` (``engine.subscriptions``: one consumer across processes, a checkpoint, so a
restart does not read the log from its start again). It reads every event in order;
a pure :func:`decide` turns one event and the app's pipeline into the promotions to ask
for; :class:`Promoter` asks the :class:`~engine.promotions.Promotions` service, with
metadata caused by the event (same correlation id and trace). Replaying events is safe:
the domain refuses what would happen twice (``AlreadyDesired``, ``PromotionInFlight``,
``AutoPromotionRefused``, ...), and those refusals are no-ops here.

- ``App.ReleaseCreated`` → the first environments (no upstream) that auto-promote;
- ``Target.PromotionVerified`` in N → every environment downstream of N that auto-promotes;
- ``Target.PromotionFailed`` where the policy says ``auto_rollback`` → a rollback to the
  last verified release (only while that failed promotion is still the target's latest).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum

from engine.domain import errors
from engine.domain.ids import app_of_stream, parse_target_stream
from engine.domain.pipeline import AppSpec
from engine.domain.vocabulary import EventType
from engine.promotions import NoVerifiedRelease, Promotions
from engine.repository import AggregateNotFound
from engine.store import EventMetadata, RecordedEvent
from engine.subscriptions import Start, Subscriptions

PROMOTER_ACTOR = "promoter"
#: the promoter's durable subscription
SUBSCRIPTION = "promoter"
log = logging.getLogger(__name__)
_REFUSALS = (errors.DomainError, NoVerifiedRelease, AggregateNotFound)


class Ask(StrEnum):
    """What the promoter asks for."""

    PROMOTE = "promote"
    ROLLBACK = "rollback"


@dataclass(frozen=True, kw_only=True)
class Request:
    """One promotion (or rollback) to ask for."""

    ask: Ask
    app: str
    environment: str
    release: str | None = None  # for PROMOTE
    failed_promotion: str | None = None  # for ROLLBACK: only while it is the latest
    reason: str


def app_of_event(event: RecordedEvent) -> str | None:
    """The app an App or Target stream belongs to."""
    return app_of_stream(event.stream_id)


def decide(event: RecordedEvent, pipeline: AppSpec) -> list[Request]:
    """The promotions `event` calls for under `pipeline`. Pure."""
    data, app = event.data, pipeline.name
    if event.type == EventType.RELEASE_CREATED:
        return [
            Request(
                ask=Ask.PROMOTE,
                app=app,
                environment=env.name,
                release=str(data["sha"]),
                reason=f"auto-promotion of new release #{data.get('number')}",
            )
            for env in pipeline.environments
            if env.upstream is None and env.policy.auto_promote
        ]
    target = parse_target_stream(event.stream_id)
    if target is None:
        return []
    environment = target[1]
    if event.type == EventType.PROMOTION_VERIFIED:
        return [
            Request(
                ask=Ask.PROMOTE,
                app=app,
                environment=env.name,
                release=str(data["release"]),
                reason=f"auto-promotion: verified in {environment}",
            )
            for env in pipeline.downstream_of(environment)
            if env.policy.auto_promote
        ]
    if event.type == EventType.PROMOTION_FAILED:
        try:
            spec = pipeline.environment(environment)
        except KeyError:
            return []
        if spec.policy.auto_rollback:
            return [
                Request(
                    ask=Ask.ROLLBACK,
                    app=app,
                    environment=environment,
                    failed_promotion=str(data["promotion_id"]),
                    reason=f"auto-rollback: {data.get('reason', '')}",
                )
            ]
    return []


_INTERESTING = frozenset(
    {EventType.RELEASE_CREATED, EventType.PROMOTION_VERIFIED, EventType.PROMOTION_FAILED}
)


class Promoter:
    """Follows the log and asks for what :func:`decide` says."""

    def __init__(self, promotions: Promotions, *, timeout: float = 30.0):
        self.promotions = promotions
        self.timeout = timeout

    async def run(self, subscriptions: Subscriptions) -> None:
        """Forever, as the durable subscription ``promoter``: from its checkpoint (from the
        log's origin the first time, which is safe: the domain refuses a second request)."""
        await subscriptions.run(SUBSCRIPTION, self.on_event, start=Start.ORIGIN)

    async def on_event(self, event: RecordedEvent) -> None:
        """One event of the log: handled if it is one the promoter reacts to."""
        if event.type in _INTERESTING:
            await self.handle(event)

    async def handle(self, event: RecordedEvent) -> None:
        """Decide and ask; refusals by the domain are expected and ignored."""
        app = app_of_event(event)
        if app is None:
            return
        try:
            pipeline = await asyncio.wait_for(self.promotions.pipeline(app), self.timeout)
        except AggregateNotFound:
            return
        metadata = EventMetadata(actor=PROMOTER_ACTOR).caused_by(event)
        for request in decide(event, pipeline):
            try:
                await asyncio.wait_for(self._ask(request, metadata), self.timeout)
            except _REFUSALS as exc:
                log.debug("promoter: %s/%s: %s", request.app, request.environment, exc)

    async def _ask(self, request: Request, metadata: EventMetadata) -> None:
        if request.ask == Ask.PROMOTE:
            await self.promotions.request(
                request.app,
                request.environment,
                release=request.release,
                metadata=metadata,
                reason=request.reason,
                auto=True,
            )
            return
        target = await self.promotions.target(request.app, request.environment)
        latest = target.promotion if target is not None else None
        if latest is None or latest.id != request.failed_promotion:
            return  # something happened since the failure: do not undo it
        await self.promotions.rollback(
            request.app, request.environment, metadata=metadata, reason=request.reason
        )
