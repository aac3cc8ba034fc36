"""The watcher's recorder: what a Git poll found, recorded on the App aggregate.

Where it sits: between the Git watcher (``engine.git.watcher``, which decides) and the
event store (through ``engine.repository``). Each poll is load → commands → save on the
app's stream, retried when another writer got there first. The aggregate's commands
ignore SHAs it already holds, so a poll repeated after a crash or a restart records
nothing twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from opentelemetry import trace

from engine.backoff import retry
from engine.config.loader import EnvironmentsConfig
from engine.domain.app import App, CommitFacts, Rejection
from engine.domain.ids import app_stream
from engine.domain.pipeline import AppSpec
from engine.domain.policy import parse_duration
from engine.git.mirror import CommitInfo
from engine.git.plan import Observation, SourcePlan, SourceState
from engine.git.watcher import DEFAULT_INTERVAL, GitWatcher
from engine.repository import Repository
from engine.settings import Settings
from engine.store import ConcurrencyError, EventMetadata

WATCHER_ACTOR = "git-watcher"
INTERVAL_VARIABLE = "BATON_GIT_POLL_INTERVAL"
_ATTEMPTS = 5


def build_watcher(
    config: EnvironmentsConfig,
    *,
    settings: Settings,
    repository: Repository,
    environ: Mapping[str, str] | None = None,
) -> GitWatcher:
    """The watcher for every app of ``config``, mirrors under ``settings.home/repos``.

    The default interval is ``BATON_GIT_POLL_INTERVAL`` (e.g. ``30s``, the default when
    unset); an app's own ``poll_interval`` wins. Start it with ``await watcher.run()``
    in a named task; ``watcher.request_poll(app)`` polls one app now.
    """
    environ = os.environ if environ is None else environ
    text = environ.get(INTERVAL_VARIABLE)
    interval: timedelta = parse_duration(text) if text else DEFAULT_INTERVAL
    return GitWatcher(
        apps=config.apps,
        home=settings.home,
        recorder=ReleaseRecorder(repository),
        interval=interval,
    )


class ReleaseRecorder:
    """Implements the watcher's ``SourceRecorder`` on App aggregates."""

    def __init__(self, repository: Repository, *, actor: str = WATCHER_ACTOR) -> None:
        self.repository = repository
        self.actor = actor

    async def source_state(self, app: AppSpec) -> SourceState:
        """The branch head recorded last and every SHA already released or rejected."""
        aggregate = await self.repository.find(App, app_stream(app.name))
        if aggregate is None:
            return SourceState()
        return SourceState(head=aggregate.branch_head, known=aggregate.known_shas())

    async def record(self, app: AppSpec, plan: SourcePlan) -> None:
        """Apply the plan to the app's aggregate and save it (registering the app if new)."""
        metadata = _metadata(self.actor, plan)

        async def attempt() -> None:
            aggregate = await self.repository.find(App, app_stream(app.name))
            if aggregate is None:
                aggregate = App(name=app.name, config=app.as_record())
            apply_plan(aggregate, plan)
            await self.repository.save(aggregate, metadata=metadata)

        await retry(attempt, attempts=_ATTEMPTS, on=ConcurrencyError)


def apply_plan(app: App, plan: SourcePlan) -> None:
    """Turn a poll's plan into the aggregate's commands (each one idempotent)."""
    if plan.rewritten_from is not None:
        app.record_history_rewritten(old_head=plan.rewritten_from, new_head=plan.branch_head)
    for observation in plan.observations:
        commit = observation.commit
        if commit.sha in app.known_shas():
            continue
        app.observe_commit(_facts(commit, observation), branch_head=plan.branch_head)
        if observation.failure is not None:
            failure = observation.failure
            app.reject_release(
                sha=commit.sha,
                rejection=Rejection(
                    environment=failure.environment,
                    file=failure.file,
                    line=failure.line,
                    reason=failure.reason,
                ),
            )
            continue
        assert observation.manifests_digest is not None
        app.create_release(
            sha=commit.sha,
            digest=observation.manifests_digest,
            message=commit.message,
            author=commit.author,
            committed_at=commit.committed_at,
            committer=commit.committer,
            changed_files=observation.manifests_files,
            rendered=observation.rendered,
        )


def _facts(commit: CommitInfo, observation: Observation) -> CommitFacts:
    return CommitFacts(
        sha=commit.sha,
        author=commit.author,
        author_email=commit.author_email,
        authored_at=commit.authored_at,
        committer=commit.committer,
        committer_email=commit.committer_email,
        committed_at=commit.committed_at,
        message=commit.message,
        changed_files=observation.manifests_files,
    )


def _metadata(actor: str, plan: SourcePlan) -> EventMetadata:
    """Who recorded the poll, correlated by branch head, continuing the poll's trace."""
    context = trace.get_current_span().get_span_context()
    traceparent = None
    if context.is_valid:
        traceparent = (
            f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
        )
    return EventMetadata(
        actor=actor,
        correlation_id=f"git-poll:{plan.app}:{plan.branch_head[:12]}",
        traceparent=traceparent,
    )
