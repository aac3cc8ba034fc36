"""The event vocabulary: every event type baton records, named once.

An event's fields, schema version and upcasters live on its aggregate's event class (the
`@event` method's signature, or a nested class with `class_version` and `upcast_vK_vK+1`);
its stored name lives here. The aggregates declare their events by these members, and
everything else that names an event (projections, their SQL, metrics, the API) uses them,
never a string of its own.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """A stored event type name: `Aggregate.Event`."""

    APP_CREATED = "App.Created"
    APP_REGISTERED = "App.Registered"
    APP_CONFIG_CHANGED = "App.ConfigChanged"
    APP_COMMIT_OBSERVED = "App.CommitObserved"
    APP_HISTORY_REWRITTEN = "App.HistoryRewritten"
    RELEASE_CREATED = "App.ReleaseCreated"
    RELEASE_REJECTED = "App.ReleaseRejected"
    TARGET_CREATED = "Target.Created"
    # migration 003 indexes these events by this name (events_promotion_requested_id):
    # renaming it needs a new migration that indexes the new name
    PROMOTION_REQUESTED = "Target.PromotionRequested"
    POLICY_OVERRIDDEN = "Target.PolicyOverridden"
    PROMOTION_APPROVED = "Target.PromotionApproved"
    PROMOTION_STARTED = "Target.PromotionStarted"
    PROMOTION_REJECTED = "Target.PromotionRejected"
    PROMOTION_CANCELLED = "Target.PromotionCancelled"
    PROMOTION_SUPERSEDED = "Target.PromotionSuperseded"
    PROMOTION_VERIFIED = "Target.PromotionVerified"
    PROMOTION_FAILED = "Target.PromotionFailed"
    RELEASE_ROLLED_BACK = "Target.ReleaseRolledBack"
    SYNC_STARTED = "Target.SyncStarted"
    SYNC_SUCCEEDED = "Target.SyncSucceeded"
    SYNC_FAILED = "Target.SyncFailed"
    SYNC_ABANDONED = "Target.SyncAbandoned"
    DRIFT_DETECTED = "Target.DriftDetected"
    DRIFT_CORRECTED = "Target.DriftCorrected"
    HEALTH_CHANGED = "Target.HealthChanged"
    SUBSCRIPTION_CREATED = "Subscription.Created"
    SUBSCRIPTION_EVENT_PARKED = "Subscription.EventParked"
    SUBSCRIPTION_PARKED_EVENT_RETRIED = "Subscription.ParkedEventRetried"
    NOTIFICATION_CREATED = "Notification.Created"
    NOTIFICATION_DELIVERED = "Notification.Delivered"
    NOTIFICATION_FAILED = "Notification.Failed"
    NOTIFICATION_RESEND_REQUESTED = "Notification.ResendRequested"
    FREEZE_CREATED = "Freeze.Created"
    FREEZE_STARTED = "Freeze.Started"
    FREEZE_ENDED = "Freeze.Ended"
    AUDIT_CREATED = "Audit.Created"
    AUDIT_CHAIN_BROKEN = "Audit.ChainBroken"

    @property
    def aggregate(self) -> str:
        """The aggregate class that records it (`Target`)."""
        return self.value.split(".", 1)[0]

    @property
    def event(self) -> str:
        """Its name within the aggregate (`PromotionStarted`), as `@event` takes it."""
        return self.value.split(".", 1)[1]


#: a promotion's end: each finishing event type, and the outcome it records
PROMOTION_ENDS = (
    EventType.PROMOTION_VERIFIED,
    EventType.PROMOTION_FAILED,
    EventType.PROMOTION_REJECTED,
    EventType.PROMOTION_CANCELLED,
    EventType.PROMOTION_SUPERSEDED,
)


def sql_list(*types: EventType) -> str:
    """`'A.B', 'C.D'` for an SQL `IN (...)`: the names are this module's own constants."""
    return ", ".join(f"'{t.value}'" for t in types)
