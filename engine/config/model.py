"""Shape of ``environments/*.yaml``: apps, their pipelines and per-environment policy.

Where it sits: the loader (``engine.config.loader``) validates each file's data with
these pydantic models, then turns them into the frozen :class:`AppSpec` values that the
rest of the engine uses (the watcher, the App aggregate's config events, the promotion
guard through :class:`engine.domain.policy.Policy`). :meth:`AppSpec.as_record` is the
config dict recorded in ``App.Registered`` / ``App.ConfigChanged``; the domain reads it
back with :func:`engine.domain.pipeline.pipeline_from_config`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.domain.pipeline import EnvironmentSpec
from engine.domain.policy import FreezeWindow, Policy, parse_duration

NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
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
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _one_schedule(self) -> Self:
        if (self.cron is None) == (self.rrule is None):
            raise ValueError("a freeze window needs exactly one of 'cron' or 'rrule'")
        if self.cron is not None and "FREQ=" in self.cron.upper():
            raise ValueError(f"{self.cron!r} is an RRULE: write it as 'rrule'")
        if self.rrule is not None and "FREQ=" not in self.rrule.upper():
            raise ValueError(f"{self.rrule!r} is not an RRULE (it needs FREQ=...)")
        self.to_domain()  # the domain checks schedule, duration and zone
        return self

    @property
    def schedule(self) -> str:
        """The cron expression or the RRULE."""
        schedule = self.cron if self.cron is not None else self.rrule
        assert schedule is not None
        return schedule

    def to_domain(self) -> FreezeWindow:
        """The domain value the promotion guard checks."""
        return FreezeWindow(
            name=self.name or self.schedule,
            schedule=self.schedule,
            duration=parse_duration(self.duration),
            timezone=self.timezone,
        )


class PolicyModel(_Strict):
    """Promotion policy of one environment."""

    auto_promote: bool = False
    approvals: int = Field(default=0, ge=0)
    soak: str = "0s"
    freeze: list[FreezeModel] = Field(default_factory=list)
    auto_rollback: bool = False
    self_heal: bool = True

    @field_validator("soak")
    @classmethod
    def _soak_is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    def to_domain(self) -> Policy:
        """The domain policy value."""
        return Policy(
            auto_promote=self.auto_promote,
            approvals=self.approvals,
            soak=parse_duration(self.soak),
            freeze=tuple(f.to_domain() for f in self.freeze),
            auto_rollback=self.auto_rollback,
            self_heal=self.self_heal,
        )


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


class CredentialsModel(_Strict):
    """Where the secret for one app's repository is read from (never the secret itself)."""

    username: str = "x-access-token"
    token_env: str | None = None
    token_file: str | None = None
    ssh_key_env: str | None = None
    ssh_key_file: str | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        given = [
            k
            for k in ("token_env", "token_file", "ssh_key_env", "ssh_key_file")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "credentials need exactly one of token_env, token_file, ssh_key_env, "
                f"ssh_key_file (got {', '.join(given) or 'none'})"
            )
        return self


class AppModel(_Strict):
    """One app: its Git source and its pipeline."""

    name: str = Field(pattern=NAME)
    repo: str = Field(min_length=1)
    branch: str = "main"
    path: str = "."
    poll_interval: str | None = None
    credentials: CredentialsModel | None = None
    pipeline: list[EnvironmentModel] = Field(min_length=1)

    @field_validator("path")
    @classmethod
    def _relative_path(cls, value: str) -> str:
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
CHECK_KEY = r"^(?:(?:_|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)/)?[A-Za-z][A-Za-z0-9]*$"


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


class FileModel(_Strict):
    """The top level of one ``environments/*.yaml`` file: apps, health checks, or both."""

    apps: list[AppModel] | None = Field(default=None, min_length=1)
    health: HealthModel | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.apps is None and self.health is None:
            raise ValueError("the file needs `apps` (or `health`)")
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Reference to a secret: the name of an env var or a file path, never the value."""

    username: str
    token_env: str | None = None
    token_file: str | None = None
    ssh_key_env: str | None = None
    ssh_key_file: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AppSpec:
    """A validated app, as the watcher and the App aggregate see it."""

    name: str
    repo: str
    branch: str
    path: str
    poll_interval: timedelta | None
    credentials: Credentials | None
    environments: tuple[EnvironmentSpec, ...]
    source_file: str

    def environment(self, name: str) -> EnvironmentSpec:
        """The environment called ``name``; KeyError names the app and the environment."""
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(f"app {self.name!r} has no environment {name!r}")

    def as_record(self) -> dict[str, Any]:
        """The config dict recorded in the App's events (secret references only)."""
        return {
            "repo": self.repo,
            "branch": self.branch,
            "path": self.path,
            "poll_interval": _duration(self.poll_interval) if self.poll_interval else None,
            "credentials": _credentials_record(self.credentials),
            "environments": [
                {
                    "name": env.name,
                    "upstream": env.upstream,
                    "cluster": env.cluster,
                    "namespace": env.namespace,
                    "policy": _policy_record(env.policy),
                }
                for env in self.environments
            ],
        }


def _credentials_record(creds: Credentials | None) -> dict[str, str] | None:
    if creds is None:
        return None
    fields = ("username", "token_env", "token_file", "ssh_key_env", "ssh_key_file")
    return {k: str(getattr(creds, k)) for k in fields if getattr(creds, k) is not None}


def _policy_record(policy: Policy) -> dict[str, Any]:
    return {
        "auto_promote": policy.auto_promote,
        "approvals": policy.approvals,
        "soak": _duration(policy.soak),
        "auto_rollback": policy.auto_rollback,
        "self_heal": policy.self_heal,
        "freeze": [
            {
                "name": w.name,
                "schedule": w.schedule,
                "duration": _duration(w.duration),
                "timezone": w.timezone,
            }
            for w in policy.freeze
        ],
    }


def _duration(value: timedelta) -> str:
    """``timedelta(minutes=90)`` → ``"1h30m"``: the form the config is written in."""
    total = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
