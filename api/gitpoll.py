"""The webhook's way into the Git watcher: map a push's repository URLs to watched apps.

Where it sits: glue for whoever runs the API and the watcher in one process — pass
`watcher_trigger(watcher, apps)` as `ApiConfig.poll_now`. URLs are compared without
scheme, credentials, a trailing `.git` or `/`, and case of the host, so a push that names
`https://github.com/org/web` wakes the app configured as `git@github.com:org/web.git`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from api.config import PollTrigger
from engine.config.model import AppSpec
from engine.git.watcher import GitWatcher

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


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


def watcher_trigger(watcher: GitWatcher, apps: Iterable[AppSpec]) -> PollTrigger:
    """A poll trigger that wakes every watched app whose repository (and branch) was pushed."""
    by_url: dict[str, list[AppSpec]] = {}
    for spec in apps:
        by_url.setdefault(normalise(spec.repo), []).append(spec)

    def poll_now(urls: Sequence[str], branch: str | None) -> list[str]:
        woken: list[str] = []
        for key in {normalise(u) for u in urls}:
            for spec in by_url.get(key, []):
                if branch is not None and spec.branch != branch:
                    continue
                if spec.name in watcher.apps and spec.name not in woken:
                    watcher.request_poll(spec.name)
                    woken.append(spec.name)
        return woken

    return poll_now
