"""Domain errors: each says which rule refused what, with the values involved."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """A command broke a rule of the domain; nothing was recorded."""

    #: a short, stable name for the rule (used as the problem type in the API)
    code = "domain-error"


class PromotionInFlight(DomainError):
    """The target already has a promotion that has not finished."""

    code = "promotion-in-flight"

    def __init__(self, target: str, promotion_id: str, phase: str) -> None:
        self.target = target
        self.promotion_id = promotion_id
        super().__init__(
            f"{target} already has promotion {promotion_id} in flight ({phase}); "
            "wait for it, cancel it, or roll back"
        )


class NotVerifiedUpstream(DomainError):
    """The release has not been verified in the environment before this one."""

    code = "not-verified-upstream"

    def __init__(self, release: str, target: str, upstream: str) -> None:
        super().__init__(
            f"release {release[:12]} cannot enter {target}: it has not been verified in "
            f"{upstream} (an admin may override with a reason)"
        )


class EnvironmentFrozen(DomainError):
    """A freeze window is active."""

    code = "environment-frozen"

    def __init__(self, target: str, window: str, until: datetime) -> None:
        super().__init__(
            f"{target} is frozen by window {window!r} until {until.isoformat()} "
            "(an admin may override with a reason)"
        )


class OverrideNeedsReason(DomainError):
    """An override was asked for without saying why."""

    code = "override-needs-reason"

    def __init__(self, rule: str) -> None:
        super().__init__(f"overriding {rule} needs a reason")


class SelfApproval(DomainError):
    """The requester tried to approve their own promotion."""

    code = "self-approval"

    def __init__(self, promotion_id: str, user: str) -> None:
        super().__init__(f"{user} requested promotion {promotion_id} and cannot also approve it")


class AlreadyApproved(DomainError):
    """The same user approved twice."""

    code = "already-approved"

    def __init__(self, promotion_id: str, user: str) -> None:
        super().__init__(f"{user} has already approved promotion {promotion_id}")


class UnknownPromotion(DomainError):
    """No such promotion on this target."""

    code = "unknown-promotion"

    def __init__(self, target: str, promotion_id: str) -> None:
        super().__init__(f"{target} has no promotion {promotion_id}")


class InvalidPromotionState(DomainError):
    """The promotion is not in a phase where the command applies."""

    code = "invalid-promotion-state"

    def __init__(self, promotion_id: str, phase: str, action: str) -> None:
        self.phase = phase
        super().__init__(f"promotion {promotion_id} is {phase}; cannot {action}")


class AlreadyDesired(DomainError):
    """The release is already what the target should run."""

    code = "already-desired"

    def __init__(self, release: str, target: str) -> None:
        super().__init__(f"release {release[:12]} is already the desired release of {target}")


class NoRollbackTarget(DomainError):
    """There is no previously verified release to roll back to."""

    code = "no-rollback-target"

    def __init__(self, target: str, release: str | None = None) -> None:
        if release is None:
            message = f"{target} has no verified release before the current one to roll back to"
        else:
            message = (
                f"release {release[:12]} was never verified in {target}; "
                "a rollback goes to a release that was healthy there"
            )
        super().__init__(message)


class AutoPromotionRefused(DomainError):
    """Auto-promotion does not apply (disabled, older release, or rolled back)."""

    code = "auto-promotion-refused"


class UnknownRelease(DomainError):
    """The app has no such release."""

    code = "unknown-release"

    def __init__(self, app: str, release: str) -> None:
        super().__init__(f"app {app} has no release {release}")


class SyncInProgress(DomainError):
    """A sync is already open on the target (close it, or abandon it, first)."""

    code = "sync-in-progress"

    def __init__(self, target: str, sync_id: str) -> None:
        self.sync_id = sync_id
        super().__init__(f"{target} already has sync {sync_id} open; abandon it first")


class SyncNotOpen(DomainError):
    """An outcome was reported for a sync that is not the open one."""

    code = "sync-not-open"

    def __init__(self, target: str, sync_id: str, open_id: str | None) -> None:
        super().__init__(
            f"{target}: sync {sync_id} is not open "
            + (f"(sync {open_id} is)" if open_id else "(no sync is open)")
        )


class NoDrift(DomainError):
    """A correction was recorded while no drift was known."""

    code = "no-drift"

    def __init__(self, target: str) -> None:
        super().__init__(f"{target} has no detected drift to correct")


class NotParked(DomainError):
    """A retry was asked for an event the subscription has not parked."""

    code = "not-parked"

    def __init__(self, subscription: str, position: int) -> None:
        self.subscription = subscription
        self.position = position
        super().__init__(f"subscription {subscription} has no parked event at position {position}")


class NotDelivered(DomainError):
    """A resend was asked for an event the channel has no delivery of at hand."""

    code = "not-delivered"

    def __init__(self, channel: str, position: int) -> None:
        self.channel = channel
        self.position = position
        super().__init__(f"channel {channel} has no recent delivery of the event at {position}")
