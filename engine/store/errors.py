"""Errors the event store raises; each names the values involved."""

from __future__ import annotations

import asyncpg


class StoreError(Exception):
    """Base class of event store errors."""


class ConcurrencyError(StoreError):
    """An append expected a stream version that is no longer the stream's version."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, but the append expected {expected}"
        )


class EventValidationError(StoreError, ValueError):
    """An event or its metadata cannot be stored; nothing was written."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        #: the offending field where one is at fault (`data.reason`, `metadata.actor`)
        self.field = field


class MigrationError(StoreError):
    """A migration file is missing, malformed, failed, or changed after it was applied."""


class ChainBroken(StoreError):
    """The hash chain does not match at a position (see `engine.store.audit`)."""


#: What asyncpg raises when the server cannot take work now: down or unreachable, starting
#: or shutting down, or out of connection slots. Worth a retry, unlike every other error.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)
