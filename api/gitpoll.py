"""The webhook's way into the Git watcher: map a push's repository URLs to watched apps.

Where it sits: between the webhook and the watcher. `watcher_trigger` wakes a watcher in
the same process directly; `notify_trigger` is for a process without one (`--role api`,
extra HTTP processes) and sends the app names through Postgres to whichever process runs
it (`engine.git.wakeups`). URLs are compared without scheme, credentials, a trailing
`.git` or `/`, and case of the host, so a push that names `https://github.com/org/web`
wakes the app configured as `git@github.com:org/web.git`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from api.config import PollTrigger
from engine.domain.pipeline import AppSpec
from engine.git.wakeups import publish_polls
from engine.git.watcher import GitWatcher
from engine.store.database import Pool

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)

#: the names of the apps whose repository (and branch) a push named
_Matcher = Callable[[Sequence[str], str | None], list[str]]


def normalise(url: str) -> str:
    """`host/path` of a Git URL, for comparing the forms one repository goes by."""
    scp_like = not _SCHEME.match(url.strip())  # user@host:org/repo
    text = _SCHEME.sub("", url.strip())
    text = text.rsplit("@", 1)[-1]  # credentials or the ssh user
    if scp_like:
        text = text.replace(":", "/", 1)
    host, _, path = text.partition("/")
    host = host.split(":", 1)[0].lower()  # a port does not make another repository
    path = path.strip("/").removesuffix(".git").strip("/")
    return f"{host}/{path}"


def _push_matcher(apps: Iterable[AppSpec]) -> _Matcher:
    """Which of `apps` a push of these repository URLs (and branch) concerns."""
    by_url: dict[str, list[AppSpec]] = {}
    for spec in apps:
        by_url.setdefault(normalise(spec.repo), []).append(spec)

    def match(urls: Sequence[str], branch: str | None) -> list[str]:
        names: list[str] = []
        for key in dict.fromkeys(normalise(u) for u in urls):
            for spec in by_url.get(key, []):
                if branch is not None and spec.branch != branch:
                    continue
                if spec.name not in names:
                    names.append(spec.name)
        return names

    return match


def watcher_trigger(watcher: GitWatcher, apps: Iterable[AppSpec]) -> PollTrigger:
    """A poll trigger that wakes every watched app whose repository (and branch) was pushed."""
    match = _push_matcher(apps)

    async def poll_now(urls: Sequence[str], branch: str | None) -> list[str]:
        woken = [name for name in match(urls, branch) if name in watcher.apps]
        for name in woken:
            watcher.request_poll(name)
        return woken

    return poll_now


def notify_trigger(pool: Pool, apps: Iterable[AppSpec]) -> PollTrigger:
    """A poll trigger that asks the watcher of another process, through Postgres."""
    match = _push_matcher(apps)

    async def poll_now(urls: Sequence[str], branch: str | None) -> list[str]:
        names = match(urls, branch)
        await publish_polls(pool, names)
        return names

    return poll_now
