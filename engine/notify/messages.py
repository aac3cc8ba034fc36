"""What a notification says: a Jinja2 template per trigger, or the channel's own.

Where it sits: between an event of the log and a channel's sender (``engine.notify.send``).
:func:`context_of` turns an event into the variables a template sees; :func:`render`
gives the message's title and text. Templates run in Jinja2's sandbox with undefined
names refused, so the config loader can prove a channel's ``template`` renders for each of
its triggers (:func:`check_template`, against a sample event per trigger) before any of
the config is used. No I/O here: the config loader uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from engine.domain.ids import audit_stream, freeze_stream, scope_of_stream, short_sha
from engine.domain.notification import TRIGGERS, Trigger

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)

#: the text of each trigger's message, unless the channel has its own template
DEFAULTS: dict[Trigger, str] = {
    Trigger.PROMOTION_REQUESTED: (
        "Promotion of {{ app }} {{ release }} to {{ environment }} requested"
        " by {{ event.data.requested_by }}{% if event.data.reason %}: {{ event.data.reason }}"
        "{% endif %}"
    ),
    Trigger.AWAITING_APPROVAL: (
        "Promotion of {{ app }} {{ release }} to {{ environment }} awaits"
        " {{ event.data.approvals_required }} approval(s)"
    ),
    Trigger.PROMOTION_STARTED: "Promotion of {{ app }} {{ release }} to {{ environment }} started",
    Trigger.PROMOTION_SUCCEEDED: (
        "{{ app }} {{ release }} is verified in {{ environment }}: promotion succeeded"
    ),
    Trigger.PROMOTION_FAILED: (
        "Promotion of {{ app }} to {{ environment }} failed: {{ event.data.reason }}"
    ),
    Trigger.ROLLED_BACK: "{{ app }} in {{ environment }} rolled back to {{ release }}",
    Trigger.DRIFT_DETECTED: (
        "Drift in {{ app }}/{{ environment }}: {{ event.data.objects | length }} object(s)"
        " differ from {{ release }}"
    ),
    Trigger.DRIFT_CORRECTED: (
        "Drift in {{ app }}/{{ environment }} corrected:"
        " {{ event.data.objects | length }} object(s) re-applied"
    ),
    Trigger.HEALTH_DEGRADED: (
        "{{ app }} in {{ environment }} is Degraded (was {{ event.data.previous }})"
        "{% if event.data.reasons %}: {{ event.data.reasons | join('; ') }}{% endif %}"
    ),
    Trigger.FREEZE_STARTED: (
        "Freeze window {{ event.data.window }} started for {{ app }} in {{ environment }}:"
        " promotions are refused until {{ event.data.ends_at }}"
    ),
    Trigger.FREEZE_ENDED: (
        "Freeze window {{ event.data.window }} ended for {{ app }} in {{ environment }}"
        " at {{ event.data.at }}: promotions are allowed again"
    ),
    Trigger.AUDIT_CHAIN_BROKEN: (
        "The event log was tampered with or corrupted: the hash chain breaks at position"
        " {{ event.data.position }} ({{ event.data.reason }}), found at {{ event.data.found_at }}"
    ),
}

_SAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
_PROMOTION = {"promotion_id": "p-sample", "at": _SAMPLE_TIME}
#: an event of each trigger, as recorded, to prove a template renders before it is used
SAMPLES: dict[Trigger, dict[str, Any]] = {
    Trigger.PROMOTION_REQUESTED: {
        **_PROMOTION,
        "release": "0" * 40,
        "release_number": 1,
        "kind": "promotion",
        "requested_by": "alice",
        "reason": "sample",
        "from_environment": "dev",
        "approvals_required": 1,
    },
    Trigger.PROMOTION_STARTED: {**_PROMOTION, "release": "0" * 40},
    Trigger.PROMOTION_SUCCEEDED: {**_PROMOTION, "release": "0" * 40},
    Trigger.PROMOTION_FAILED: {**_PROMOTION, "reason": "sample"},
    Trigger.ROLLED_BACK: {"promotion_id": "p-sample", "release": "0" * 40},
    Trigger.DRIFT_DETECTED: {"release": "0" * 40, "objects": [], "at": _SAMPLE_TIME},
    Trigger.DRIFT_CORRECTED: {
        "sync_id": "s-sample",
        "release": "0" * 40,
        "objects": [],
        "at": _SAMPLE_TIME,
    },
    Trigger.HEALTH_DEGRADED: {
        "previous": "Healthy",
        "health": "Degraded",
        "reasons": ["sample"],
        "at": _SAMPLE_TIME,
    },
}
SAMPLES[Trigger.AWAITING_APPROVAL] = SAMPLES[Trigger.PROMOTION_REQUESTED]
# times as the log hands them over: ISO 8601 text
_FREEZE_ENDS = "2026-01-01T06:00:00+00:00"
SAMPLES[Trigger.FREEZE_STARTED] = {
    "window": "sample-window",
    "started_at": _SAMPLE_TIME.isoformat(),
    "ends_at": _FREEZE_ENDS,
}
SAMPLES[Trigger.FREEZE_ENDED] = {"window": "sample-window", "at": _FREEZE_ENDS}
SAMPLES[Trigger.AUDIT_CHAIN_BROKEN] = {
    "position": 42,
    "reason": "hash does not match",
    "found_at": _SAMPLE_TIME.isoformat(),
}
#: the stream a sample event is on: a target's, unless its trigger's events live elsewhere
_SAMPLE_STREAMS: dict[Trigger, str] = {
    Trigger.FREEZE_STARTED: freeze_stream("sample-app", "sample-env"),
    Trigger.FREEZE_ENDED: freeze_stream("sample-app", "sample-env"),
    Trigger.AUDIT_CHAIN_BROKEN: audit_stream(),
}


@dataclass(frozen=True, kw_only=True)
class Message:
    """A notification ready for a sender."""

    trigger: Trigger
    title: str
    text: str
    link: str | None
    context: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Told:
    """The event a message tells of, as the log holds it (no store types here)."""

    position: int
    type: str
    stream_id: str
    data: Mapping[str, Any]
    recorded_at: datetime


def context_of(told: Told, trigger: Trigger, *, public_url: str | None) -> dict[str, Any]:
    """The variables a template sees."""
    app, environment = scope_of_stream(told.stream_id)
    promotion_id = told.data.get("promotion_id")
    release = told.data.get("release")
    link = None
    if public_url:
        base = public_url.rstrip("/")
        if promotion_id:
            link = f"{base}/promotions/{promotion_id}"
        elif app:
            link = f"{base}/apps/{app}"
        elif told.stream_id == audit_stream():
            link = f"{base}/audit/{told.data.get('position')}"
    return {
        "trigger": str(trigger),
        "app": app or "",
        "environment": environment or "",
        "promotion_id": promotion_id or "",
        "release": short_sha(release) if isinstance(release, str) else "",
        "url": link or "",
        "event": {
            "type": told.type,
            "position": told.position,
            "stream": told.stream_id,
            "time": told.recorded_at.isoformat(),
            "data": dict(told.data),
        },
    }


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    return _ENV.from_string(source)


def render(
    told: Told, trigger: Trigger, *, template: str | None, public_url: str | None
) -> Message:
    """The message of `told` for `trigger`; the channel's `template`, or the default."""
    context = context_of(told, trigger, public_url=public_url)
    title = _compiled(DEFAULTS[trigger]).render(context).strip()
    text = title if template is None else _compiled(template).render(context).strip()
    return Message(
        trigger=trigger, title=title, text=text, link=context["url"] or None, context=context
    )


def sample(trigger: Trigger) -> Told:
    """A made-up event of `trigger` (a config check, `baton notify test`)."""
    return Told(
        position=0,
        type=TRIGGERS[trigger][0].value,
        stream_id=_SAMPLE_STREAMS.get(trigger, "target:sample-app:sample-env"),
        data=SAMPLES[trigger],
        recorded_at=_SAMPLE_TIME,
    )


def check_template(source: str, triggers: frozenset[Trigger] | set[Trigger]) -> str | None:
    """Why `source` does not render for one of `triggers` (None: it renders for each)."""
    try:
        compiled = _compiled(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return f"template line {line}: {exc}" if line else f"template: {exc}"
    for trigger in sorted(triggers):
        context = context_of(sample(trigger), trigger, public_url="https://baton.example")
        try:
            compiled.render(context)
        except TemplateError as exc:
            return f"template does not render for {trigger}: {exc}"
        except Exception as exc:  # a filter given the wrong type, a division by zero
            return f"template does not render for {trigger}: {type(exc).__name__}: {exc}"
    return None
