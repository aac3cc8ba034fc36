"""Settings read from the environment, in one place, with their defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What the environment configures: database, home folder, config folder."""

    #: None: the `baton` database of the embedded Postgres under `home` (`resolve_url`)
    database_url: str | None
    #: BATON_HOME (`.baton`): the embedded Postgres, Git clones, kubesim's kubeconfig, and
    #: `demo/`, the demo's own; every command of one folder shares it
    home: Path
    environments_dir: Path

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read BATON_* variables (from `env`, default os.environ)."""
        env = dict(os.environ) if env is None else env
        return cls(
            database_url=env.get("BATON_DATABASE_URL") or None,
            home=Path(env.get("BATON_HOME", ".baton")).expanduser(),
            environments_dir=Path(env.get("BATON_ENVIRONMENTS", "environments")),
        )
