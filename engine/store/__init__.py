"""The event store: the only part of baton that talks to PostgreSQL through asyncpg.

Commands in the domain produce events; the repository hands them here; readers
(projections, appliers, the API) read them back in global order.
"""

from engine.store.errors import (
    DATABASE_UNAVAILABLE,
    ConcurrencyError,
    EventValidationError,
    MigrationError,
    StoreError,
    is_database_unavailable,
)
from engine.store.event_store import EventStore
from engine.store.types import EventMetadata, NewEvent, RecordedEvent

__all__ = [
    "DATABASE_UNAVAILABLE",
    "ConcurrencyError",
    "EventMetadata",
    "EventStore",
    "EventValidationError",
    "MigrationError",
    "NewEvent",
    "RecordedEvent",
    "StoreError",
    "is_database_unavailable",
]
