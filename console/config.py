"""What the console is configured with; `from_env` reads BATON_CONSOLE_* variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from engine.domain.policy import parse_duration


@dataclass(frozen=True, kw_only=True)
class ConsoleConfig:
    """Session length and page sizes of the console."""

    #: how long a sign-in lasts (BATON_CONSOLE_SESSION_TTL, e.g. 8h)
    session_ttl: timedelta = timedelta(hours=8)
    #: apps per page of the pipelines view
    apps_per_page: int = 50

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsoleConfig:
        """The configuration from BATON_CONSOLE_SESSION_TTL."""
        env = os.environ if env is None else env
        ttl = env.get("BATON_CONSOLE_SESSION_TTL")
        return cls(session_ttl=parse_duration(ttl) if ttl else cls.session_ttl)
