"""Console sign-in sessions: random ids whose hashes name an API token, with an expiry.

Where it sits: beside the event log, for the web console. A session is not a fact of the
domain (no event records it); it only lets a browser present a token it was given once,
without the token travelling again. Ids and tokens are kept as sha256 digests.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Session:
    """A signed-in browser: whose token it holds, its CSRF secret, and when it ends."""

    token_hash: str
    csrf: str
    expires_at: datetime


class Sessions:
    """The console's sessions in Postgres."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def open(self, *, token_hash: str, ttl: timedelta) -> tuple[str, Session]:
        """A new session for the token of `token_hash`: (its id for the cookie, the session)."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        async with self._pool.acquire() as conn, conn.transaction():
            # sessions end by expiry; the sign-ins sweep the ended ones away
            await conn.execute("DELETE FROM console_sessions WHERE expires_at < now()")
            expires_at = await conn.fetchval(
                """INSERT INTO console_sessions (id_hash, token_hash, csrf, expires_at)
                   VALUES ($1, $2, $3, now() + $4::interval) RETURNING expires_at""",
                _digest(session_id),
                token_hash,
                csrf,
                ttl,
            )
        return session_id, Session(token_hash=token_hash, csrf=csrf, expires_at=expires_at)

    async def find(self, session_id: str) -> Session | None:
        """The live session of that id, or None (unknown or expired)."""
        row = await self._pool.fetchrow(
            """SELECT token_hash, csrf, expires_at FROM console_sessions
               WHERE id_hash = $1 AND expires_at > now()""",
            _digest(session_id),
        )
        return None if row is None else Session(**dict(row))

    async def close(self, session_id: str) -> None:
        """End a session (sign-out)."""
        await self._pool.execute(
            "DELETE FROM console_sessions WHERE id_hash = $1", _digest(session_id)
        )
