"""What each operation answers, field by field: the response models of the OpenAPI document.

Where it sits: named by the views' `@Operation(answers=...)`; `api.openapi` turns them into
the document's schemas (pydantic's JSON Schema of each), and schemathesis checks the server
against them. A key that may be left out is `NotRequired`; one that may be null is `| None`.
They are TypedDicts (from typing_extensions, which pydantic needs before Python 3.12)
because the views answer plain dicts built from read-model rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from api.jobs import JobState
from engine.domain.enums import Health, PromotionKind, PromotionPhase
from engine.supervisor import TaskState

TraceUrl = Annotated[
    str, Field(description="the trace in Jaeger's UI (when BATON_JAEGER_URL is set)")
]


class FieldError(TypedDict):
    """One field at fault and what is wrong with it."""

    field: str
    message: str


class Problem(TypedDict):
    """An RFC 9457 problem: every error answer."""

    type: Annotated[str, Field(json_schema_extra={"format": "uri"})]
    title: str
    status: Annotated[int, Field(ge=400, le=599)]
    detail: NotRequired[str]
    instance: NotRequired[str]
    field: NotRequired[Annotated[str, Field(description="the field, parameter or header at fault")]]
    errors: NotRequired[list[FieldError]]
    promotion_id: NotRequired[Annotated[str, Field(description="the promotion in flight")]]
    problems: NotRequired[list[str]]
    required_role: NotRequired[str]
    environment: NotRequired[str]
    job_id: NotRequired[Annotated[str, Field(description="the replay job still running")]]
    max_depth: NotRequired[int]


class Liveness(TypedDict):
    """The process answers, and says which baton it is."""

    status: str
    version: str  # the installed package's version, as `baton version` shows it


class TaskStatus(TypedDict):
    """A background task of the process."""

    state: TaskState
    restarts: int
    failing_since: datetime | None
    last_error: str | None


class Readiness(TypedDict):
    """Whether the process can do its job, check by check."""

    ready: bool
    checks: dict[str, Any]
    tasks: Annotated[
        dict[str, TaskStatus],
        Field(description="each background task of the process, by name (not a check)"),
    ]


class Approval(TypedDict):
    """One approval of a promotion."""

    by: str
    at: datetime
    comment: str


class PromotionProgress(TypedDict):
    """How far a promotion got after it started: the sync of its release, its target's
    health since, its soak. A sync counts its objects applied when it ends."""

    objects_total: Annotated[
        int | None, Field(description="the objects its release's sync applies (null: no sync yet)")
    ]
    objects_applied: Annotated[
        int | None, Field(description="of those, the objects applied: 0 until the sync ends")
    ]
    sync_error: Annotated[
        str | None, Field(description="where the last sync stopped, until one succeeds")
    ]
    health: Annotated[
        Health | None, Field(description="the target's health since the release synced")
    ]
    health_reasons: list[str]
    healthy_since: Annotated[
        datetime | None, Field(description="when the soak began (healthy, after the sync)")
    ]
    soak_seconds: Annotated[
        float | None, Field(description="the environment's soak time (null: unknown)")
    ]
    soak_left_seconds: Annotated[
        float | None, Field(description="until the soak is over, while healthy (null: not soaking)")
    ]


class Promotion(TypedDict):
    """A promotion: a request to move a release into a target."""

    id: str
    app: str
    environment: str
    release: str
    release_number: NotRequired[int]
    kind: PromotionKind
    phase: PromotionPhase
    requested_by: str
    requested_at: NotRequired[datetime]
    reason: NotRequired[str]
    from_environment: NotRequired[str | None]
    approvals_required: NotRequired[int]
    approvals: NotRequired[list[Approval]]
    previous_release: NotRequired[str | None]
    overrides: NotRequired[list[str]]
    started_at: NotRequired[datetime | None]
    synced_at: NotRequired[datetime | None]
    finished_at: NotRequired[datetime | None]
    outcome: NotRequired[str | None]
    trace_id: NotRequired[str | None]
    trace_url: NotRequired[TraceUrl]
    progress: NotRequired[
        Annotated[PromotionProgress, Field(description="in the answer of one promotion only")]
    ]


class PromotionList(TypedDict):
    """Promotions: by app, then in each app's pipeline order, newest first in a target."""

    items: list[Promotion]


class PreviewRefusal(TypedDict):
    """A reason the command would be refused, as the command's own problem would give it."""

    code: Annotated[str, Field(description="the problem type the command would answer with")]
    status: Annotated[int, Field(description="the HTTP status the command would answer with")]
    message: str


class ObjectRef(TypedDict):
    """One Kubernetes object."""

    apiVersion: str
    kind: str
    namespace: str
    name: str


class ChangedObject(ObjectRef):
    """An object the candidate changes, with the unified diff of its manifest."""

    diff: Annotated[str, Field(description="unified diff of the object as YAML, keys sorted")]


class ManifestChanges(TypedDict):
    """What the sync would apply and prune, the rendered manifests compared object by object."""

    added: list[ObjectRef]
    changed: list[ChangedObject]
    pruned: list[ObjectRef]
    unchanged: int


class ObjectDryRun(ObjectRef):
    """What the API server said to one object's dry-run apply."""

    verdict: Literal["ok", "refused", "skipped"]
    message: str


class DryRun(TypedDict):
    """The server-side dry run (dryRun=All) of the objects the sync would apply."""

    status: Literal["done", "unavailable", "skipped"]
    reason: str | None
    objects: list[ObjectDryRun]


class Preview(TypedDict):
    """A promotion or rollback as it would go now; nothing was written."""

    app: str
    environment: str
    kind: PromotionKind
    release: Annotated[str | None, Field(description="the candidate; null when there is none")]
    release_number: int | None
    running_release: Annotated[str | None, Field(description="the release applied there now")]
    accepted: Annotated[bool, Field(description="the command would be accepted for this caller")]
    allowed: Annotated[bool, Field(description="the caller holds the role the command needs")]
    required_role: str
    refusals: list[PreviewRefusal]
    approvals_required: int
    manifests: ManifestChanges | None
    manifests_error: Annotated[
        str | None, Field(description="why the manifests could not be rendered")
    ]
    dry_run: DryRun


class InFlight(TypedDict):
    """The promotion in flight in a target."""

    id: str
    release: str
    phase: str


class Environment(TypedDict):
    """One environment of an app's pipeline, with its target's state."""

    environment: str
    upstream: NotRequired[str | None]
    policy: NotRequired[dict[str, Any] | None]
    desired_release: NotRequired[str | None]
    applied_release: NotRequired[str | None]
    last_verified_release: NotRequired[str | None]
    health: str
    sync_status: str
    in_flight: InFlight | None
    last_promotion: NotRequired[dict[str, Any] | None]
    last_changed_at: NotRequired[datetime | None]
    last_actor: NotRequired[str | None]


class App(TypedDict):
    """An app's pipeline: each environment's desired and applied release, health, sync."""

    name: str
    source: dict[str, Any] | None
    environments: list[Environment]


class AppList(TypedDict):
    """Every app."""

    items: list[App]


class Release(TypedDict):
    """An immutable snapshot of an app: a commit and the digest of its manifests."""

    app: str
    sha: str
    number: int
    digest: str
    message: NotRequired[str]
    author: NotRequired[str]
    committed_at: NotRequired[datetime | None]
    created_at: datetime
    created_position: NotRequired[int]


class ReleasePage(TypedDict):
    """A page of releases, newest first."""

    items: list[Release]
    next_before: Annotated[int | None, Field(description="`before` of the next page")]


class LineageStep(TypedDict):
    """How a release went into one environment."""

    environment: str
    promotion_id: str
    kind: str
    requested_by: str
    requested_at: datetime
    approvals: list[dict[str, Any]]
    started_at: NotRequired[datetime | None]
    synced_at: NotRequired[datetime | None]
    verified_at: NotRequired[datetime | None]
    soak_seconds: NotRequired[float | None]
    outcome: NotRequired[str | None]
    rolled_back_at: NotRequired[datetime | None]
    rolled_back_by: NotRequired[str | None]
    rolled_back_reason: NotRequired[str | None]


class Lineage(Release):
    """A release and where it went: when, approved by whom, rolled back or not."""

    environments: list[LineageStep]


class AuditEntry(TypedDict):
    """One event of the audit log."""

    position: int
    recorded_at: datetime
    app: NotRequired[str | None]
    environment: NotRequired[str | None]
    actor: str
    action: str
    event_type: str
    summary: str
    trace_id: NotRequired[str | None]
    correlation_id: NotRequired[str | None]
    stream_id: str
    trace_url: NotRequired[TraceUrl]


class EventPage(TypedDict):
    """A page of the audit log and the cursors of the next."""

    items: list[AuditEntry]
    next_before: int | None
    next_after: int | None


class EventMetadata(TypedDict):
    """Who caused an event (and in which trace)."""

    actor: str


class Event(TypedDict):
    """A raw event, as the live tail sends it (SSE `data`) and NDJSON lines hold it."""

    position: int
    stream_id: str
    stream_version: NotRequired[int]
    type: str
    schema_version: NotRequired[int]
    data: dict[str, Any]
    metadata: EventMetadata
    recorded_at: datetime


class Moment(TypedDict, total=False):
    """A point in the log's history, as it was asked for: a time or a position."""

    at: datetime
    position: int


class TargetState(TypedDict):
    """What a target ran at a moment."""

    app: str
    environment: str
    desired_release: NotRequired[str | None]
    applied_release: NotRequired[str | None]
    desired_since: NotRequired[datetime | None]
    applied_since: NotRequired[datetime | None]
    desired_by: NotRequired[str | None]
    promotion_id: NotRequired[str | None]


class State(TypedDict):
    """What ran where at a moment."""

    as_of: Moment
    targets: list[TargetState]


# "from" is a Python keyword: these two name their keys in the functional form
Change = TypedDict(
    "Change",
    {
        "app": str,
        "environment": str,
        "field": Literal["desired_release", "applied_release"],
        "from": str | None,
        "to": str | None,
    },
)
Change.__doc__ = "One field of one target that changed between two moments."

StateDiff = TypedDict("StateDiff", {"from": Moment, "to": Moment, "changes": list[Change]})
StateDiff.__doc__ = "What changed between two moments."


class Job(TypedDict):
    """A background job (a replay), as any API process reports it."""

    id: str
    kind: str
    requested_by: NotRequired[str]
    state: JobState
    started_at: datetime
    finished_at: NotRequired[datetime | None]
    result: NotRequired[Any]
    error: NotRequired[str | None]


class ProjectionLag(TypedDict):
    """One projection's checkpoint and how far it is behind the log."""

    name: str
    version: int
    position: int
    lag: int
    updated_at: NotRequired[datetime | None]
    last_error: NotRequired[str | None]


class ProjectionStatus(TypedDict):
    """Every projection's checkpoint and lag."""

    head_position: int
    projections: list[ProjectionLag]


class ParkedEvent(TypedDict):
    """An event a subscription's handler refused `attempts` times, set aside."""

    position: int
    type: str
    error: str
    attempts: int
    parked_at: datetime


class SubscriptionHolder(TypedDict):
    """The process consuming a subscription now (it holds the one-consumer lock)."""

    pid: int
    host: str
    since: datetime


class SubscriptionState(TypedDict):
    """A durable subscription: its checkpoint, lag, consumer, last error, parked events."""

    name: str
    position: int
    lag: int
    updated_at: datetime
    last_error: str | None
    error_at: datetime | None
    holder: SubscriptionHolder | None
    parked: list[ParkedEvent]


class SubscriptionList(TypedDict):
    """Every durable subscription, by name."""

    head_position: int
    subscriptions: list[SubscriptionState]


class ChannelState(TypedDict):
    """A notification channel: what it hears of, and how its deliveries go."""

    name: str
    type: str
    triggers: list[str]
    apps: list[str]
    environments: list[str]
    last_position: int
    last_success: datetime | None
    failing_since: datetime | None


class ChannelList(TypedDict):
    """Every notification channel of the config."""

    channels: list[ChannelState]


class DeliveryState(TypedDict):
    """One delivery to a channel (or its final failure)."""

    id: Annotated[str, Field(description="<log position>:<channel>, as X-Baton-Delivery")]
    channel: str
    position: int
    event_type: str
    trigger: str
    delivered: bool
    status: int | None
    attempts: int
    error: str | None
    at: datetime | None


class DeliveryList(TypedDict):
    """Recent deliveries, newest first."""

    items: list[DeliveryState]


class AuditReport(TypedDict):
    """The hash chain recomputed: whether it holds, and where it first breaks."""

    ok: bool
    checked: int
    head_position: int
    broken_at: NotRequired[int | None]
    reason: NotRequired[str | None]
    verified_to: NotRequired[
        Annotated[int, Field(description="the last position whose hash matched")]
    ]
    verified_at: NotRequired[
        Annotated[
            datetime, Field(description="when this run was recorded (see audit_verifications)")
        ]
    ]


class ConfigReload(TypedDict):
    """What a reload of the environments config changed."""

    changed: bool
    apps: dict[str, Literal["registered", "changed", "unchanged"]]
    removed_apps: list[str]
    targets_added: list[str]
    targets_removed: list[str]
    health_checks: list[str]


class ObjectHealth(TypedDict):
    """One object's health verdict, its message and the rule that gave it."""

    api_version: str
    kind: str
    namespace: str
    name: str
    status: Health
    message: str
    rule: Annotated[str, Field(description="built-in <kind>, generic, missing, or a script's path")]


class HealthExplanation(TypedDict):
    """One row per object."""

    items: list[ObjectHealth]


class WebhookResult(TypedDict):
    """The apps a push woke."""

    triggered: list[str]
    branch: NotRequired[str | None]
    ignored: NotRequired[Annotated[str, Field(description="the Git event, when not a push")]]


Seconds = Annotated[float | None, Field(description="seconds; null when nothing was measured")]


class Deployments(TypedDict):
    """Deployment frequency: promotions verified in the environment (rollbacks included)."""

    count: int
    per_day: float


class LeadTime(TypedDict):
    """From the release's commit time to its verification (rollbacks left out)."""

    count: int
    p50_seconds: Seconds
    p90_seconds: Seconds


class ChangeFailure(TypedDict):
    """Changes started in the window, and those that failed or were rolled back."""

    started: int
    failed: int
    rate: Annotated[float | None, Field(description="failed ÷ started; null when none started")]


class Restore(TypedDict):
    """Incidents (a failure, a rollback or Degraded) and how long until Healthy again."""

    incidents: int
    restored: int
    p50_seconds: Seconds
    mean_seconds: Seconds


class InsightsBucket(TypedDict):
    """The four keys within one day or week of the window."""

    start: datetime
    deployments: int
    lead_time_p50_seconds: Seconds
    started: int
    failed: int
    change_failure_rate: float | None
    incidents: int
    restored: int
    restore_p50_seconds: Seconds


class TargetInsights(TypedDict):
    """The four DORA keys of one app in one environment."""

    app: str
    environment: str
    deployments: Deployments
    lead_time: LeadTime
    change_failure: ChangeFailure
    restore: Restore
    buckets: list[InsightsBucket]


class Insights(TypedDict):
    """The four DORA keys per app and environment over a window [since, until)."""

    since: datetime
    until: datetime
    bucket: Literal["day", "week"]
    items: list[TargetInsights]
