"""Email channels: a message over SMTP, to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from engine.domain.notification import Channel, ChannelType, Smtp, Trigger
from engine.store import EventStore
from tests.notify.conftest import Running, deliveries, free_port, request_promotion, until


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


async def test_an_email_channel_sends_one_message_with_the_link_and_delivery_id(
    store: EventStore, run_notifier: Running
) -> None:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = Channel(
            name="ops-mail",
            type=ChannelType.EMAIL,
            triggers=frozenset({Trigger.PROMOTION_REQUESTED}),
            smtp=Smtp(
                host="127.0.0.1",
                port=port,
                sender="baton@example.com",
                to=("ops@example.com",),
                starttls=False,
            ),
            give_up_after=timedelta(seconds=10),
        )
        await run_notifier([channel])
        position = await request_promotion(store, "p-7")

        await until(lambda: deliveries(store, "ops-mail"))
        [mail] = inbox.messages
        assert mail["To"] == "ops@example.com"
        assert mail["X-Baton-Delivery"] == f"{position}:ops-mail"
        assert "requested by alice" in mail["Subject"]
        assert "https://baton.example/promotions/p-7" in mail.get_payload()
        [delivered] = await deliveries(store, "ops-mail")
        assert (delivered.type, delivered.data["status"]) == ("Notification.Delivered", 250)
    finally:
        controller.stop()
