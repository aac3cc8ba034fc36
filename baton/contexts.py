"""Which baton server the CLI talks to, and with which token: flags, environment, contexts.

Where it sits: under `baton.client` and the CLI commands (`baton.cli.remote`,
`baton.cli.contexts`). `resolve()` is the one place a server and a token are chosen, in
this order: `--url`/`--token` flags, then `BATON_URL`/`BATON_TOKEN`, then the current
context that `baton login` stored, then the default URL with no token. A context's token
goes only to that context's URL: another server named by a flag or the environment never
sees it.

The contexts live in `$XDG_CONFIG_HOME/baton/config.yaml` (`~/.config/baton/config.yaml`),
shaped like a kubeconfig: `current-context: NAME` and `contexts: [{name, url, token}]`.
The directory is kept 0700 and the file 0600, since it holds tokens; nothing here ever
prints or logs a token.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:8080"


class ContextsError(ValueError):
    """The contexts file cannot be read or is not shaped as expected."""


@dataclass(frozen=True, slots=True)
class Context:
    """A server `baton login` checked, and the token it accepted."""

    name: str
    url: str
    token: str = field(repr=False)


@dataclass(slots=True)
class Contexts:
    """The contexts file: every stored context and the name of the current one."""

    contexts: list[Context] = field(default_factory=list)
    current: str | None = None

    @property
    def names(self) -> list[str]:
        """The stored contexts' names, in the file's order."""
        return [context.name for context in self.contexts]

    def get(self, name: str | None) -> Context | None:
        """The context of that name, or None."""
        return next((c for c in self.contexts if c.name == name), None)

    def put(self, context: Context) -> None:
        """Add `context`, or replace the one of its name, and make it the current one."""
        self.contexts = [c for c in self.contexts if c.name != context.name] + [context]
        self.current = context.name

    def remove(self, name: str) -> None:
        """Forget the context of that name; none is current if it was."""
        self.contexts = [c for c in self.contexts if c.name != name]
        if self.current == name:
            self.current = None


@dataclass(frozen=True, slots=True)
class Server:
    """Where a command sends its requests and the token it sends (None: anonymous)."""

    url: str
    token: str | None = field(default=None, repr=False)
    #: what chose the URL: "flag", "environment", "context NAME" or "default"
    source: str = "default"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The contexts file: `$XDG_CONFIG_HOME/baton/config.yaml`, else under `~/.config`."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "baton" / "config.yaml"


def load(path: Path | None = None) -> Contexts:
    """The stored contexts; none when the file does not exist."""
    import yaml

    path = path or config_path()
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Contexts()
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ContextsError(f"cannot read {path}: {type(exc).__name__}") from None
    if data is None:
        return Contexts()
    items = data.get("contexts") if isinstance(data, dict) else None
    if not isinstance(items, list | None):
        raise ContextsError(f"{path}: contexts is not a list")
    contexts = []
    for index, item in enumerate(items or []):
        fields = (item.get(key) if isinstance(item, dict) else None for key in _KEYS)
        name, url, token = fields
        if not all(isinstance(value, str) and value for value in (name, url, token)):
            raise ContextsError(f"{path}: contexts[{index}] needs a name, a url and a token")
        contexts.append(Context(str(name), str(url), str(token)))
    current = data.get("current-context")
    return Contexts(contexts, current if isinstance(current, str) else None)


_KEYS = ("name", "url", "token")


def save(contexts: Contexts, path: Path | None = None) -> Path:
    """Write the contexts, atomically, readable by their owner only (0600 in a 0700 dir)."""
    import yaml

    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    document = {
        "current-context": contexts.current,
        "contexts": [{key: getattr(c, key) for key in _KEYS} for c in contexts.contexts],
    }
    # mkstemp creates the file 0600: the tokens are never readable by others, not even
    # for a moment
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            yaml.safe_dump(document, out, sort_keys=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def default_name(url: str) -> str:
    """A context's name when none is given: the URL's host:port (`127.0.0.1:8080`)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def resolve(
    url: str | None = None,
    token: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Server:
    """The server and token to use: flags (`url`, `token`), then BATON_URL/BATON_TOKEN,
    then the current context, then the default URL without a token.

    The current context's token is sent only to the current context's URL.
    """
    env = os.environ if env is None else env
    chosen_url, source = (url, "flag") if url else (env.get("BATON_URL") or None, "environment")
    chosen_token = token if token is not None else (env.get("BATON_TOKEN") or None)
    if chosen_url is None or chosen_token is None:
        current = _current(path)
        if current is not None:
            if chosen_url is None:
                chosen_url, source = current.url, f"context {current.name}"
            if chosen_token is None and _same(current.url, chosen_url):
                chosen_token = current.token
    if chosen_url is None:
        chosen_url, source = DEFAULT_URL, "default"
    return Server(chosen_url.rstrip("/"), chosen_token, source)


def _current(path: Path | None) -> Context | None:
    contexts = load(path)
    return contexts.get(contexts.current)


def _same(one: str, other: str) -> bool:
    return one.rstrip("/") == other.rstrip("/")
