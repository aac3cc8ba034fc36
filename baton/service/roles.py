"""Which parts of baton a process runs: `baton serve --role`.

Where it sits: read by the command line (its choices, without starting anything) and by
`baton.service.serve.running`, which starts the parts a role names.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Which parts of baton a process runs."""

    ALL = "all"
    API = "api"
    WORKER = "worker"

    @property
    def serves_http(self) -> bool:
        """True when this process answers the REST API (and runs the projections)."""
        return self in (Role.ALL, Role.API)

    @property
    def works(self) -> bool:
        """True when this process watches Git and reconciles clusters."""
        return self in (Role.ALL, Role.WORKER)
