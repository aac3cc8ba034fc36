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


class AppendOutcomeUnknown(StoreError):
    """The connection died with an append in flight, and the log could not say whether it
    committed. Nothing is retried in the dark: the caller retries, and its expected version
    or idempotency key makes that retry safe."""

    def __init__(self, streams: list[str], cause: BaseException) -> None:
        self.streams = streams
        super().__init__(
            f"the database connection was lost while appending to {', '.join(streams)} "
            f"({type(cause).__name__}); whether it was recorded is not known yet"
        )


class KeyTakenOver(StoreError):
    """An idempotency key's lease ran out and a retry took it over: this attempt stands down."""


class MigrationError(StoreError):
    """A migration file is missing, malformed, failed, or changed after it was applied."""


class SchemaMissing(StoreError):
    """The database lacks baton's tables (or some migrations); nothing was created."""

    def __init__(self, where: str, pending: list[str], *, empty: bool) -> None:
        self.where = where
        self.pending = pending
        what = "has no baton tables" if empty else f"lacks migrations {', '.join(pending)}"
        super().__init__(f"database {where} {what}")


class DatabaseConnectError(StoreError):
    """baton could not open a session on its database: what went wrong and what to do."""

    def __init__(self, problem: str, next_step: str) -> None:
        self.problem = problem
        self.next_step = next_step
        super().__init__(f"{problem}; {next_step}")


class DatabaseUnreachable(DatabaseConnectError, ConnectionError):
    """No server answered (down, starting, or a wrong host or port); worth a retry."""


class DatabaseLoginRefused(DatabaseConnectError):
    """The server answered but refused the login: user, password or database."""


class DatabaseUrlInvalid(DatabaseConnectError, ValueError):
    """The database URL is not one PostgreSQL understands."""


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
    # a connection lost mid-operation can leave asyncpg's protocol in a state it refuses
    asyncpg.InternalClientError,
    AppendOutcomeUnknown,
)

#: What Postgres raises when concurrent work got in the way (a deadlock, a lock timeout, a
#: serialization failure): nothing wrong with the request, worth a retry.
DATABASE_BUSY: tuple[type[Exception], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.LockNotAvailableError,
    asyncpg.SerializationError,
)


def is_database_unavailable(exc: BaseException) -> bool:
    """True when `exc`, or what it was raised in handling, means the server cannot take work.

    A connection that dies mid-query can fail again as it goes back to the pool (asyncpg's
    InternalClientError, "another operation is in progress"): that second error hides the
    first one in its context.
    """
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, DATABASE_UNAVAILABLE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
