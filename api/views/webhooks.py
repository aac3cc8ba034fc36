"""`POST /webhooks/git`: a push from GitHub or GitLab wakes the watcher of the apps it touches.

Where it sits: public (no bearer token), but signed. GitHub signs the body with
HMAC-SHA256 (`X-Hub-Signature-256: sha256=<hex>`); GitLab sends the shared secret as
`X-Gitlab-Token`. Both are compared in constant time with BATON_WEBHOOK_SECRET. The
webhook only triggers a poll: what is new is still read from Git, never from the payload.
The poll is asked of the watcher in this process, or through Postgres of the process
that runs it (`api.gitpoll`).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from api.bodies import check_media_type, parse_json
from api.errors import DATABASE_AWAY, Problem, Refusal
from api.guard import public
from api.keys import CONFIG, POLL_TRIGGER
from api.operation import Header, Operation, json_answer
from api.render import json_response
from api.responses import WebhookResult

#: what the webhook reads of a push; the rest of the payload is GitHub's or GitLab's
Push = Annotated[dict[str, Any], Field(description="a GitHub or GitLab push payload")]


def _signature_ok(request: web.Request, secret: str, body: bytes) -> bool:
    github = request.headers.get("X-Hub-Signature-256")
    if github is not None:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(github.strip().encode(), expected.encode())
    gitlab = request.headers.get("X-Gitlab-Token")
    if gitlab is not None:
        return hmac.compare_digest(gitlab.encode(), secret.encode())
    return False


def push_of(payload: dict[str, Any]) -> tuple[list[str], str | None]:
    """(repository URLs, branch) named by a GitHub or GitLab push payload."""
    urls: list[str] = []
    for holder in ("repository", "project"):
        repo = payload.get(holder)
        if isinstance(repo, dict):
            for key in (
                "clone_url",
                "ssh_url",
                "git_url",
                "html_url",
                "url",
                "git_http_url",
                "git_ssh_url",
                "web_url",
                "http_url",
                "ssh_url",
            ):
                value = repo.get(key)
                if isinstance(value, str) and value and value not in urls:
                    urls.append(value)
    ref = payload.get("ref")
    branch = ref.removeprefix("refs/heads/") if isinstance(ref, str) else None
    return urls, branch


@public
@Operation(
    tag="git",
    body=Push,
    answers=[json_answer(WebhookResult, "the apps woken", status=202)],
    headers=[
        Header(name="X-Hub-Signature-256", description="GitHub: sha256=<HMAC of the body>"),
        Header(name="X-Gitlab-Token", description="GitLab: the shared secret"),
        Header(name="X-GitHub-Event", description="GitHub: the event (push, ping, ...)"),
        Header(name="X-Gitlab-Event", description="GitLab: the event (Push Hook, ...)"),
    ],
    refusals=[
        Refusal(401, "the signature does not match"),
        Refusal(404, "webhooks are not configured (BATON_WEBHOOK_SECRET)"),
        Refusal(422, "the body is not a JSON object, or not a push payload"),
        DATABASE_AWAY,  # the poll is asked through Postgres of the process that runs it
    ],
)
async def git_webhook(request: web.Request) -> web.Response:
    """A GitHub or GitLab push: poll the repository now.

    Checks the signature, finds the apps of the repository, asks for an immediate poll.
    """
    config = request.app[CONFIG]
    if not config.webhook_secret:
        raise Problem(
            404,
            "webhooks-disabled",
            "Webhooks are not configured",
            detail="set BATON_WEBHOOK_SECRET to accept Git webhooks",
        )
    body = await request.read()
    if not _signature_ok(request, config.webhook_secret, body):
        raise Problem(
            401,
            "bad-signature",
            "Webhook signature does not match",
            detail="send X-Hub-Signature-256 (GitHub) or X-Gitlab-Token (GitLab)",
            field="X-Hub-Signature-256",
        )
    check_media_type(request)
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise Problem(422, "validation-error", "The body must be a JSON object", field="body")
    event = request.headers.get("X-GitHub-Event") or request.headers.get("X-Gitlab-Event")
    if event is not None and event.lower() not in ("push", "push hook", "ping"):
        return json_response({"triggered": [], "ignored": event}, status=202)
    urls, branch = push_of(payload)
    if not urls and event is None:
        raise Problem(
            422,
            "validation-error",
            "Not a push payload",
            detail="expected repository (GitHub) or project (GitLab)",
            field="repository",
        )
    poll_now = request.app[POLL_TRIGGER]
    triggered = list(await poll_now(urls, branch)) if poll_now is not None and urls else []
    return json_response({"triggered": sorted(triggered), "branch": branch}, status=202)
