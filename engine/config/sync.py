"""Apply a validated environments config: record each app's config as events.

Where it sits: after ``engine.config.loader.load_environments`` succeeded (a config with
any mistake never gets here, so nothing of it is applied). A new app becomes
``App.Registered``; a changed one ``App.ConfigChanged`` with the diff; an unchanged one
records nothing. All apps are saved in one append: the config lands whole or not at all.
"""

from __future__ import annotations

from enum import StrEnum

from engine.backoff import retry
from engine.config.loader import EnvironmentsConfig
from engine.domain.app import App
from engine.domain.ids import app_stream
from engine.repository import Repository
from engine.store import ConcurrencyError, EventMetadata


class ConfigOutcome(StrEnum):
    """What applying the config did to one app."""

    REGISTERED = "registered"
    CHANGED = "changed"
    UNCHANGED = "unchanged"

    @property
    def recorded(self) -> bool:
        """True when an event was recorded."""
        return self is not ConfigOutcome.UNCHANGED


_ATTEMPTS = 5


async def apply_config(
    config: EnvironmentsConfig, repository: Repository, *, metadata: EventMetadata
) -> dict[str, ConfigOutcome]:
    """Record every app's config that is new or changed; returns what happened per app.

    Several processes starting together (replicas, `--role api` beside `--role worker`)
    each apply the same config: the one that loses the race looks again, and finds the
    apps recorded as it would have recorded them.
    """
    return await retry(
        lambda: _apply(config, repository, metadata), attempts=_ATTEMPTS, on=ConcurrencyError
    )


async def _apply(
    config: EnvironmentsConfig, repository: Repository, metadata: EventMetadata
) -> dict[str, ConfigOutcome]:
    outcomes: dict[str, ConfigOutcome] = {}
    changed: list[App] = []
    for spec in config.apps:
        record = spec.as_record()
        app = await repository.find(App, app_stream(spec.name))
        if app is None:
            changed.append(App(name=spec.name, config=record))
            outcomes[spec.name] = ConfigOutcome.REGISTERED
        elif app.change_config(record):
            changed.append(app)
            outcomes[spec.name] = ConfigOutcome.CHANGED
        else:
            outcomes[spec.name] = ConfigOutcome.UNCHANGED
    if changed:
        await repository.save(*changed, metadata=metadata)
    return outcomes
