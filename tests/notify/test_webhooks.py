"""Webhooks: each receiver is told once, signed, retried through its refusals, in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.config import ConfigError, load_environments
from engine.domain.notification import ChannelType
from engine.notify.notifier import SUBSCRIPTION
from engine.store import EventStore
from engine.store import subscriptions as rows
from tests.notify.conftest import (
    APPS,
    Receiver,
    Running,
    deliveries,
    request_promotion,
    until,
    webhook,
)


async def test_a_promotion_requested_reaches_the_receiver_once_signed_with_its_delivery_id(
    store: EventStore, receiver: Receiver, run_notifier: Running
) -> None:
    await run_notifier([webhook(receiver.url)])
    position = await request_promotion(store, "p-1")

    await until(lambda: deliveries(store))
    [message] = receiver.taken
    assert message.signature_ok
    assert message.headers["X-Baton-Delivery"] == f"{position}:hooks"
    assert message.body["trigger"] == "promotion-requested"
    assert message.body["promotion_id"] == "p-1"
    assert message.body["link"] == "https://baton.example/promotions/p-1"
    [delivered] = await deliveries(store)
    assert delivered.type == "Notification.Delivered"
    assert delivered.data["status"] == 200
    assert delivered.data["attempts"] == 1
    assert "url" not in delivered.data and "secret" not in str(delivered.data)


async def test_a_receiver_answering_503_twice_gets_the_message_once_and_the_event_counts_3_attempts(
    store: EventStore, receiver: Receiver, run_notifier: Running
) -> None:
    receiver.script = [503, 503]
    await run_notifier([webhook(receiver.url)])
    await request_promotion(store, "p-1")

    await until(lambda: deliveries(store))
    assert receiver.answered == [503, 503, 200]
    assert len(receiver.taken) == 1
    [delivered] = await deliveries(store)
    assert (delivered.type, delivered.data["attempts"]) == ("Notification.Delivered", 3)


async def test_a_429_is_tried_again_after_its_retry_after(
    store: EventStore, receiver: Receiver, run_notifier: Running
) -> None:
    receiver.script, receiver.retry_after = [429], "1"
    await run_notifier([webhook(receiver.url)])
    await request_promotion(store, "p-1")

    await until(lambda: deliveries(store))
    [delivered] = await deliveries(store)
    assert delivered.data["attempts"] == 2
    assert receiver.answered == [429, 200]


async def test_a_receiver_down_then_back_gets_every_message_in_log_order(
    store: EventStore, run_notifier: Running
) -> None:
    receiver = Receiver()  # not listening yet: connections are refused
    await run_notifier([webhook(receiver.url)])
    positions = [await request_promotion(store, f"p-{n}", env=f"e{n}") for n in range(3)]

    await asyncio.sleep(0.6)  # the first message meets refused connections meanwhile
    try:
        await receiver.start()
        await until(lambda: len(receiver.taken) == 3)
        ids = [m.headers["X-Baton-Delivery"] for m in receiver.taken]
        assert ids == [f"{p}:hooks" for p in positions]

        # a delivery is recorded once the receiver has answered: a moment after it took it
        async def recorded_all() -> bool:
            return len(await deliveries(store)) == 3

        await until(recorded_all)
        recorded = await deliveries(store)
        assert [e.data["position"] for e in recorded] == positions
        assert recorded[0].data["attempts"] > 1
    finally:
        await receiver.stop()


async def test_a_channel_that_is_down_holds_up_no_other_and_holds_the_checkpoint_back(
    store: EventStore, receiver: Receiver, run_notifier: Running
) -> None:
    down = Receiver()  # never listens: every attempt meets a refused connection
    await run_notifier([webhook(down.url, name="down"), webhook(receiver.url, name="up")])
    positions = [await request_promotion(store, f"p-{n}", env=f"e{n}") for n in range(3)]

    await until(lambda: len(receiver.taken) == 3, within=5)
    assert [m.headers["X-Baton-Delivery"] for m in receiver.taken] == [f"{p}:up" for p in positions]
    await asyncio.sleep(0.3)  # checkpoints are saved every 0.1 s here
    # "down" has told nothing yet: a restart must hand its messages over again
    assert await rows.checkpoint(store.pool, SUBSCRIPTION) == positions[0] - 1
    assert await deliveries(store, "down") == []


async def test_a_refusal_is_final_and_recorded_as_failed(
    store: EventStore, receiver: Receiver, run_notifier: Running
) -> None:
    receiver.script = [404]
    await run_notifier([webhook(receiver.url)])
    await request_promotion(store, "p-1")

    await until(lambda: deliveries(store))
    [failed] = await deliveries(store)
    assert failed.type == "Notification.Failed"
    assert (failed.data["status"], failed.data["attempts"]) == (404, 1)


async def test_a_channel_filtered_to_another_app_is_not_told(
    store: EventStore, receiver: Receiver, run_notifier: Running
) -> None:
    await run_notifier(
        [webhook(receiver.url, apps=frozenset({"other"})), webhook(receiver.url, name="all")]
    )
    await request_promotion(store, "p-1")

    await until(lambda: deliveries(store, "all"))
    assert await deliveries(store) == []
    assert [m.headers["X-Baton-Delivery"].split(":")[1] for m in receiver.taken] == ["all"]


CONFIG = (
    APPS
    + """\
notifications:
  - name: hooks
    type: webhook
    url: https://hooks.example.com/baton
    triggers: [promotion-requested]
    environments: [dev]
"""
)


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "message"),
    [
        ("[dev]", "[prod]", 11, "notifications[0].environments[0]", "not an environment of"),
        ("[dev]", "[dev]\n    apps: [cart]", 12, "notifications[0].apps[0]", "is not an app"),
        (
            "[dev]",
            "[dev]\n    template: '{{ nope }}'",
            12,
            "notifications[0].template",
            "'nope' is undefined",
        ),
        ("https://hooks", "ftp://hooks", 9, "notifications[0].url", "is not an http(s) URL"),
        ("[promotion-requested]", "[on-deployed]", 10, "notifications[0].triggers[0]", "Input"),
        ("[dev]", "[dev]\n    secret_env: NOT_SET_X", 12, "notifications[0].secret_env", "not set"),
    ],
)
def test_a_bad_channel_is_a_config_error_naming_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, key: str, message: str
) -> None:
    (tmp_path / "shop.yaml").write_text(CONFIG.replace(old, new))
    with pytest.raises(ConfigError) as raised:
        load_environments(tmp_path, environ={})
    [problem] = raised.value.problems
    assert (problem.file, problem.line, problem.key) == (str(tmp_path / "shop.yaml"), line, key)
    assert message in problem.message


def test_a_valid_channel_is_loaded_with_the_config(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(CONFIG)
    [channel] = load_environments(tmp_path).notifications
    assert (channel.name, channel.environments, channel.give_up_after.total_seconds()) == (
        "hooks",
        frozenset({"dev"}),
        600,
    )


async def test_cloudevents_slack_and_teams_channels_get_their_own_shapes(
    store: EventStore, receiver: Receiver, run_notifier: Running
) -> None:
    await run_notifier(
        [
            webhook(receiver.url, name="ce", type=ChannelType.CLOUDEVENTS),
            webhook(receiver.url, name="slack", type=ChannelType.SLACK),
            webhook(receiver.url, name="teams", type=ChannelType.TEAMS),
        ]
    )
    position = await request_promotion(store, "p-1")

    await until(lambda: len(receiver.taken) == 3)
    by_channel = {m.headers["X-Baton-Delivery"].split(":")[1]: m for m in receiver.taken}
    event = by_channel["ce"]
    assert event.headers["Content-Type"].startswith("application/cloudevents+json")
    assert (event.body["specversion"], event.body["id"]) == ("1.0", f"{position}:ce")
    assert event.body["type"] == "io.baton.notification.promotion-requested"
    assert event.body["data"]["promotion_id"] == "p-1"
    assert "https://baton.example/promotions/p-1" in by_channel["slack"].body["text"]
    assert by_channel["teams"].body["@type"] == "MessageCard"
    assert all(m.signature_ok for m in receiver.taken)
