"""Email channels: one message over SMTP (aiosmtplib) per delivery.

Where it sits: beside ``engine.notify.send``, which retries it as it retries a webhook:
a refused connection, a timeout or a 4xx reply of the server is worth another try
(``TryAgain``), a 5xx reply is final (``Refused``). The password is read from the
channel's ``password_env`` at send time, never kept in the config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from email.message import EmailMessage

import aiosmtplib

from engine.domain.notification import Channel
from engine.notify.messages import Message
from engine.notify.send import DELIVERY, Refused, TryAgain

OK = 250


def email_of(channel: Channel, message: Message, delivery_id: str) -> EmailMessage:
    """The email `channel` is sent for `message`."""
    assert channel.smtp is not None
    mail = EmailMessage()
    mail["From"] = channel.smtp.sender
    mail["To"] = ", ".join(channel.smtp.to)
    mail["Subject"] = f"[baton] {message.title}"
    mail[DELIVERY] = delivery_id
    mail["Message-ID"] = f"<{delivery_id.replace(':', '.')}@baton>"
    body = message.text + (f"\n\n{message.link}\n" if message.link else "\n")
    mail.set_content(body)
    return mail


async def send_email(
    channel: Channel, mail: EmailMessage, *, environ: Mapping[str, str] | None = None
) -> int:
    """Send once; 250 on success, TryAgain or Refused otherwise."""
    smtp = channel.smtp
    assert smtp is not None
    password = None
    if smtp.password_env is not None:
        password = (os.environ if environ is None else environ).get(smtp.password_env)
        if not password:
            raise Refused(f"environment variable {smtp.password_env} is not set", status=None)
    try:
        await aiosmtplib.send(
            mail,
            hostname=smtp.host,
            port=smtp.port,
            use_tls=smtp.tls,
            start_tls=smtp.starttls and not smtp.tls,
            username=smtp.username,
            password=password,
            timeout=channel.timeout.total_seconds(),
        )
    except aiosmtplib.SMTPResponseException as exc:
        error = f"SMTP {exc.code}: {exc.message}"
        if 400 <= exc.code < 500:
            raise TryAgain(error, status=exc.code) from exc
        raise Refused(error, status=exc.code) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TryAgain(f"{type(exc).__name__}: {exc}", status=None) from exc
    return OK
