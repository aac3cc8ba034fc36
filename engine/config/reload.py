"""Reload the environments config in a running baton: validate it all, then apply it part by part.

Where it sits: beside ``loader.py`` (validate) and ``sync.py`` (record as events). ``baton
serve`` builds one :class:`ConfigReloader` per process, registers the parts it runs (the
Git watcher, the appliers, the API's health checks), and calls :meth:`ConfigReloader.reload`
on SIGHUP (:func:`reload_on_sighup`) or from ``POST /admin/config/reload``. All or nothing:
a config with any problem raises :class:`ConfigError` before anything is applied, each
problem logged on a line of its own, and the process keeps the config it had. Each part
keeps its own ``reconfigure``; this module holds only the order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config.loader import ConfigError, EnvironmentsConfig, load_environments
from engine.config.sync import ConfigOutcome, apply_config
from engine.repository import Repository
from engine.store import EventMetadata

log = logging.getLogger(__name__)
#: one part of the process that takes a reloaded config (the watcher, the appliers...)
Part = Callable[[EnvironmentsConfig], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class ReloadOutcome:
    """What a reload changed."""

    apps: dict[str, ConfigOutcome]  # per app of the new config
    removed: tuple[str, ...]  # apps the new config no longer has
    targets_added: tuple[str, ...]  # "app/env"
    targets_removed: tuple[str, ...]
    health_checks: tuple[str, ...]  # "group/kind" of the user's checks now in force

    @property
    def changed(self) -> bool:
        """True when the reload changed an app or a target (checks are not compared)."""
        return bool(
            self.removed
            or self.targets_added
            or self.targets_removed
            or any(o.recorded for o in self.apps.values())
        )

    def as_json(self) -> dict[str, Any]:
        """The API's answer."""
        return {
            "changed": self.changed,
            "apps": {name: str(outcome) for name, outcome in self.apps.items()},
            "removed_apps": list(self.removed),
            "targets_added": list(self.targets_added),
            "targets_removed": list(self.targets_removed),
            "health_checks": list(self.health_checks),
        }


class ConfigReloader:
    """The config a process runs on, and the one way to replace it."""

    def __init__(
        self, *, directory: Path, repository: Repository, config: EnvironmentsConfig | None
    ) -> None:
        self.directory = directory
        self.repository = repository
        self.config = config
        self._parts: list[tuple[str, Part]] = []
        self._lock = asyncio.Lock()  # one reload at a time: a second waits for the first

    def add(self, name: str, part: Part) -> None:
        """Hand `part` every config reloaded from now on."""
        self._parts.append((name, part))

    async def reload(self) -> ReloadOutcome:
        """Load and validate; on success record it and hand it to every part.

        Raises ConfigError (nothing applied) when the config has any problem.
        """
        async with self._lock:
            try:
                new = await asyncio.to_thread(load_environments, self.directory)
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("config reload refused: %s", problem)
                log.error("config reload refused: keeping the config loaded before")
                raise
            old, self.config = self.config, new
            outcomes = await apply_config(
                new, self.repository, metadata=EventMetadata(actor="config")
            )
            for name, part in self._parts:
                try:
                    await part(new)
                except Exception:  # the others still take it; the log says which did not
                    log.exception("config reload: %s did not take the new config", name)
            outcome = _outcome(old, new, outcomes)
            log.info("config reloaded: %s", outcome.as_json())
            return outcome


def _targets(config: EnvironmentsConfig | None) -> set[str]:
    apps = config.apps if config is not None else ()
    return {f"{app.name}/{env.name}" for app in apps for env in app.environments}


def _outcome(
    old: EnvironmentsConfig | None, new: EnvironmentsConfig, apps: dict[str, ConfigOutcome]
) -> ReloadOutcome:
    before, after = _targets(old), _targets(new)
    old_apps = {app.name for app in old.apps} if old is not None else set()
    checks = new.health
    return ReloadOutcome(
        apps=apps,
        removed=tuple(sorted(old_apps - set(apps))),
        targets_added=tuple(sorted(after - before)),
        targets_removed=tuple(sorted(before - after)),
        health_checks=tuple(f"{g or '_'}/{k}" for g, k in checks.kinds()) if checks else (),
    )


@contextlib.contextmanager
def reload_on_sighup(reloader: ConfigReloader) -> Iterator[None]:
    """While inside, SIGHUP reloads the config (a refused one is logged and changes nothing)."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        with contextlib.suppress(ConfigError):  # reload() logged each problem
            await reloader.reload()

    def on_signal() -> None:
        log.info("SIGHUP: reloading the environments config from %s", reloader.directory)
        task = loop.create_task(reload(), name="config-reload")
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    loop.add_signal_handler(signal.SIGHUP, on_signal)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        for task in tasks:
            task.cancel()
