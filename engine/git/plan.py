"""Decide what one poll of one app found: new releases, rejected ones, a rewritten history.

Where it sits: the watcher's middle phase (observe → **plan** → record). Given what the
store already holds for the app (:class:`SourceState`: the branch head recorded last and
every sha already turned into a release or a rejection), it reads the mirror and renders
each new commit for every environment of the pipeline. It decides only; recording the
outcome as events is the recorder's job, so a crash between the two repeats the plan and
the stored state makes it come out the same (nothing twice). Blocking: run in an executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.domain.pipeline import AppSpec
from engine.git.mirror import CommitInfo, Mirror, files_under
from engine.render import RenderError, render_manifests


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceState:
    """What the store knows about an app's source (read from its aggregate)."""

    head: str | None = None
    known: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderFailure:
    """Why a commit's manifests cannot become a release."""

    environment: str | None
    file: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One new commit touching the manifests, rendered for every environment."""

    commit: CommitInfo
    manifests_files: tuple[str, ...]
    manifests_digest: str | None = None
    rendered: Mapping[str, str] = field(default_factory=dict)
    failure: RenderFailure | None = None

    @property
    def is_release(self) -> bool:
        """True when every environment rendered."""
        return self.failure is None


@dataclass(frozen=True, slots=True, kw_only=True)
class SourcePlan:
    """Everything one poll will record for one app."""

    app: str
    branch_head: str
    rewritten_from: str | None = None
    observations: tuple[Observation, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to record."""
        return self.rewritten_from is None and not self.observations


def plan_poll(*, mirror: Mirror, app: AppSpec, state: SourceState, head: str) -> SourcePlan:
    """Compare the stored state with the fetched ``head`` and render what is new."""
    rewritten_from: str | None = None
    if state.head == head:
        return SourcePlan(app=app.name, branch_head=head)
    if state.head is None:
        # First sight of the app: its current manifests are the one release to start
        # from; years of history would only be noise.
        commits = _latest(mirror, head, app.path)
    elif mirror.has_commit(state.head) and mirror.is_ancestor(state.head, head):
        commits = mirror.commits_since(state.head, head)
    else:
        # Not a fast-forward: the branch was rewritten. What is new is what the old head
        # cannot reach; if the mirror never held the old head (a fresh BATON_HOME), start
        # again from the current manifests.
        rewritten_from = state.head
        if mirror.has_commit(state.head):
            commits = mirror.commits_since(state.head, head)
        else:
            commits = _latest(mirror, head, app.path)
    new = [c for c in commits if c.touches(app.path) and c.sha not in state.known]
    return SourcePlan(
        app=app.name,
        branch_head=head,
        rewritten_from=rewritten_from,
        observations=tuple(observe(mirror=mirror, app=app, commit=c) for c in new),
    )


def _latest(mirror: Mirror, head: str, path: str) -> list[CommitInfo]:
    latest = mirror.latest_touching(head, path)
    return [latest] if latest is not None else []


def observe(*, mirror: Mirror, app: AppSpec, commit: CommitInfo) -> Observation:
    """Render ``commit``'s manifests (base and every environment); never raises on bad input."""
    changed = files_under(commit.changed_files, app.path)
    files = mirror.read_tree(commit.sha, app.path)
    if not files:
        failure = RenderFailure(
            environment=None,
            file=app.path,
            line=0,
            reason=f"the manifests path {app.path!r} does not exist at {commit.sha[:12]}",
        )
        return Observation(commit=commit, manifests_files=changed, failure=failure)
    current: str | None = None
    try:
        base = render_manifests(files, environment=None, prefix=app.path)
        rendered = {}
        for env in app.environments:
            current = env.name
            rendered[env.name] = render_manifests(
                files, environment=env.name, namespace=env.namespace, prefix=app.path
            ).digest
    except RenderError as exc:
        failure = RenderFailure(
            environment=current, file=exc.file, line=exc.line, reason=exc.reason
        )
        return Observation(commit=commit, manifests_files=changed, failure=failure)
    return Observation(
        commit=commit, manifests_files=changed, manifests_digest=base.digest, rendered=rendered
    )
