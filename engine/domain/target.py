"""The Target aggregate: one app in one environment (stream `target:<app>:<env>`).

It holds the desired and applied release, health, the verified releases and at most one
promotion in flight, and enforces the promotion rules of DESIGN.md. Upstream facts (which
releases the environment before this one verified) arrive as command arguments: the
aggregate never reads another aggregate.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from engine.domain import errors
from engine.domain.enums import Health, PromotionKind, PromotionPhase, SyncStatus
from engine.domain.ids import stream_uuid, target_stream
from engine.domain.policy import Policy
from engine.domain.promotion import OpenSync, Override, Promotion, ReleaseRef
from engine.domain.target_state import TargetState, evolve
from engine.domain.vocabulary import EventType


class Target(Aggregate):
    """An app × environment: what should run there, what does, and how it is doing."""

    @staticmethod
    def create_id(app: str, environment: str) -> Any:
        """The aggregate id is derived from the readable stream id."""
        return stream_uuid(target_stream(app, environment))

    @event(EventType.TARGET_CREATED.event)
    def __init__(self, app: str, environment: str) -> None:
        """A target was created (its state is `evolve`'s, as for every event)."""
        self.state: TargetState

    # --- reading ---------------------------------------------------------------------

    @property
    def app(self) -> str:
        """The app."""
        return self.state.app

    @property
    def environment(self) -> str:
        """The environment."""
        return self.state.environment

    @property
    def desired_release(self) -> str | None:
        """The release that should run here."""
        return self.state.desired_release

    @property
    def desired_number(self) -> int:
        """The highest release number a non-rollback promotion made desired."""
        return self.state.desired_number

    @property
    def applied_release(self) -> str | None:
        """The release last applied to the cluster."""
        return self.state.applied_release

    @property
    def health(self) -> Health:
        """The last health assessed."""
        return self.state.health

    @property
    def health_reasons(self) -> list[str]:
        """Why the health is what it is."""
        return self.state.health_reasons

    @property
    def healthy_since(self) -> datetime | None:
        """When the current Healthy began (the soak clock), if healthy."""
        return self.state.healthy_since

    @property
    def sync_status(self) -> SyncStatus:
        """Whether the cluster matches the desired release."""
        return self.state.sync_status

    @property
    def promotion(self) -> Promotion | None:
        """The latest promotion, in flight or finished."""
        return self.state.promotion

    @property
    def verified(self) -> list[str]:
        """Releases verified here, the latest last."""
        return self.state.verified

    @property
    def rolled_back(self) -> frozenset[str]:
        """Releases rolled back here and not verified since."""
        return self.state.rolled_back

    @property
    def open_sync(self) -> OpenSync | None:
        """The sync started and not yet finished, if any."""
        return self.state.open_sync

    @property
    def inventory(self) -> list[dict[str, Any]]:
        """The objects the last sync applied."""
        return self.state.inventory

    @property
    def drift(self) -> list[dict[str, Any]]:
        """The objects found drifted, until corrected."""
        return self.state.drift

    @property
    def name(self) -> str:
        """`app/environment`, as errors and logs show a target."""
        return f"{self.app}/{self.environment}"

    @property
    def stream_id(self) -> str:
        """The readable id of this aggregate's stream."""
        return target_stream(self.app, self.environment)

    @property
    def in_flight(self) -> Promotion | None:
        """The promotion that has not finished, if any."""
        return self.state.in_flight

    def has_verified(self, release: str) -> bool:
        """True when `release` was healthy here for the soak time at least once."""
        return release in self.verified

    def rollback_candidate(self) -> str | None:
        """The latest release verified here that is not the current desired one."""
        for release in reversed(self.verified):
            if release != self.desired_release and release not in self.rolled_back:
                return release
        return None

    # --- guards ------------------------------------------------------------------------

    def _promotion(self, promotion_id: str) -> Promotion:
        if self.promotion is None or self.promotion.id != promotion_id:
            raise errors.UnknownPromotion(self.name, promotion_id)
        return self.promotion

    def _release_of(self, promotion_id: str) -> str:
        return self._promotion(promotion_id).release

    def _check_nothing_in_flight(self) -> None:
        if (p := self.in_flight) is not None:
            raise errors.PromotionInFlight(self.name, p.id, p.phase)

    def _check_phase(self, promotion: Promotion, action: str, *phases: PromotionPhase) -> None:
        if promotion.phase not in phases:
            raise errors.InvalidPromotionState(promotion.id, promotion.phase, action)

    def _check_approval(self, promotion_id: str, user: str) -> None:
        """Awaiting approval, and `user` neither its requester (four eyes) nor an approver yet."""
        promotion = self._promotion(promotion_id)
        self._check_phase(promotion, "approve", PromotionPhase.AWAITING_APPROVAL)
        if user == promotion.requested_by:
            raise errors.SelfApproval(promotion_id, user)
        if promotion.approved_by(user):
            raise errors.AlreadyApproved(promotion_id, user)

    def _check_not_desired(self, release: str) -> None:
        if release == self.desired_release:
            raise errors.AlreadyDesired(release, self.name)

    def _check_upstream(
        self,
        release: ReleaseRef,
        *,
        upstream: str | None,
        upstream_verified: Collection[str],
        override: Override | None,
    ) -> list[str]:
        """Pipeline order; returns the rule an override set aside, if it did."""
        if upstream is None or release.sha in upstream_verified:
            return []
        if override is None:
            raise errors.NotVerifiedUpstream(release.sha, self.name, upstream)
        return ["pipeline-order"]

    def _check_freeze(self, policy: Policy, now: datetime, override: Override | None) -> list[str]:
        """Freeze windows; returns the window an override set aside, if it did."""
        frozen = policy.frozen_at(now)
        if frozen is None:
            return []
        if override is None:
            raise errors.EnvironmentFrozen(self.name, frozen[0].name, frozen[1])
        return [f"freeze-window:{frozen[0].name}"]

    @staticmethod
    def _check_override_reason(overridden: list[str], override: Override | None) -> None:
        if overridden and override is not None and not override.reason.strip():
            raise errors.OverrideNeedsReason(", ".join(overridden))

    def _check_rules(
        self,
        release: ReleaseRef,
        *,
        policy: Policy,
        upstream: str | None,
        upstream_verified: Collection[str],
        now: datetime,
        override: Override | None,
    ) -> list[str]:
        """Pipeline order and freeze windows; returns the rules an override set aside."""
        overridden = [
            *self._check_upstream(
                release, upstream=upstream, upstream_verified=upstream_verified, override=override
            ),
            *self._check_freeze(policy, now, override),
        ]
        self._check_override_reason(overridden, override)
        return overridden

    def _rollback_release(self, to: ReleaseRef | None) -> str:
        """The release a rollback goes to: `to`, else the candidate; refused if not verified."""
        release = to.sha if to is not None else self.rollback_candidate()
        if release is None:
            raise errors.NoRollbackTarget(self.name)
        if not self.has_verified(release):
            raise errors.NoRollbackTarget(self.name, release)
        self._check_not_desired(release)
        return release

    def _check_auto(self, release: ReleaseRef, policy: Policy) -> None:
        if not policy.auto_promote:
            raise errors.AutoPromotionRefused(f"{self.name} does not auto-promote")
        if release.sha in self.rolled_back:
            raise errors.AutoPromotionRefused(
                f"release {release.sha[:12]} was rolled back in {self.name}; "
                "auto-promotion waits for a newer release"
            )
        if release.number <= self.desired_number:
            raise errors.AutoPromotionRefused(
                f"release {release.sha[:12]} (#{release.number}) is not newer than "
                f"#{self.desired_number} in {self.name}"
            )

    # --- what a command would say, without running it --------------------------------

    def promotion_refusals(
        self,
        release: ReleaseRef,
        *,
        policy: Policy,
        now: datetime,
        upstream: str | None = None,
        upstream_verified: Collection[str] = (),
        auto: bool = False,
        override: Override | None = None,
    ) -> list[errors.DomainError]:
        """Every rule that `request_promotion` with these facts would break (none: accepted).

        The command's own guards, each run on its own so that every reason shows, not
        only the first; nothing changes.
        """
        overridden: list[str] = []
        checks: list[Callable[[], object]] = [
            self._check_nothing_in_flight,
            lambda: self._check_not_desired(release.sha),
            *([lambda: self._check_auto(release, policy)] if auto else []),
            lambda: overridden.extend(
                self._check_upstream(
                    release,
                    upstream=upstream,
                    upstream_verified=upstream_verified,
                    override=override,
                )
            ),
            lambda: overridden.extend(self._check_freeze(policy, now, override)),
            lambda: self._check_override_reason(overridden, override),
        ]
        return _refusals(checks)

    def approval_refusals(self, promotion_id: str, user: str) -> list[errors.DomainError]:
        """What `approve` by `user` would refuse for (none: accepted); nothing changes."""
        return _refusals([lambda: self._check_approval(promotion_id, user)])

    def rollback_refusals(self, to: ReleaseRef | None = None) -> list[errors.DomainError]:
        """What `request_rollback` to `to` would refuse for (none: accepted); nothing changes."""
        return _refusals([lambda: self._rollback_release(to)])

    # --- commands ----------------------------------------------------------------------

    def request_promotion(
        self,
        *,
        promotion_id: str,
        release: ReleaseRef,
        requested_by: str,
        reason: str,
        policy: Policy,
        now: datetime,
        upstream: str | None = None,
        upstream_verified: Collection[str] = (),
        auto: bool = False,
        override: Override | None = None,
    ) -> None:
        """Ask for `release` to run here; starts at once when no approval is needed."""
        self._check_nothing_in_flight()
        self._check_not_desired(release.sha)
        if auto:
            self._check_auto(release, policy)
        overridden = self._check_rules(
            release,
            policy=policy,
            upstream=upstream,
            upstream_verified=upstream_verified,
            now=now,
            override=override,
        )
        self._requested(
            promotion_id=promotion_id,
            release=release.sha,
            release_number=release.number,
            kind=PromotionKind.AUTO if auto else PromotionKind.MANUAL,
            requested_by=requested_by,
            reason=reason,
            from_environment=upstream,
            approvals_required=policy.approvals,
            at=now,
        )
        if override is not None and overridden:
            self._overridden(
                promotion_id=promotion_id,
                rules=overridden,
                by=override.by,
                reason=override.reason,
            )
        if policy.approvals == 0:
            self._started(promotion_id=promotion_id, release=self._release_of(promotion_id), at=now)

    def approve(self, *, promotion_id: str, user: str, now: datetime, comment: str = "") -> None:
        """Record one approval; the promotion starts when it has enough."""
        self._check_approval(promotion_id, user)
        self._approved(promotion_id=promotion_id, by=user, comment=comment, at=now)
        if self.promotion is not None and self.promotion.is_approved:
            self._started(promotion_id=promotion_id, release=self._release_of(promotion_id), at=now)

    def reject(self, *, promotion_id: str, user: str, reason: str, now: datetime) -> None:
        """Refuse a promotion that awaits approval."""
        promotion = self._promotion(promotion_id)
        self._check_phase(promotion, "reject", PromotionPhase.AWAITING_APPROVAL)
        self._rejected(promotion_id=promotion_id, by=user, reason=reason, at=now)

    def cancel(self, *, promotion_id: str, user: str, reason: str, now: datetime) -> None:
        """Withdraw a promotion before it starts (after that, roll back instead)."""
        promotion = self._promotion(promotion_id)
        self._check_phase(promotion, "cancel", PromotionPhase.AWAITING_APPROVAL)
        self._cancelled(promotion_id=promotion_id, by=user, reason=reason, at=now)

    def request_rollback(
        self,
        *,
        promotion_id: str,
        requested_by: str,
        reason: str,
        now: datetime,
        to: ReleaseRef | None = None,
        to_number: int = 0,
    ) -> None:
        """Go back to a release that was verified here; supersedes a promotion in flight.

        Rollbacks skip approvals and freeze windows: they are how an incident ends.
        """
        release = self._rollback_release(to)
        if (p := self.in_flight) is not None:
            self._superseded(promotion_id=p.id, by_promotion=promotion_id, at=now)
        self._requested(
            promotion_id=promotion_id,
            release=release,
            release_number=to.number if to is not None else to_number,
            kind=PromotionKind.ROLLBACK,
            requested_by=requested_by,
            reason=reason,
            from_environment=None,
            approvals_required=0,
            at=now,
        )
        if self.desired_release is not None:
            self._rolled_back(release=self.desired_release, promotion_id=promotion_id)
        self._started(promotion_id=promotion_id, release=self._release_of(promotion_id), at=now)

    def record_sync(
        self,
        *,
        sync_id: str,
        release: str,
        now: datetime,
        objects: list[dict[str, Any]] | None = None,
    ) -> None:
        """The applier made the cluster match `release`."""
        self._check_sync_is(sync_id, required=False)
        self._synced(sync_id=sync_id, release=release, objects=objects or [], at=now)

    def _check_sync_is(self, sync_id: str, *, required: bool = True) -> None:
        """The outcome of a sync names the sync that is open (if one must be)."""
        if self.open_sync is None:
            if required:
                raise errors.SyncNotOpen(self.name, sync_id, None)
            return
        if self.open_sync.id != sync_id:
            raise errors.SyncNotOpen(self.name, sync_id, self.open_sync.id)

    def start_sync(
        self, *, sync_id: str, release: str, object_count: int, reason: str, now: datetime
    ) -> None:
        """The applier begins to apply `release`; at most one sync is open at a time."""
        if self.open_sync is not None:
            raise errors.SyncInProgress(self.name, self.open_sync.id)
        self._sync_started(
            sync_id=sync_id, release=release, object_count=object_count, reason=reason, at=now
        )

    def fail_sync(
        self,
        *,
        sync_id: str,
        object: str,
        reason: str,
        message: str,
        attempts: int,
        now: datetime,
    ) -> None:
        """The open sync stopped at `object` with the Kubernetes status `reason`."""
        self._check_sync_is(sync_id)
        self._sync_failed(
            sync_id=sync_id,
            release=self.open_sync.release if self.open_sync else "",
            object=object,
            reason=reason,
            message=message,
            attempts=attempts,
            at=now,
        )

    def abandon_sync(self, *, reason: str, now: datetime) -> str | None:
        """Close a sync that has no outcome (its applier died); returns its id."""
        if (open_sync := self.open_sync) is None:
            return None
        self._sync_abandoned(sync_id=open_sync.id, release=open_sync.release, reason=reason, at=now)
        return open_sync.id

    def detect_drift(self, *, release: str, objects: list[dict[str, Any]], now: datetime) -> bool:
        """Live objects differ from what was applied; recorded once per distinct drift."""
        if not objects:
            raise ValueError("a drift names at least one object")
        if objects == self.drift:
            return False
        self._drift_detected(release=release, objects=objects, at=now)
        return True

    def correct_drift(self, *, sync_id: str, now: datetime) -> None:
        """A sync re-applied what had drifted."""
        if not self.drift:
            raise errors.NoDrift(self.name)
        self._drift_corrected(
            sync_id=sync_id,
            release=self.applied_release or "",
            objects=[str(d.get("object")) for d in self.drift],
            at=now,
        )

    def record_health(self, *, health: Health, reasons: list[str], now: datetime) -> None:
        """The applier assessed health; only a change is recorded.

        Unknown is recorded again when its reasons change (why nothing is known matters:
        a cluster that does not answer is not a target never assessed).
        """
        # after a sync, a Healthy that merely persists must be confirmed to start the soak
        confirm = health == Health.HEALTHY and self.healthy_since is None
        unknown_why = health == Health.UNKNOWN and reasons != self.health_reasons
        if health != self.health or confirm or unknown_why:
            self._health_changed(previous=self.health, health=health, reasons=reasons, at=now)

    def verify(self, *, soak_seconds: float, now: datetime) -> bool:
        """Complete the synced promotion once it has been healthy for the soak time."""
        p = self.in_flight
        if p is None or p.phase != PromotionPhase.SYNCED or self.healthy_since is None:
            return False
        if (now - self.healthy_since).total_seconds() < soak_seconds:
            return False
        self._verified(promotion_id=p.id, release=p.release, at=now)
        return True

    def fail(self, *, promotion_id: str, reason: str, now: datetime) -> None:
        """End a started promotion as failed (sync error, or degraded after the sync)."""
        promotion = self._promotion(promotion_id)
        self._check_phase(promotion, "fail", PromotionPhase.STARTED, PromotionPhase.SYNCED)
        self._failed(promotion_id=promotion_id, reason=reason, at=now)

    # --- events ------------------------------------------------------------------------
    # Each method's signature is its event's fields; what an event changes is written
    # once, in `target_state.evolve`, which `Event.apply` runs for every event.

    class Event(Aggregate.Event):
        """A Target event: applied to the aggregate's state by `evolve`."""

        def apply(self, aggregate: Any) -> None:
            """Fold this event into the aggregate's state."""
            # the class's qualified name is the stored type name (`Target.PromotionStarted`)
            aggregate.state = evolve(
                getattr(aggregate, "state", None), EventType(type(self).__qualname__), vars(self)
            )

    @event(EventType.PROMOTION_REQUESTED.event)
    def _requested(
        self,
        promotion_id: str,
        release: str,
        release_number: int,
        kind: str,
        requested_by: str,
        reason: str,
        from_environment: str | None,
        approvals_required: int,
        at: datetime,
    ) -> None:
        """A promotion was asked for."""

    @event(EventType.POLICY_OVERRIDDEN.event)
    def _overridden(self, promotion_id: str, rules: list[str], by: str, reason: str) -> None:
        """An admin set `rules` aside for the promotion."""

    class PromotionApproved(Aggregate.Event):
        """One approval. Version 2 renamed `approver` to `by` and added `comment`."""

        class_version = 2
        promotion_id: str
        by: str
        comment: str
        at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """v1 → v2: `approver` became `by`; approvals gained a comment."""
            state["by"] = state.pop("approver")
            state.setdefault("comment", "")

    @event(PromotionApproved)
    def _approved(self, promotion_id: str, by: str, comment: str, at: datetime) -> None:
        """One user approved."""

    @event(EventType.PROMOTION_STARTED.event)
    def _started(self, promotion_id: str, release: str, at: datetime) -> None:
        """The promotion's release became the desired one."""

    @event(EventType.PROMOTION_REJECTED.event)
    def _rejected(self, promotion_id: str, by: str, reason: str, at: datetime) -> None:
        """An approver said no."""

    @event(EventType.PROMOTION_CANCELLED.event)
    def _cancelled(self, promotion_id: str, by: str, reason: str, at: datetime) -> None:
        """The promotion was withdrawn before it started."""

    @event(EventType.PROMOTION_SUPERSEDED.event)
    def _superseded(self, promotion_id: str, by_promotion: str, at: datetime) -> None:
        """A rollback took the promotion's place."""

    @event(EventType.RELEASE_ROLLED_BACK.event)
    def _rolled_back(self, release: str, promotion_id: str) -> None:
        """`release` was rolled back; auto-promotion skips it until verified again."""

    @event(EventType.SYNC_STARTED.event)
    def _sync_started(
        self, sync_id: str, release: str, object_count: int, reason: str, at: datetime
    ) -> None:
        """The applier began to apply `release`."""

    @event(EventType.SYNC_FAILED.event)
    def _sync_failed(
        self,
        sync_id: str,
        release: str,
        object: str,
        reason: str,
        message: str,
        attempts: int,
        at: datetime,
    ) -> None:
        """The open sync stopped at `object`."""

    @event(EventType.SYNC_ABANDONED.event)
    def _sync_abandoned(self, sync_id: str, release: str, reason: str, at: datetime) -> None:
        """The open sync was closed without an outcome."""

    @event(EventType.DRIFT_DETECTED.event)
    def _drift_detected(self, release: str, objects: list[dict[str, Any]], at: datetime) -> None:
        """Live objects differ from what was applied."""

    @event(EventType.DRIFT_CORRECTED.event)
    def _drift_corrected(
        self, sync_id: str, release: str, objects: list[str], at: datetime
    ) -> None:
        """A sync re-applied what had drifted."""

    @event(EventType.SYNC_SUCCEEDED.event)
    def _synced(
        self, sync_id: str, release: str, objects: list[dict[str, Any]], at: datetime
    ) -> None:
        """The cluster matches `release`."""

    @event(EventType.HEALTH_CHANGED.event)
    def _health_changed(self, previous: str, health: str, reasons: list[str], at: datetime) -> None:
        """Health changed (or an Unknown's reasons did, or a Healthy was confirmed)."""

    @event(EventType.PROMOTION_VERIFIED.event)
    def _verified(self, promotion_id: str, release: str, at: datetime) -> None:
        """The promotion's release was healthy for the soak time."""

    @event(EventType.PROMOTION_FAILED.event)
    def _failed(self, promotion_id: str, reason: str, at: datetime) -> None:
        """The started promotion failed."""


def _refusals(checks: Sequence[Callable[[], object]]) -> list[errors.DomainError]:
    """The domain errors the checks raise, each check run whatever the others raised."""
    found: list[errors.DomainError] = []
    for check in checks:
        try:
            check()
        except errors.DomainError as exc:
            found.append(exc)
    return found
