"""`baton notify test CHANNEL`: one signed test message, and a clear failure without a receiver."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.notify.conftest import APPS, SECRET, SECRET_ENV, Receiver

CONFIG = (
    APPS
    + """\
notifications:
  - name: hooks
    type: webhook
    url: URL
    secret_env: SECRET_ENV
    triggers: [promotion-failed]
    give_up_after: 1s
"""
)


async def _baton(*args: str) -> tuple[int, str]:
    env = {**os.environ, SECRET_ENV: SECRET}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "baton", *args, env=env, stdout=-1, stderr=-2
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_notify_test_sends_one_signed_message_to_the_channel(
    tmp_path: Path, receiver: Receiver
) -> None:
    text = CONFIG.replace("URL", receiver.url).replace("SECRET_ENV", SECRET_ENV)
    (tmp_path / "shop.yaml").write_text(text)
    code, out = await _baton("notify", "test", "hooks", "--dir", str(tmp_path))

    assert code == 0, out
    assert "delivered to hooks (status 200" in out
    [message] = receiver.taken
    assert message.signature_ok and message.body["trigger"] == "promotion-failed"
    assert message.headers["X-Baton-Delivery"].startswith("test-")


async def test_notify_test_says_in_one_line_when_nothing_answers(tmp_path: Path) -> None:
    down = Receiver()
    text = CONFIG.replace("URL", down.url).replace("SECRET_ENV", SECRET_ENV)
    (tmp_path / "shop.yaml").write_text(text)
    code, out = await _baton("notify", "test", "hooks", "--dir", str(tmp_path))

    assert code == 1
    assert out.startswith("error: channel hooks: not delivered after") and out.count("\n") == 1
