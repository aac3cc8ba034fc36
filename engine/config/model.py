"""The syntax of ``environments/*.yaml``: apps, their pipelines and per-environment policy.

Where it sits: the loader (``engine.config.loader``) checks each file's data with these
pydantic models, so that every mistake is named with its line, then hands what they hold
to the one config model, :class:`engine.domain.pipeline.AppSpec`, which every other part
of baton uses. These models hold the file's syntax only (``cron``/``rrule``, ``pipeline``,
``${VAR}`` in ``repo``); a key left out is left out, and the defaults are the domain's.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_serializer,
    field_validator,
    model_validator,
)

from engine.domain.notification import ChannelType, Trigger
from engine.domain.pipeline import Credentials
from engine.domain.policy import FreezeWindow, parse_duration
from engine.patterns import pattern

NAME = pattern(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "lowercase letters, digits and '-', starting and ending with a letter or digit",
)
KUBESIM_PREFIX = "kubesim:"


class _Strict(BaseModel):
    """Unknown keys are mistakes (a typo must not silently drop a policy), and so are
    values of the wrong type (``approvals: "2"`` is not quietly read as 2)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class FreezeModel(_Strict):
    """One freeze window: ``cron`` or ``rrule``, plus ``duration`` and ``timezone``."""

    name: str | None = None
    cron: str | None = None
    rrule: str | None = None
    duration: str
    timezone: str | None = None

    @model_validator(mode="after")
    def _one_schedule(self) -> Self:
        if (self.cron is None) == (self.rrule is None):
            raise ValueError("a freeze window needs exactly one of 'cron' or 'rrule'")
        if self.cron is not None and "FREQ=" in self.cron.upper():
            raise ValueError(f"{self.cron!r} is an RRULE: write it as 'rrule'")
        if self.rrule is not None and "FREQ=" not in self.rrule.upper():
            raise ValueError(f"{self.rrule!r} is not an RRULE (it needs FREQ=...)")
        FreezeWindow(  # the domain checks schedule, duration and zone
            name=self.name or self.schedule,
            schedule=self.schedule,
            duration=parse_duration(self.duration),
            **({"timezone": self.timezone} if self.timezone else {}),
        )
        return self

    @property
    def schedule(self) -> str:
        """The cron expression or the RRULE."""
        schedule = self.cron if self.cron is not None else self.rrule
        assert schedule is not None
        return schedule

    def as_record(self) -> dict[str, str]:
        """The window as the domain records it: one ``schedule``, named after it if unnamed."""
        record = {"name": self.name or self.schedule, "schedule": self.schedule}
        record["duration"] = self.duration
        if self.timezone is not None:
            record["timezone"] = self.timezone
        return record


class PolicyModel(_Strict):
    """Promotion policy of one environment."""

    auto_promote: bool | None = None
    approvals: int | None = Field(default=None, ge=0)
    soak: str | None = None
    freeze: list[FreezeModel] | None = None
    auto_rollback: bool | None = None
    self_heal: bool | None = None

    @field_validator("soak")
    @classmethod
    def _soak_is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_serializer("freeze")
    def _freeze_as_recorded(self, freeze: list[FreezeModel] | None) -> list[dict[str, str]] | None:
        return None if freeze is None else [f.as_record() for f in freeze]


class EnvironmentModel(_Strict):
    """One stage of an app's pipeline."""

    name: str = Field(pattern=NAME)
    cluster: str = Field(min_length=1)
    namespace: str | None = Field(default=None, pattern=NAME)
    upstream: str | None = None
    policy: PolicyModel = Field(default_factory=PolicyModel)

    @field_validator("cluster")
    @classmethod
    def _kubesim_has_a_name(cls, value: str) -> str:
        if value.startswith(KUBESIM_PREFIX) and not re.match(
            NAME, value.removeprefix(KUBESIM_PREFIX)
        ):
            raise ValueError(f"{value!r}: write kubesim:<name> with a lowercase name")
        return value


class AppModel(_Strict):
    """One app: its Git source and its pipeline."""

    name: str = Field(pattern=NAME)
    repo: str = Field(min_length=1)
    branch: str | None = None
    path: str | None = None
    poll_interval: str | None = None
    credentials: Credentials | None = None
    pipeline: list[EnvironmentModel] = Field(min_length=1)

    @field_validator("path")
    @classmethod
    def _relative_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = [p for p in value.split("/") if p not in ("", ".")]
        if value.startswith("/") or ".." in parts:
            raise ValueError(f"{value!r} must be a path inside the repository")
        return "/".join(parts) or "."

    @field_validator("poll_interval")
    @classmethod
    def _interval_is_duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) < timedelta(seconds=1):
            raise ValueError("poll_interval must be at least 1s")
        return value


# "group/Kind", or "Kind" / "_/Kind" for the core group, as Argo CD keys its checks
CHECK_KEY = pattern(
    r"^(?:(?:_|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)/)?[A-Za-z][A-Za-z0-9]*$",
    "a kind, or group/kind (`apps/Deployment`, `_/ConfigMap` for the core group)",
)


class HealthModel(_Strict):
    """User-defined health checks in Argo CD's Lua format (``engine.health.lua``)."""

    checks_dir: str | None = None  # <group>/<kind>/health.lua, as Argo CD's folder
    checks: dict[str, str] = Field(default_factory=dict)  # "group/Kind": Lua source
    max_instructions: int = Field(default=1_000_000, ge=1000)
    timeout: str = "500ms"

    @field_validator("checks")
    @classmethod
    def _keys_are_group_kind(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.match(CHECK_KEY, key):
                raise ValueError(f"{key!r} is not 'group/Kind' ('Kind' for the core group)")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout_is_duration(cls, value: str) -> str:
        if not timedelta(0) < parse_duration(value) <= timedelta(seconds=60):
            raise ValueError(f"{value!r} must be more than 0s and at most 60s")
        return value


ENV_NAME = pattern(
    r"^[A-Za-z_][A-Za-z0-9_]*$", "an environment variable's name (letters, digits and '_')"
)


class SmtpModel(_Strict):
    """Where an email channel sends: the server, the sender and the receivers."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(alias="from", min_length=3)
    to: list[str] = Field(min_length=1)
    starttls: bool = True
    tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=ENV_NAME)  # never the password


class ChannelModel(_Strict):
    """One channel of ``notifications:``: where to tell, what and about which apps."""

    name: str = Field(pattern=NAME)
    type: Annotated[ChannelType, Strict(False)]
    url: str | None = None
    smtp: SmtpModel | None = None
    secret_env: str | None = Field(default=None, pattern=ENV_NAME)  # holds the HMAC secret
    triggers: list[Annotated[Trigger, Strict(False)]] = Field(min_length=1)
    apps: list[str] | None = None
    environments: list[str] | None = None
    template: str | None = None
    give_up_after: str = "10m"
    timeout: str = "10s"

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{value.split('?')[0]!r} is not an http(s) URL")
        return value

    @field_validator("give_up_after", "timeout")
    @classmethod
    def _positive_duration(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError(f"{value!r} must be more than 0s")
        return value

    @model_validator(mode="after")
    def _where_to(self) -> Self:
        if self.type is ChannelType.EMAIL:
            if self.smtp is None or self.url is not None:
                raise ValueError("an email channel needs `smtp` (and no `url`)")
        elif self.url is None or self.smtp is not None:
            raise ValueError(f"a {self.type} channel needs `url` (and no `smtp`)")
        return self


class FileModel(_Strict):
    """The top level of one ``environments/*.yaml`` file: apps, health checks, channels."""

    apps: list[AppModel] | None = Field(default=None, min_length=1)
    health: HealthModel | None = None
    notifications: list[ChannelModel] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.apps is None and self.health is None and self.notifications is None:
            raise ValueError("the file needs `apps` (or `health`, or `notifications`)")
        return self
