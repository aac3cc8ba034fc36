"""How the appliers' work shows up in traces.

Where it sits: used by ``worker.py`` (one span per pass, per sync, per health assessment)
and ``execute.py`` (one span per object applied or pruned; the Kubernetes requests under
it come from the aiohttp client instrumentation, see
``engine.telemetry.instrument_kubernetes_client``).

A pass that applies a promotion continues that promotion's trace: its parent is the
traceparent of the ``PromotionStarted`` event that woke the worker, so one trace runs from
the API call to the server-side apply. Later passes (health checks while the release
soaks, drift checks, self-heal syncs) start traces of their own that *link* back to it.
The events a pass records carry the pass's own trace context.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, StatusCode

from engine.domain.enums import PromotionPhase
from engine.domain.target import Target
from engine.store import EventMetadata, RecordedEvent
from engine.telemetry import context_of, current_traceparent, link_to

tracer = trace.get_tracer("baton.appliers")


def _attributes(app: str, environment: str, target: Target | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"baton.app": app, "baton.environment": environment}
    if target is not None and target.desired_release:
        attributes["baton.release"] = target.desired_release
    promotion = target.promotion if target is not None else None
    if promotion is not None:
        attributes["baton.promotion_id"] = promotion.id
        attributes["baton.promotion_phase"] = promotion.phase.value
    return attributes


def applies_promotion(target: Target | None, cause: RecordedEvent | None) -> bool:
    """True when this pass is the one that carries out the promotion `cause` started."""
    if target is None or cause is None or target.promotion is None:
        return False
    promotion = target.promotion
    return (
        promotion.phase == PromotionPhase.STARTED and cause.data.get("promotion_id") == promotion.id
    )


@contextmanager
def pass_span(
    app: str, environment: str, target: Target | None, cause: RecordedEvent | None
) -> Iterator[Span]:
    """The span of one worker pass: a child of the promotion it applies, else a new trace
    linked to the promotion that set the desired release."""
    traceparent = cause.metadata.traceparent if cause is not None else None
    parent, links = None, []
    if applies_promotion(target, cause):
        parent = context_of(traceparent)
    elif (link := link_to(traceparent)) is not None:
        links.append(link)
    with tracer.start_as_current_span(
        f"applier {app}/{environment}",
        context=parent,
        links=links,
        attributes=_attributes(app, environment, target),
    ) as span:
        yield span


@contextmanager
def object_span(verb: str, body: dict[str, Any]) -> Iterator[Span]:
    """The span of one object applied or pruned, named for it."""
    metadata = body.get("metadata") or {}
    kind, name = body.get("kind", "?"), metadata.get("name", "?")
    namespace = metadata.get("namespace") or ""
    attributes = {"k8s.kind": kind, "k8s.object.name": name, "k8s.namespace.name": namespace}
    where = f"{namespace}/{name}" if namespace else name
    with tracer.start_as_current_span(f"{verb} {kind} {where}", attributes=attributes) as span:
        yield span


def failed(span: Span, exc: BaseException) -> None:
    """Mark `span` as failed by `exc` (for errors handled without re-raising)."""
    span.record_exception(exc)
    span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")


def with_active_trace(metadata: EventMetadata) -> EventMetadata:
    """`metadata` carrying the active span's trace context (events of a traced pass)."""
    traceparent = current_traceparent()
    if traceparent is None or traceparent == metadata.traceparent:
        return metadata
    return replace(metadata, traceparent=traceparent, tracestate=None)
