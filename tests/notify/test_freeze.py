"""Freeze windows are told as they begin and end: the clock records each once, however
often it ticks, and the notifier tells the channels that want that app and environment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from engine.domain.pipeline import AppSpec, EnvironmentSpec
from engine.domain.policy import FreezeWindow, Policy
from engine.freeze_clock import FreezeClock
from engine.store import EventStore
from tests.notify.conftest import Receiver, Running, request_promotion, until, webhook

#: every evening from 18:00 UTC, for an hour
EVENING = FreezeWindow(name="evening", schedule="0 18 * * *", duration=timedelta(hours=1))
INSIDE = datetime(2026, 3, 6, 18, 30, tzinfo=UTC)
AFTER = datetime(2026, 3, 6, 19, 0, tzinfo=UTC)  # the end itself is outside the window


def _app(name: str) -> AppSpec:
    prod = EnvironmentSpec(
        name="prod", upstream=None, namespace=f"{name}-prod", policy=Policy(freeze=(EVENING,))
    )
    return AppSpec(name=name, environments=(prod,))


async def test_a_freeze_window_is_told_started_then_ended_once_each_to_the_channel_of_its_app(
    store: EventStore, receiver: Receiver, run_notifier: Running
) -> None:
    await run_notifier([webhook(receiver.url, apps=frozenset({"shop"}))])
    clock = FreezeClock(store=store, apps=(_app("shop"), _app("blog")))

    started = await clock.tick(INSIDE)
    assert [(s.app, s.active and s.active.window) for s in started] == [
        ("shop", "evening"),
        ("blog", "evening"),
    ]
    assert await clock.tick(INSIDE) == []  # recorded already: nothing new
    ended = await clock.tick(AFTER)
    assert [(s.app, s.active) for s in ended] == [("shop", None), ("blog", None)]
    assert await clock.tick(AFTER) == []
    # a last message behind them: the channel is told in log order, so nothing came twice
    await request_promotion(store, "p-1", app="shop", env="prod")

    await until(lambda: len(receiver.taken) == 3)
    bodies = [m.body for m in receiver.taken]
    assert [b["trigger"] for b in bodies] == [
        "freeze-started",
        "freeze-ended",
        "promotion-requested",
    ]
    assert {(b["app"], b["environment"]) for b in bodies} == {("shop", "prod")}
    assert bodies[0]["title"] == (
        "Freeze window evening started for shop in prod:"
        " promotions are refused until 2026-03-06T19:00:00+00:00"
    )
    assert bodies[0]["link"] == "https://baton.example/apps/shop"
    assert bodies[1]["title"] == (
        "Freeze window evening ended for shop in prod at 2026-03-06T19:00:00+00:00:"
        " promotions are allowed again"
    )
    recorded = await store.read_stream("freeze:shop:prod")
    assert [e.type for e in recorded] == ["Freeze.Created", "Freeze.Started", "Freeze.Ended"]
    assert recorded[1].data["started_at"] == "2026-03-06T18:00:00+00:00"


async def test_two_clocks_racing_record_a_start_once(store: EventStore) -> None:
    first = FreezeClock(store=store, apps=(_app("shop"),))
    second = FreezeClock(store=store, apps=(_app("shop"),))

    settled = await asyncio.gather(first.tick(INSIDE), second.tick(INSIDE))
    assert sorted(len(changes) for changes in settled) == [0, 1]
    recorded = await store.read_stream("freeze:shop:prod")
    assert [e.type for e in recorded] == ["Freeze.Created", "Freeze.Started"]


async def test_an_environment_never_frozen_has_no_freeze_stream(store: EventStore) -> None:
    clock = FreezeClock(store=store, apps=(_app("shop"),))

    assert await clock.tick(AFTER) == []
    assert await store.read_stream("freeze:shop:prod") == []
