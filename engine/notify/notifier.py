"""The notifier: the durable subscription ``notifications``, telling each channel once.

Where it sits: on the worker role's supervisor, beside the promoter (``baton.service``).
It follows the log from its head the first time (``engine.subscriptions``: one consumer
across processes, a checkpoint) and, for each event, works out the triggers it fires
(``engine.domain.notification.TRIGGERS``) and the channels that want one; each gets one
message (``engine.notify.messages``), sent and retried until the channel's
``give_up_after`` (``engine.notify.send``, ``engine.notify.email``), and the outcome is
recorded on the channel's stream (``Notification.Delivered`` / ``Notification.Failed``).

Each channel has a lane of its own: its messages go one after another, in log order, and
a channel that is slow or down (retrying until its ``give_up_after``) holds up no other.
The subscription's checkpoint stays before the oldest message not yet told. At least
once: an event handed over again after a restart is skipped for a channel that already
recorded its position; a crash between a send and its record sends it again, with the
same ``X-Baton-Delivery`` id.
An admin's resend (``Notification.ResendRequested``) is met in the log like any event
and tells that channel the event again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from engine.backoff import Backoff, retry
from engine.config.loader import EnvironmentsConfig
from engine.domain.ids import notification_stream, parse_notification_stream, scope_of_stream
from engine.domain.notification import Channel, Delivery, Notification, Trigger, triggers_of
from engine.domain.vocabulary import EventType
from engine.notify.email import email_of, send_email
from engine.notify.messages import Message, Told, render, sample
from engine.notify.send import Outcome, deliver, post, request_of, secret_of
from engine.repository import Repository
from engine.store import ConcurrencyError, EventMetadata, EventStore, RecordedEvent
from engine.subscriptions import Start, Subscriptions

log = logging.getLogger(__name__)
SUBSCRIPTION = "notifications"
ACTOR = "notifications"
#: messages a channel may have waiting before the log's reading waits for it
LANE_DEPTH = 1000


@dataclass(frozen=True, kw_only=True)
class Job:
    """One message for one channel."""

    channel: Channel
    trigger: Trigger
    told: Told
    cause: RecordedEvent | None
    resend: bool = False
    test: bool = False  # a made-up message (`baton notify test`)

    @property
    def delivery_id(self) -> str:
        """What a receiver dedups by: `<log position>:<channel>` (`test-<time>:...`)."""
        first = f"test-{int(time.time())}" if self.test else str(self.told.position)
        return f"{first}:{self.channel.name}"


class _Lane:
    """One channel's messages waiting or being told, in log order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=LANE_DEPTH)
        self.pending: deque[int] = deque()  # the log position of each job's cause


class Notifier:
    """Tells the configured channels what happened."""

    def __init__(
        self,
        *,
        store: EventStore,
        channels: Sequence[Channel],
        public_url: str | None,
        backoff: Backoff | None = None,
    ) -> None:
        self.store = store
        # each lane keeps its channel's record: the repository's copy would be a deep copy
        # of it after every delivery
        self.repository = Repository(store, cache_size=0)
        self.channels = {c.name: c for c in channels}
        self.public_url = public_url
        # a receiver back from an outage hears again within 15 s
        self.backoff = backoff or Backoff(base=1.0, cap=15.0)
        self._session: aiohttp.ClientSession | None = None
        self._lanes: dict[str, _Lane] = {}
        self._group: asyncio.TaskGroup | None = None

    async def run(self, subscriptions: Subscriptions) -> None:
        """Follow the log as the subscription `notifications`, until cancelled."""
        try:
            async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as group:
                self._session, self._group = session, group
                await subscriptions.run(
                    SUBSCRIPTION, self.on_event, start=Start.HEAD, held_back=self.held_back
                )
        except ExceptionGroup as failed:  # a lane's or the run's: the first says why
            raise failed.exceptions[0] from None
        finally:
            # what was queued is handed over again by the next run, from the checkpoint
            self._session, self._group = None, None
            self._lanes.clear()

    async def reconfigure(self, config: EnvironmentsConfig) -> None:
        """Take a reloaded config's channels (from the next event on)."""
        self.channels = {c.name: c for c in config.notifications}

    async def on_event(self, event: RecordedEvent) -> None:
        """Queue a message for every channel that wants it, on the channel's lane."""
        for job in await self.jobs_of(event):
            lane = self._lane(job.channel.name)
            lane.pending.append(event.position)
            await lane.queue.put(job)

    def held_back(self) -> int | None:
        """The last position whose messages were all told (None: nothing is waiting)."""
        oldest = [lane.pending[0] for lane in self._lanes.values() if lane.pending]
        return min(oldest) - 1 if oldest else None

    def _lane(self, channel: str) -> _Lane:
        lane = self._lanes.get(channel)
        if lane is None:
            assert self._group is not None, "lanes exist while the subscription runs"
            lane = self._lanes[channel] = _Lane()
            told = self._tell_in_order(channel, lane)
            self._group.create_task(told, name=f"notify:{channel}")
        return lane

    async def _tell_in_order(self, channel: str, lane: _Lane) -> None:
        # the lane is the channel's one writer here (and the subscription's lock makes this
        # process the only one): its record, read once, stays current but for a resend
        record = await self._record_of(channel)
        while True:
            job = await lane.queue.get()
            record = await self.tell(job, record)
            lane.pending.popleft()

    async def jobs_of(self, event: RecordedEvent) -> list[Job]:
        """The messages an event asks for (a resend: that one message again)."""
        if event.type == EventType.NOTIFICATION_RESEND_REQUESTED:
            return await self._resend(event)
        fired = triggers_of(event.type, event.data)
        if not fired:
            return []
        told = told_of(event)
        context_app, context_env = scope_of_stream(told.stream_id)
        jobs = []
        for channel in self.channels.values():
            wanted = [t for t in fired if channel.wants(t, context_app, context_env)]
            if wanted:  # the most specific: awaiting-approval over promotion-requested
                jobs.append(Job(channel=channel, trigger=wanted[-1], told=told, cause=event))
        return jobs

    async def _resend(self, event: RecordedEvent) -> list[Job]:
        name = parse_notification_stream(event.stream_id)
        channel = self.channels.get(name or "")
        if channel is None:
            log.warning("notifications: resend for channel %s, not in the config", name)
            return []
        position = int(event.data["position"])
        found = await self.store.read_all(after=position - 1, limit=1)
        if not found or found[0].position != position:
            return []
        original = found[0]
        fired = [t for t in triggers_of(original.type, original.data) if t in channel.triggers]
        trigger = fired[-1] if fired else Trigger(sorted(channel.triggers)[0])
        told = told_of(original)
        return [Job(channel=channel, trigger=trigger, told=told, cause=event, resend=True)]

    async def tell(self, job: Job, record: Notification) -> Notification:
        """Send one message unless `record` (the channel's) has it told; record how it went.

        Returns the record as saved.
        """
        if not job.resend and job.told.position <= record.last_position:
            return record  # told before a restart
        assert self._session is not None, "lanes tell while the subscription runs"
        outcome = await send_job(
            job, self._session, backoff=self.backoff, public_url=self.public_url
        )
        delivery = Delivery(
            position=job.told.position,
            event_type=job.told.type,
            trigger=str(job.trigger),
            delivery_id=job.delivery_id,
            delivered=outcome.delivered,
            status=outcome.status,
            attempts=outcome.attempts,
            error=outcome.error,
            at=datetime.now(UTC),
        )
        if not outcome.delivered:
            log.warning(
                "notifications: gave up on %s after %d attempt(s): %s",
                job.delivery_id,
                outcome.attempts,
                outcome.error,
            )
        return await self._save(job, delivery, record)

    async def _record_of(self, channel: str) -> Notification:
        found = await self.repository.find(Notification, notification_stream(channel))
        return found if found is not None else Notification(channel=channel)

    async def _save(self, job: Job, delivery: Delivery, record: Notification) -> Notification:
        metadata = EventMetadata(actor=ACTOR)
        if job.cause is not None:
            metadata = metadata.caused_by(job.cause)
        current = record

        async def once() -> None:
            nonlocal current
            current.record(delivery)
            try:
                await self.repository.save(current, metadata=metadata)
            except ConcurrencyError:  # an admin's resend came between: read it, try again
                current = await self._record_of(job.channel.name)
                raise

        await retry(once, attempts=5, on=ConcurrencyError)
        return current


async def send_job(
    job: Job, session: aiohttp.ClientSession, *, backoff: Backoff, public_url: str | None
) -> Outcome:
    """Render `job`'s message and send it, with retries until the channel's `give_up_after`."""
    message = message_of(job, public_url)
    channel = job.channel
    give_up = channel.give_up_after.total_seconds()
    if channel.smtp is not None:
        mail = email_of(channel, message, job.delivery_id)
        return await deliver(
            lambda: send_email(channel, mail), give_up_after=give_up, backoff=backoff
        )

    async def attempt() -> int:
        # signed afresh on every attempt: a receiver may refuse an old timestamp
        secret = secret_of(channel)
        return await post(
            session, channel, request_of(channel, message, job.delivery_id, secret=secret)
        )

    return await deliver(attempt, give_up_after=give_up, backoff=backoff)


def message_of(job: Job, public_url: str | None) -> Message:
    """The channel's template, or the default when it fails on an event unlike the sample."""
    try:
        return render(job.told, job.trigger, template=job.channel.template, public_url=public_url)
    except Exception as exc:
        log.warning("notifications: %s's template failed (%s); default used", job.channel.name, exc)
        return render(job.told, job.trigger, template=None, public_url=public_url)


async def send_test(channel: Channel, *, public_url: str | None) -> Outcome:
    """Send `channel` a made-up message of its first trigger (``baton notify test``)."""
    trigger = sorted(channel.triggers)[0]
    job = Job(channel=channel, trigger=trigger, told=sample(trigger), cause=None, test=True)
    async with aiohttp.ClientSession() as session:
        return await send_job(
            job, session, backoff=Backoff(base=0.5, cap=5.0), public_url=public_url
        )


def build_notifier(*, store: EventStore, config: EnvironmentsConfig) -> Notifier:
    """The notifier as the server runs it."""
    return Notifier(store=store, channels=config.notifications, public_url=public_url())


def public_url() -> str | None:
    """Where the console's links in a message start: ``BATON_PUBLIC_URL`` (None: no link)."""
    return os.environ.get("BATON_PUBLIC_URL") or None


def told_of(event: RecordedEvent) -> Told:
    """The parts of a recorded event a message tells of."""
    return Told(
        position=event.position,
        type=event.type,
        stream_id=event.stream_id,
        data=event.data,
        recorded_at=event.recorded_at,
    )
