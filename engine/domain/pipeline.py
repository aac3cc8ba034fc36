"""An app's pipeline as the domain sees it: ordered environments, each with its policy.

Built from the app's configuration (the dict recorded in `App.Registered` /
`App.ConfigChanged`), so that promotion rules always use the configuration in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.domain.policy import FreezeWindow, Policy, parse_duration


@dataclass(frozen=True, kw_only=True)
class EnvironmentSpec:
    """One stage of a pipeline."""

    name: str
    upstream: str | None
    cluster: str
    namespace: str
    policy: Policy


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    """The ordered environments of one app."""

    app: str
    environments: tuple[EnvironmentSpec, ...]

    def environment(self, name: str) -> EnvironmentSpec:
        """The environment called `name`; KeyError naming the known ones otherwise."""
        for env in self.environments:
            if env.name == name:
                return env
        known = ", ".join(e.name for e in self.environments)
        raise KeyError(f"app {self.app} has no environment {name!r} (it has {known})")

    def downstream_of(self, name: str) -> list[EnvironmentSpec]:
        """The environments whose upstream is `name`."""
        return [e for e in self.environments if e.upstream == name]


def policy_from_config(raw: Mapping[str, Any]) -> Policy:
    """A Policy from its config mapping (durations as text like '10m')."""
    return Policy(
        auto_promote=bool(raw.get("auto_promote", False)),
        approvals=int(raw.get("approvals", 0)),
        soak=parse_duration(str(raw.get("soak", "0s"))),
        freeze=tuple(
            FreezeWindow(
                name=str(w["name"]),
                schedule=str(w["schedule"]),
                duration=parse_duration(str(w["duration"])),
                timezone=str(w.get("timezone", "UTC")),
            )
            for w in raw.get("freeze", ())
        ),
        auto_rollback=bool(raw.get("auto_rollback", False)),
        self_heal=bool(raw.get("self_heal", True)),
    )


def pipeline_from_config(app: str, config: Mapping[str, Any]) -> Pipeline:
    """The pipeline described by an app's config; upstream defaults to the previous entry."""
    environments = []
    previous: str | None = None
    for raw in config.get("environments", ()):
        name = str(raw["name"])
        upstream = raw.get("upstream", previous)
        environments.append(
            EnvironmentSpec(
                name=name,
                upstream=upstream,
                cluster=str(raw.get("cluster", "kubesim")),
                namespace=str(raw.get("namespace") or f"{app}-{name}"),
                policy=policy_from_config(raw.get("policy", {})),
            )
        )
        previous = name
    return Pipeline(app=app, environments=tuple(environments))
