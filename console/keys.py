"""Typed keys of what the console keeps on the application and on each request."""

from __future__ import annotations

from aiohttp import web

from console.config import ConsoleConfig
from console.live import LiveHub
from engine.store.sessions import Session, Sessions

CONSOLE = web.AppKey("console", ConsoleConfig)
SESSIONS = web.AppKey("sessions", Sessions)
#: the one tail of the log that every open page follows
HUB = web.AppKey("live_hub", LiveHub)

#: the signed-in browser's session (set by `console.pages.page`)
SESSION = web.RequestKey("session", Session)
