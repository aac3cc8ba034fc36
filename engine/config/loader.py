"""Load and validate ``environments/*.yaml`` into :class:`EnvironmentsConfig`.

Where it sits: first thing at start-up (and on a config reload). All files are checked
before anything is used; any mistake raises :class:`ConfigError` listing every problem as
``file:line: key: message`` and nothing is applied. Recording the validated config as
events is the App aggregate's job (``engine.domain.app``), fed by ``engine.config.sync``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.config.health import compile_health
from engine.config.model import AppModel, FileModel
from engine.config.notifications import PendingChannel, build_channels
from engine.config.yamlsource import LineMap, YamlSyntaxError, load_with_lines
from engine.domain.notification import Channel
from engine.domain.pipeline import AppSpec
from engine.health.lua import CustomChecks
from engine.patterns import message

# ``${NAME}`` or ``${NAME:-default}`` in ``repo``: the demo creates its repository at run
# time, so the sample points at it through an environment variable.
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
_PASSWORD_IN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]*@", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One mistake in one file."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        # a problem of the whole file (or folder) has no line (0) and no key ("-")
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.message}"
            if self.key == "-"
            else f"{where}: {self.key}: {self.message}"
        )


class ConfigError(Exception):
    """The environments config is invalid; ``problems`` lists every mistake found."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the environments config:\n"
            + "\n".join(str(p) for p in self.problems)
        )


@dataclass(frozen=True, slots=True)
class EnvironmentsConfig:
    """Every app of the engine, validated, the user's health checks (if any) and the
    notification channels."""

    apps: tuple[AppSpec, ...]
    health: CustomChecks | None = None
    notifications: tuple[Channel, ...] = ()

    def app(self, name: str) -> AppSpec:
        """The app called ``name``; KeyError names it."""
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(f"no app {name!r} in the environments config")


def load_environments(
    directory: Path, *, environ: Mapping[str, str] | None = None
) -> EnvironmentsConfig:
    """Read every ``*.yaml``/``*.yml`` in ``directory``; raise ConfigError on any mistake."""
    environ = os.environ if environ is None else environ
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise ConfigError([ConfigProblem(str(directory), 0, "-", "no *.yaml file found")])
    problems: list[ConfigProblem] = []
    apps: list[AppSpec] = []
    seen: dict[str, str] = {}
    health: list[tuple[CustomChecks | None, tuple[str, int]]] = []
    channels: list[PendingChannel] = []
    for file in files:
        loaded, checks = _load_file(file, environ=environ, problems=problems, channels=channels)
        if checks is not None:
            if health:
                first = "{}:{}".format(*health[0][1])
                problems.append(ConfigProblem(*checks[1], "health", f"also defined at {first}"))
            health.append(checks)
        for app, where in loaded:
            if app.name in seen:
                problems.append(
                    ConfigProblem(*where, f"app {app.name!r} is also defined at {seen[app.name]}")
                )
            else:
                seen[app.name] = f"{where[0]}:{where[1]}"
                apps.append(app)
    notifications = build_channels(channels, apps=apps, environ=environ)
    if problems:
        raise ConfigError(problems)
    return EnvironmentsConfig(
        apps=tuple(apps),
        health=health[0][0] if health else None,
        notifications=tuple(notifications),
    )


_Apps = list[tuple[AppSpec, tuple[str, int, str]]]
_Health = tuple[CustomChecks | None, tuple[str, int]]


def _load_file(
    file: Path,
    *,
    environ: Mapping[str, str],
    problems: list[ConfigProblem],
    channels: list[PendingChannel],
) -> tuple[_Apps, _Health | None]:
    """Validate one file; append its problems and its channels; return its apps with where
    they start, and its compiled health checks (None inside when they failed) with where
    they start."""
    name = str(file)
    try:
        data, lines = load_with_lines(file.read_text(encoding="utf-8"))
    except YamlSyntaxError as exc:
        problems.append(ConfigProblem(name, exc.line, "-", f"not valid YAML: {exc}"))
        return [], None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(name, 0, "-", f"cannot read: {exc}"))
        return [], None
    try:
        model = FileModel.model_validate(data)
    except ValidationError as exc:
        problems.extend(_from_validation(name, lines, exc))
        return [], None
    out = []
    for index, app in enumerate(model.apps or []):
        ctx = _Context(file=file, lines=lines, base=("apps", index), problems=problems)
        spec = _to_spec(app, ctx=ctx, environ=environ)
        if spec is not None:
            line = lines.line_of(("apps", index, "name"))
            out.append((spec, (name, line, f"apps[{index}].name")))
    for index, channel in enumerate(model.notifications or []):
        ctx = _Context(file=file, lines=lines, base=("notifications", index), problems=problems)
        where = f"{name}:{lines.line_of(('notifications', index, 'name'))}"
        channels.append(PendingChannel(model=channel, add=ctx.add, where=where))
    if model.health is None:
        return out, None
    ctx = _Context(file=file, lines=lines, base=("health",), problems=problems)
    checks = compile_health(
        model.health,
        config_file=file,
        key_line=lambda key: lines.line_of(("health", "checks", key)),
        add=ctx.add,
    )
    return out, (checks, (name, lines.line_of(("health",))))


@dataclass(frozen=True, slots=True)
class _Context:
    """Where the app being checked sits, so semantic checks can name file, line and key."""

    file: Path
    lines: LineMap
    base: tuple[str | int, ...]
    problems: list[ConfigProblem]

    def add(
        self, path: Sequence[str | int], message: str, at: tuple[str, int] | None = None
    ) -> None:
        """A problem at `path`'s line, or `at` (file, line) when it lies in another file."""
        full = (*self.base, *path)
        file, line = at or (str(self.file), self.lines.line_of(full))
        self.problems.append(ConfigProblem(file, line, _dotted(full), message))


def _to_spec(app: AppModel, *, ctx: _Context, environ: Mapping[str, str]) -> AppSpec | None:
    """Cross-field checks the models cannot do alone, then the one config model."""
    before = len(ctx.problems)
    repo = _resolve_repo(app.repo, ctx=ctx, environ=environ)
    names: list[str] = []
    for i, env in enumerate(app.pipeline):
        if env.name in names:
            ctx.add(("pipeline", i, "name"), f"environment {env.name!r} appears twice")
        if env.upstream is not None and env.upstream not in names:
            ctx.add(
                ("pipeline", i, "upstream"),
                f"{env.upstream!r} is not an environment listed before {env.name!r}",
            )
        names.append(env.name)
    if len(ctx.problems) > before or repo is None:
        return None
    # what the file says, with the domain's defaults for what it leaves out
    record = app.model_dump(exclude_none=True)
    record["repo"] = repo
    record["environments"] = record.pop("pipeline")
    try:
        return AppSpec.from_record(app.name, record, source_file=str(ctx.file))
    except ValidationError as exc:  # the models above check all the domain does
        for err in exc.errors():
            ctx.add((), message(err))
        return None


def _resolve_repo(text: str, *, ctx: _Context, environ: Mapping[str, str]) -> str | None:
    """Expand ``${VAR}``; a relative local path is taken from the config file's folder."""
    missing: list[str] = []

    def expand(match: re.Match[str]) -> str:
        value = environ.get(match.group(1), match.group(2))
        if value is None:
            missing.append(match.group(1))
            return ""
        return value

    repo = _ENV_VAR.sub(expand, text)
    if missing:
        ctx.add(("repo",), f"environment variable {', '.join(missing)} is not set")
        return None
    if "://" in repo or _SCP_LIKE.match(repo):
        if _PASSWORD_IN_URL.match(repo):
            # it would end up in events and logs; secrets belong in `credentials:`
            ctx.add(("repo",), "the URL holds a password or token: use `credentials:`")
            return None
        return repo
    path = Path(repo).expanduser()
    if not path.is_absolute():
        path = (ctx.file.parent / path).resolve()
    return str(path)


def _from_validation(file: str, lines: LineMap, exc: ValidationError) -> list[ConfigProblem]:
    """One problem per pydantic error, pointed at the line of its key."""
    out = []
    for err in exc.errors():
        loc: tuple[Any, ...] = tuple(err["loc"])
        out.append(ConfigProblem(file, lines.line_of(loc), _dotted(loc), message(err)))
    return out


def _dotted(path: Sequence[Any]) -> str:
    """``("apps", 0, "pipeline", 2, "policy")`` → ``apps[0].pipeline[2].policy``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "-"
