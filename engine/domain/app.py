"""The App aggregate (stream `app:<name>`): its configuration and its releases.

A release is an immutable snapshot: a commit SHA and the digest of the manifests rendered
from it, numbered in the order the app saw them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from engine.domain import errors
from engine.domain.ids import app_stream, stream_uuid
from engine.domain.promotion import ReleaseRef


class App(Aggregate):
    """A deployable unit with its Git source and pipeline."""

    @staticmethod
    def create_id(name: str) -> Any:
        """The aggregate id is derived from the readable stream id."""
        return stream_uuid(app_stream(name))

    @event("Registered")
    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.config = config
        self.releases: dict[str, ReleaseRef] = {}
        self.latest_release: str | None = None

    @property
    def stream_id(self) -> str:
        """The readable id of this aggregate's stream."""
        return app_stream(self.name)

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

    def create_release(
        self, *, sha: str, digest: str, message: str, author: str, committed_at: datetime
    ) -> ReleaseRef:
        """Record a new release (idempotent: an existing SHA returns the existing release)."""
        if sha in self.releases:
            return self.releases[sha]
        self._release_created(
            sha=sha,
            number=len(self.releases) + 1,
            digest=digest,
            message=message,
            author=author,
            committed_at=committed_at,
        )
        return self.releases[sha]

    @event("ReleaseCreated")
    def _release_created(
        self,
        sha: str,
        number: int,
        digest: str,
        message: str,
        author: str,
        committed_at: datetime,
    ) -> None:
        self.releases[sha] = ReleaseRef(sha=sha, number=number)
        self.latest_release = sha
