"""Notifications from real baton processes: killed in a burst, beside a receiver that is
down for 30 s, and two processes sharing the log: every receiver hears everything, once
after deduplication by delivery id."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.domain.notification import Trigger, triggers_of
from engine.store import EventStore
from engine.store.database import create_pool
from tests.notify.conftest import SECRET, SECRET_ENV, Received, Receiver, until
from tests.service.baton_process import Baton, Site

#: no new message asked for this long: the promotions have gone as far as they go
QUIET_S = 5.0
TRIGGERS = [Trigger.PROMOTION_REQUESTED, Trigger.PROMOTION_STARTED, Trigger.PROMOTION_SUCCEEDED]
CHANNEL = """\
notifications:
  - name: hooks
    type: webhook
    url: {url}
    secret_env: {secret_env}
    triggers: [{triggers}]
"""


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A started webhook receiver, stopped at the test's end."""
    found = Receiver()
    await found.start()
    yield found
    await found.stop()


async def notified_site(tmp_path: Path, database_url: str, receiver: Receiver) -> Site:
    """Three apps whose dev promotes itself, and a channel telling `receiver` of it."""
    site = await asyncio.to_thread(Site.create, tmp_path, database_url, apps=3)
    config = site.root / "environments" / "shop.yaml"
    channel = CHANNEL.format(url=receiver.url, secret_env=SECRET_ENV, triggers=", ".join(TRIGGERS))
    config.write_text(config.read_text() + channel)
    site.env[SECRET_ENV] = SECRET
    return site


async def expected_deliveries(database_url: str) -> list[str]:
    """The delivery ids the log asks for, in log order (what the receiver must hear)."""
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        events = await EventStore(pool).read_all()
    finally:
        await pool.close()
    wanted = set(TRIGGERS)
    return [
        f"{e.position}:hooks" for e in events if wanted.intersection(triggers_of(e.type, e.data))
    ]


def ids(taken: list[Received]) -> list[str]:
    """The delivery ids received, duplicates included, in arrival order."""
    return [m.headers["X-Baton-Delivery"] for m in taken]


async def released(site: Site, count: int) -> None:
    """Commit `count` releases a second apart (each promotes itself into dev)."""
    for _ in range(count):
        await asyncio.to_thread(site.add_release)
        await asyncio.sleep(1)


async def heard_everything(receiver: Receiver, database_url: str, *, within: float) -> list[str]:
    """Wait until the log is quiet (releases promoted as far as they go) and the receiver
    has every delivery it asks for; the ids expected."""
    expected: list[str] = []
    quiet_since, last_count = 0.0, -1
    loop = asyncio.get_running_loop()

    async def complete() -> bool:
        nonlocal expected, quiet_since, last_count
        expected = await expected_deliveries(database_url)
        if len(expected) != last_count:
            quiet_since, last_count = loop.time(), len(expected)
        heard = set(expected) <= set(ids(receiver.taken))
        return bool(expected) and heard and loop.time() - quiet_since >= QUIET_S

    await until(complete, within=within)
    return expected


@pytest.mark.timeout(360)
async def test_killed_in_a_burst_and_a_receiver_down_30s_every_message_arrives_once_deduplicated(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    site = await notified_site(tmp_path, database_url, receiver)
    baton = Baton.start(site)
    await asyncio.to_thread(baton.wait_ready)
    burst = asyncio.create_task(released(site, 3))
    await until(lambda: len(receiver.taken) >= 4, within=60)
    baton.stop(signal.SIGKILL)  # in the middle of the burst: some told, some not
    told_before = len(set(ids(receiver.taken)))

    await receiver.stop()  # down for 30 s, while baton comes back and promotes on
    baton = Baton.start(site)
    await asyncio.to_thread(baton.wait_ready)
    await burst
    await asyncio.sleep(30)
    await receiver.start()

    expected = await heard_everything(receiver, database_url, within=150)
    heard = ids(receiver.taken)
    assert told_before < len(expected), "the kill came before everything was told"
    assert all(m.signature_ok for m in receiver.taken)
    # at least once: everything; exactly once after deduplication by delivery id
    assert sorted(set(heard), key=lambda i: int(i.split(":")[0])) == expected
    # in log order: the first arrival of each delivery follows the log
    first = list(dict.fromkeys(heard))
    assert first == expected, "a channel hears its messages in log order"
    baton.stop()


async def test_two_baton_processes_deliver_each_notification_from_one_of_them(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    site = await notified_site(tmp_path, database_url, receiver)
    first, second = Baton.start(site), Baton.start(site)
    await asyncio.gather(asyncio.to_thread(first.wait_ready), asyncio.to_thread(second.wait_ready))
    await released(site, 2)

    expected = await heard_everything(receiver, database_url, within=120)
    await asyncio.sleep(1)  # a second sender, were there one, has had time to send too
    assert ids(receiver.taken) == expected, "each message once, from one process, in log order"
    first.stop()
    second.stop()
