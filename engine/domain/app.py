"""The App aggregate (stream `app:<name>`): its configuration, its Git source and releases.

A release is an immutable snapshot: a commit SHA and the digest of the manifests rendered
from it, numbered in the order the app saw them. The Git watcher records what it finds
here (`CommitObserved`, `ReleaseCreated`, `ReleaseRejected`, `HistoryRewritten`), and the
config sync records `Registered` / `ConfigChanged` (with a diff). What the watcher
decides on a restart rests on this state alone: the branch head seen last and every SHA
already turned into a release or a rejection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from engine.domain import errors
from engine.domain.config_diff import diff_config
from engine.domain.ids import app_stream, stream_uuid
from engine.domain.pipeline import AppSpec
from engine.domain.promotion import ReleaseRef
from engine.domain.vocabulary import EventType


@dataclass(frozen=True, kw_only=True)
class CommitFacts:
    """What the watcher knows about one commit of the tracked branch."""

    sha: str
    author: str
    author_email: str
    authored_at: datetime
    committer: str
    committer_email: str
    committed_at: datetime
    message: str
    changed_files: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Rejection:
    """Why a commit could not become a release: where rendering failed and how."""

    environment: str | None
    file: str
    line: int
    reason: str


class App(Aggregate):
    """A deployable unit with its Git source and pipeline."""

    @staticmethod
    def create_id(name: str) -> Any:
        """The aggregate id is derived from the readable stream id."""
        return stream_uuid(app_stream(name))

    @event(EventType.APP_REGISTERED.event)
    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.config = config
        self.releases: dict[str, ReleaseRef] = {}
        self.latest_release: str | None = None
        self.branch_head: str | None = None
        self.observed: set[str] = set()
        self.rejected: dict[str, str] = {}

    # --- reading ---------------------------------------------------------------------

    @property
    def stream_id(self) -> str:
        """The readable id of this aggregate's stream."""
        return app_stream(self.name)

    @property
    def spec(self) -> AppSpec:
        """The configuration in force, read from what the App's events recorded."""
        return AppSpec.from_record(self.name, self.config)

    def release(self, sha: str) -> ReleaseRef:
        """The release for `sha` (a full SHA or a unique prefix of at least 7 characters)."""
        if sha in self.releases:
            return self.releases[sha]
        matches = [r for s, r in self.releases.items() if len(sha) >= 7 and s.startswith(sha)]
        if len(matches) != 1:
            raise errors.UnknownRelease(self.name, sha)
        return matches[0]

    def has_release(self, sha: str) -> bool:
        """True when a release exists for exactly this SHA."""
        return sha in self.releases

    def known_shas(self) -> frozenset[str]:
        """Every SHA already released or rejected: the watcher never records these again."""
        return frozenset(self.releases) | frozenset(self.rejected)

    # --- configuration -----------------------------------------------------------------

    def change_config(self, config: dict[str, Any]) -> bool:
        """Record a new configuration with its diff; no event (False) when nothing changed."""
        changes = diff_config(self.config, config)
        if not changes:
            return False
        self._config_changed(config=config, diff=[c.to_json() for c in changes])
        return True

    @event(EventType.APP_CONFIG_CHANGED.event)
    def _config_changed(self, config: dict[str, Any], diff: list[dict[str, Any]]) -> None:
        self.config = config

    # --- the Git source ------------------------------------------------------------------

    def observe_commit(self, commit: CommitFacts, *, branch_head: str) -> bool:
        """Record a new commit touching the manifests; False if it was seen already."""
        if commit.sha in self.observed:
            return False
        self._commit_observed(
            sha=commit.sha,
            branch_head=branch_head,
            author=commit.author,
            author_email=commit.author_email,
            authored_at=commit.authored_at,
            committer=commit.committer,
            committer_email=commit.committer_email,
            committed_at=commit.committed_at,
            message=commit.message,
            changed_files=list(commit.changed_files),
        )
        return True

    @event(EventType.APP_COMMIT_OBSERVED.event)
    def _commit_observed(
        self,
        sha: str,
        branch_head: str,
        author: str,
        author_email: str,
        authored_at: datetime,
        committer: str,
        committer_email: str,
        committed_at: datetime,
        message: str,
        changed_files: list[str],
    ) -> None:
        self.observed.add(sha)
        self.branch_head = branch_head

    def record_history_rewritten(self, *, old_head: str, new_head: str) -> bool:
        """Record a force-push that dropped `old_head`; releases made from it stay valid."""
        if old_head == new_head or self.branch_head == new_head:
            return False
        self._history_rewritten(old_head=old_head, new_head=new_head)
        return True

    @event(EventType.APP_HISTORY_REWRITTEN.event)
    def _history_rewritten(self, old_head: str, new_head: str) -> None:
        self.branch_head = new_head

    # --- releases ----------------------------------------------------------------------

    def create_release(
        self,
        *,
        sha: str,
        digest: str,
        message: str,
        author: str,
        committed_at: datetime,
        committer: str = "",
        changed_files: Sequence[str] = (),
        rendered: Mapping[str, str] | None = None,
    ) -> ReleaseRef:
        """Record a new release (idempotent: an existing SHA returns the existing release).

        `digest` is the manifests' digest; `rendered` the digest per environment.
        """
        if sha in self.releases:
            return self.releases[sha]
        self._release_created(
            sha=sha,
            number=len(self.releases) + 1,
            digest=digest,
            message=message,
            author=author,
            committed_at=committed_at,
            committer=committer,
            changed_files=list(changed_files),
            rendered=dict(rendered or {}),
        )
        return self.releases[sha]

    @event(EventType.RELEASE_CREATED.event)
    def _release_created(
        self,
        sha: str,
        number: int,
        digest: str,
        message: str,
        author: str,
        committed_at: datetime,
        committer: str = "",
        changed_files: list[str] | None = None,
        rendered: dict[str, str] | None = None,
    ) -> None:
        self.releases[sha] = ReleaseRef(sha=sha, number=number)
        self.latest_release = sha

    def reject_release(self, *, sha: str, rejection: Rejection) -> bool:
        """Record that `sha` cannot be released (rendering failed); False if known already."""
        if sha in self.releases or sha in self.rejected:
            return False
        self._release_rejected(
            sha=sha,
            environment=rejection.environment,
            file=rejection.file,
            line=rejection.line,
            reason=rejection.reason,
        )
        return True

    @event(EventType.RELEASE_REJECTED.event)
    def _release_rejected(
        self, sha: str, environment: str | None, file: str, line: int, reason: str
    ) -> None:
        self.rejected[sha] = reason
