"""Channels reload with the rest of the config; a reload that fails changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.loader import ConfigError
from engine.config.reload import ConfigReloader
from engine.notify.notifier import Notifier
from engine.repository import Repository
from engine.store import EventStore
from tests.notify.conftest import APPS

CONFIG = (
    APPS
    + """\
notifications:
  - name: NAME
    type: slack
    url: https://hooks.example.com/baton
    triggers: [TRIGGER]
"""
)


async def test_a_reload_hands_the_notifier_new_channels_and_a_broken_one_changes_nothing(
    store: EventStore, tmp_path: Path
) -> None:
    config = tmp_path / "shop.yaml"
    notifier = Notifier(store=store, channels=[], public_url=None)
    reloader = ConfigReloader(directory=tmp_path, repository=Repository(store), config=None)
    reloader.add("notifications", notifier.reconfigure)

    config.write_text(CONFIG.replace("NAME", "chat").replace("TRIGGER", "promotion-failed"))
    await reloader.reload()
    assert list(notifier.channels) == ["chat"]

    config.write_text(CONFIG.replace("NAME", "other").replace("TRIGGER", "on-deployed"))
    with pytest.raises(ConfigError) as raised:
        await reloader.reload()
    assert raised.value.problems[0].line == 10
    assert list(notifier.channels) == ["chat"]
