"""Notifications: the channels' states, their recent deliveries, a resend.

Where it sits: over ``engine.notify.reads`` (the channels' streams) and the config this
process runs on (``RELOADER``); the notifier itself runs on a worker.
"""

from __future__ import annotations

from aiohttp import web

from api import params
from api.auth import Role
from api.errors import Refusal, not_found
from api.guard import require
from api.keys import DATABASE, RELOADER
from api.operation import Operation, json_answer
from api.render import json_response
from api.responses import ChannelList, DeliveryList, DeliveryState
from engine.domain.errors import NotDelivered
from engine.domain.notification import Channel
from engine.notify import reads
from engine.repository import Repository

CHANNEL = params.Text(name="channel", description="only this channel")


def _channels(request: web.Request) -> list[Channel]:
    config = request.app[RELOADER].config
    return list(config.notifications) if config is not None else []


@Operation(tag="notifications", answers=[json_answer(ChannelList, "every channel")])
async def list_channels(request: web.Request) -> web.Response:
    """The notification channels of the config: triggers, filters, last success, failing since."""
    require(request, Role.VIEWER)
    repository = Repository(request.app[DATABASE].store)
    states = await reads.channel_states(repository, _channels(request))
    return json_response({"channels": states})


@Operation(
    tag="notifications",
    query=[CHANNEL],
    answers=[json_answer(DeliveryList, "recent deliveries, newest first")],
    refusals=[Refusal(404, "the config has no channel of that name")],
)
async def list_deliveries(request: web.Request) -> web.Response:
    """Recent deliveries (and final failures), from the channels' events."""
    require(request, Role.VIEWER)
    channels = _channels(request)
    wanted = CHANNEL.read(request)
    if wanted is not None:
        channels = [c for c in channels if c.name == wanted]
        if not channels:
            raise not_found("channel", str(reads.UnknownChannel(wanted)))
    repository = Repository(request.app[DATABASE].store)
    return json_response({"items": await reads.recent_deliveries(repository, channels)})


@Operation(
    tag="notifications",
    answers=[json_answer(DeliveryState, "the delivery to be made again", status=202)],
)
async def resend_delivery(request: web.Request) -> web.Response:
    """Tell a channel an event again (recorded as an event; a worker's notifier sends it)."""
    caller = require(request, Role.ADMIN)
    repository = Repository(request.app[DATABASE].store)
    try:
        answer = await reads.request_resend(
            repository, _channels(request), request.match_info["delivery_id"], actor=caller.subject
        )
    except (reads.UnknownChannel, reads.UnknownDelivery, NotDelivered) as exc:
        raise not_found("delivery", str(exc)) from None
    return json_response(answer, status=202)
