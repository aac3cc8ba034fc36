"""Waking the Git watcher from another process: a push's apps, sent through Postgres.

Where it sits: between the webhook of an API process that runs no watcher (it publishes
with :func:`publish_polls`) and the process that runs the watcher (it listens with
:func:`polls_on_notify`). One notification per app, its name as the payload; a name the
watcher does not watch is ignored, and one lost while the listener reconnects is covered
by the watcher's own interval.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from engine.git.watcher import GitWatcher
from engine.store.database import Pool
from engine.store.listen import Listener, listening, notify

POLL_CHANNEL = "baton_git_poll"
log = logging.getLogger(__name__)


async def publish_polls(pool: Pool, apps: Sequence[str]) -> None:
    """Ask whichever process watches `apps` to poll them now."""
    await notify(pool, POLL_CHANNEL, apps)


def polls_on_notify(pool: Pool, watcher: GitWatcher) -> AbstractAsyncContextManager[Listener]:
    """While the block runs, poll each watched app named on the channel at once."""

    def wake(app: str) -> None:
        if app in watcher.apps:
            watcher.request_poll(app)
        else:
            # another process's config may name apps this one has not loaded (yet)
            log.debug("poll request for %r, which this watcher does not watch", app)

    # the watcher's supervisor keeps the listening connection alive beside its poll loops
    return listening(pool, POLL_CHANNEL, wake, supervisor=watcher.supervisor)
