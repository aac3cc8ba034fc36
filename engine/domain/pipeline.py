"""An app's configuration as every part of baton sees it: its Git source and its pipeline.

Where it sits: one model, parsed once per source. The loader (``engine.config``) checks
``environments/*.yaml`` and builds an :class:`AppSpec` with :meth:`AppSpec.from_record`;
the App aggregate records :meth:`AppSpec.as_record` in ``App.Registered`` /
``App.ConfigChanged`` and reads it back with :meth:`AppSpec.from_record`, so that the
promotion rules, the API and the workers all use the configuration in force. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, TypeAdapter, with_config

from engine.domain.policy import Duration, Policy

#: where a secret may be read from; a repository names exactly one
SECRET_SOURCES = ("token_env", "token_file", "ssh_key_env", "ssh_key_file")


@with_config(ConfigDict(extra="forbid"))  # a typo must not pass for a source
@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Reference to a secret: the name of an env var or a file path, never the value."""

    username: str = "x-access-token"
    token_env: str | None = None
    token_file: str | None = None
    ssh_key_env: str | None = None
    ssh_key_file: str | None = None

    def __post_init__(self) -> None:
        given = [k for k in SECRET_SOURCES if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"credentials need exactly one of {', '.join(SECRET_SOURCES)} "
                f"(got {', '.join(given) or 'none'})"
            )

    def as_record(self) -> dict[str, str]:
        """The fields that are set (a record never names a source that is not used)."""
        fields = ("username", *SECRET_SOURCES)
        return {k: str(getattr(self, k)) for k in fields if getattr(self, k) is not None}


@dataclass(frozen=True, kw_only=True)
class EnvironmentSpec:
    """One stage of a pipeline."""

    name: str
    upstream: str | None
    cluster: str = "kubesim"  # records written before a cluster was required
    namespace: str
    policy: Policy = field(default_factory=Policy)


@dataclass(frozen=True, kw_only=True)
class AppSpec:
    """One app: where its manifests come from and the ordered environments they go through."""

    name: str
    repo: str = ""
    branch: str = "main"
    path: str = "."
    poll_interval: Duration | None = None
    credentials: Credentials | None = None
    environments: tuple[EnvironmentSpec, ...] = ()
    source_file: str = ""  # the file that defines it; not part of the record

    def environment(self, name: str) -> EnvironmentSpec:
        """The environment called `name`; KeyError naming the known ones otherwise."""
        for env in self.environments:
            if env.name == name:
                return env
        known = ", ".join(e.name for e in self.environments)
        raise KeyError(f"app {self.name} has no environment {name!r} (it has {known})")

    def downstream_of(self, name: str) -> list[EnvironmentSpec]:
        """The environments whose upstream is `name`."""
        return [e for e in self.environments if e.upstream == name]

    def as_record(self) -> dict[str, Any]:
        """The config as the App's events hold it (secret references only)."""
        record: dict[str, Any] = _ADAPTER.dump_python(
            self, mode="json", exclude={"name", "source_file"}
        )
        record["credentials"] = self.credentials.as_record() if self.credentials else None
        return record

    @classmethod
    def from_record(cls, name: str, record: Mapping[str, Any], *, source_file: str = "") -> AppSpec:
        """The app `record` describes; ValueError (pydantic's) naming each bad field.

        An environment's upstream defaults to the one listed before it, its namespace to
        ``<app>-<environment>``.
        """
        environments = []
        previous: str | None = None
        for raw in record.get("environments", ()):
            env = {"upstream": previous, **raw}
            env["namespace"] = raw.get("namespace") or f"{name}-{raw.get('name')}"
            environments.append(env)
            previous = raw.get("name")
        data = {**record, "name": name, "environments": environments}
        return _ADAPTER.validate_python({**data, "source_file": source_file})


_ADAPTER: TypeAdapter[AppSpec] = TypeAdapter(AppSpec)
