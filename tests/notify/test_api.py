"""The API over notifications: channel states, recent deliveries, an admin's resend."""

from __future__ import annotations

from api.keys import RELOADER
from engine.config.loader import EnvironmentsConfig
from engine.store import EventStore
from tests.api.conftest import Api, api, config, problem  # noqa: F401 (fixtures)
from tests.notify.conftest import (
    Receiver,
    Running,
    deliveries,
    request_promotion,
    until,
    webhook,
)


async def test_channels_and_deliveries_are_shown_and_an_admin_resends_one(
    api: Api,  # noqa: F811
    store: EventStore,
    receiver: Receiver,
    run_notifier: Running,
) -> None:
    channel = webhook(receiver.url)
    api.client.app[RELOADER].config = EnvironmentsConfig(apps=(), notifications=(channel,))  # type: ignore[index]
    await run_notifier([channel])
    position = await request_promotion(store, "p-1")
    await until(lambda: deliveries(store))

    answer = await (await api.get("/notifications/channels")).json()
    [state] = answer["channels"]
    assert state["name"] == "hooks" and state["last_success"] is not None
    assert state["failing_since"] is None and "url" not in state
    answer = await (await api.get("/notifications/deliveries?channel=hooks")).json()
    [item] = answer["items"]
    assert (item["id"], item["status"], item["attempts"]) == (f"{position}:hooks", 200, 1)

    resend = f"/notifications/deliveries/{position}:hooks/resend"
    await problem(await api.post(resend, as_="viewer"), 403)
    await problem(await api.post("/notifications/deliveries/999:hooks/resend", as_="admin"), 404)
    await problem(await api.get("/notifications/deliveries?channel=nope"), 404)
    answered = await api.post(resend, as_="admin")
    assert answered.status == 202

    await until(lambda: len(receiver.taken) == 2)
    assert [m.headers["X-Baton-Delivery"] for m in receiver.taken] == [f"{position}:hooks"] * 2
    await until(lambda: _count(store, 2))


async def _count(store: EventStore, n: int) -> bool:
    return len(await deliveries(store)) == n
