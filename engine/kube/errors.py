"""Errors of the Kubernetes adapter, carrying the API's status reason and message."""

from __future__ import annotations


class KubeError(Exception):
    """The API server answered with an error status (after any retries)."""

    def __init__(
        self, *, status: int, reason: str, message: str, what: str, attempts: int = 1
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.what = what
        self.attempts = attempts
        super().__init__(f"{what}: {status} {reason}: {message}")

    @property
    def is_not_found(self) -> bool:
        """True for 404."""
        return self.status == 404

    @property
    def is_gone(self) -> bool:
        """True for 410: a resourceVersion older than the server keeps (list again)."""
        return self.status == 410

    @property
    def is_transient(self) -> bool:
        """True when trying again later may succeed (throttling, server trouble)."""
        return self.status == 429 or self.status >= 500


class ClusterUnavailable(Exception):
    """The cluster did not answer (connection refused, timeouts) within the retries."""

    def __init__(self, cluster: str, what: str, cause: str, attempts: int) -> None:
        self.cluster = cluster
        self.attempts = attempts
        super().__init__(f"cluster {cluster} unavailable ({what}, {attempts} attempts): {cause}")
