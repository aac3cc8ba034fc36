"""What the API is configured with: tokens, the webhook secret, limits, and optional hooks.

Where it sits: read once by `init_app()`. Whoever runs the Git watcher hands its poll
trigger in here; whoever runs the projection runner elsewhere says so, and the API then
does not start its own.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from api.auth import TokenBook

#: takes the repository URLs (and branch) a push named; returns the apps it asked to poll
PollTrigger = Callable[[Sequence[str], str | None], Awaitable[Sequence[str]]]

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class ApiConfig:
    """Settings of the HTTP side; `from_env` reads them from BATON_* variables."""

    tokens: TokenBook = field(default_factory=TokenBook)
    webhook_secret: str | None = None
    poll_now: PollTrigger | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    #: readyz fails when the projections are further behind the log than this
    ready_max_lag: int = 1000
    #: run the projection runner inside the API process
    run_projections: bool = True
    #: run the Git watcher inside the API process (the webhook then polls at once)
    watch_git: bool = False
    pool_size: int = 20
    #: live tails at once (each holds a database connection for LISTEN)
    max_streams: int = 8
    #: SSE keep-alive comment interval
    heartbeat: timedelta = timedelta(seconds=15)
    #: Jaeger's UI (BATON_JAEGER_URL): a URL template with `{trace_id}` where the id goes,
    #: or a base URL that answers and pages link to as `<url>/trace/<trace id>`
    jaeger_url: str | None = None
    #: how long a retry waits for the first request with its Idempotency-Key to be answered
    idempotency_wait: timedelta = timedelta(seconds=5)
    #: the kubeconfig of the environments' clusters, for the previews' dry runs
    #: (BATON_KUBECONFIG; None: the default one)
    kubeconfig: str | None = None
    #: how long a preview's dry run may wait for a cluster
    preview_timeout: timedelta = timedelta(seconds=10)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiConfig:
        """Tokens from BATON_TOKENS_FILE/BATON_TOKENS, secret from BATON_WEBHOOK_SECRET."""
        env = os.environ if env is None else env
        return cls(
            tokens=TokenBook.from_env(env),
            webhook_secret=env.get("BATON_WEBHOOK_SECRET") or None,
            ready_max_lag=int(env.get("BATON_READY_MAX_LAG", "1000")),
            run_projections=env.get("BATON_API_PROJECTIONS", "1") not in ("0", "false", "no"),
            pool_size=int(env.get("BATON_API_POOL_SIZE", "20")),
            watch_git=env.get("BATON_API_WATCH_GIT", "0") in ("1", "true", "yes"),
            jaeger_url=env.get("BATON_JAEGER_URL") or None,
            kubeconfig=env.get("BATON_KUBECONFIG") or None,
        )
