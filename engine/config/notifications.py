"""The ``notifications:`` section of the environments config: channels, checked as a whole.

Where it sits: the loader (``engine.config.loader``) validates each file's channels with
:class:`engine.config.model.ChannelModel` (syntax: a known type and trigger, an http(s)
URL, durations), then hands every channel of every file here, with the apps of the whole
config, for what one file cannot know: a name used twice, an app or environment the
config does not have, a template that does not render for one of its triggers, an
environment variable (``secret_env``, ``smtp.password_env``) that is not set. Each
problem names the file and line of its key; what passes becomes a
:class:`engine.domain.notification.Channel`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from engine.config.model import ChannelModel
from engine.domain.notification import Channel, Smtp
from engine.domain.pipeline import AppSpec
from engine.domain.policy import parse_duration
from engine.notify.messages import check_template

#: (key path under the channel, message) → a problem at that key's line
AddProblem = Callable[[tuple[str | int, ...], str], None]


@dataclass(frozen=True, kw_only=True)
class PendingChannel:
    """A channel whose syntax is valid, with how to report a problem in it."""

    model: ChannelModel
    add: AddProblem
    where: str  # "file:line" of its name


def build_channels(
    pending: Sequence[PendingChannel], *, apps: Sequence[AppSpec], environ: Mapping[str, str]
) -> list[Channel]:
    """Every channel that passes the whole-config checks (the others are reported)."""
    known_apps = {app.name: {env.name for env in app.environments} for app in apps}
    seen: dict[str, str] = {}
    out = []
    for item in pending:
        model = item.model
        if model.name in seen:
            item.add(("name",), f"channel {model.name!r} is also defined at {seen[model.name]}")
            continue
        seen[model.name] = item.where
        if _check(item, known_apps, environ):
            out.append(_to_channel(model, item.where))
    return out


def _check(item: PendingChannel, known: dict[str, set[str]], environ: Mapping[str, str]) -> bool:
    model, ok = item.model, True
    for i, app in enumerate(model.apps or []):
        if app not in known:
            item.add(("apps", i), f"{app!r} is not an app of the environments config")
            ok = False
    apps = [a for a in model.apps or known if a in known]
    environments = set().union(*(known[a] for a in apps)) if apps else set()
    for i, env in enumerate(model.environments or [] if ok else []):
        if env not in environments:
            item.add(("environments", i), f"{env!r} is not an environment of {_names(apps)}")
            ok = False
    if model.template is not None:
        problem = check_template(model.template, set(model.triggers))
        if problem is not None:
            item.add(("template",), problem)
            ok = False
    wanted: list[tuple[tuple[str | int, ...], str | None]] = [(("secret_env",), model.secret_env)]
    if model.smtp is not None:
        wanted.append((("smtp", "password_env"), model.smtp.password_env))
    for key, name in wanted:
        if name is not None and not environ.get(name):
            item.add(key, f"environment variable {name} is not set")
            ok = False
    return ok


def _names(apps: Sequence[str]) -> str:
    return ", ".join(repr(a) for a in sorted(apps)) or "any app"


def _to_channel(model: ChannelModel, where: str) -> Channel:
    smtp = model.smtp
    return Channel(
        name=model.name,
        type=model.type,
        triggers=frozenset(model.triggers),
        url=model.url,
        smtp=None
        if smtp is None
        else Smtp(
            host=smtp.host,
            port=smtp.port,
            sender=smtp.sender,
            to=tuple(smtp.to),
            starttls=smtp.starttls,
            tls=smtp.tls,
            username=smtp.username,
            password_env=smtp.password_env,
        ),
        secret_env=model.secret_env,
        apps=frozenset(model.apps or ()),
        environments=frozenset(model.environments or ()),
        template=model.template,
        give_up_after=parse_duration(model.give_up_after),
        timeout=parse_duration(model.timeout),
        source=where,
    )
