"""Credentials for one app's repository, turned into a git child-process environment.

Where it sits: the watcher resolves an app's :class:`engine.domain.pipeline.Credentials`
(names of env vars or files) into :class:`GitAuth` just before each git call. Secrets go
only into the child's environment — never into argv, the repository's config, events,
logs or traces — and every message that leaves the git layer passes through
:meth:`GitAuth.redact`.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.domain.pipeline import Credentials

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)

# Never wait for a person: a missing or wrong credential must fail fast, not prompt.
_BASE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "true",
    "SSH_ASKPASS": "true",
    "GCM_INTERACTIVE": "never",
}
_SSH = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"


class CredentialsError(Exception):
    """The configured secret cannot be read; the message names where it was looked for."""


@dataclass(frozen=True, slots=True)
class GitAuth:
    """Environment for git child processes, plus the values that must never be shown."""

    env: dict[str, str] = field(default_factory=lambda: dict(_BASE_ENV))
    secrets: tuple[str, ...] = ()

    def redact(self, text: str) -> str:
        """``text`` with every secret and any URL user-info replaced by ``***``."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return _USERINFO.sub(r"\g<scheme>***@", text)


def resolve_auth(
    creds: Credentials | None,
    *,
    app: str,
    key_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> GitAuth:
    """Read the secret named by ``creds`` and build the git environment for it."""
    environ = os.environ if environ is None else environ
    if creds is None:
        return GitAuth()
    if creds.token_env or creds.token_file:
        token = _read(creds.token_env, creds.token_file, environ=environ).strip()
        header = base64.b64encode(f"{creds.username}:{token}".encode()).decode()
        # GIT_CONFIG_* hands git a config entry through the environment only.
        env = dict(_BASE_ENV)
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {header}",
        )
        return GitAuth(env=env, secrets=(token, header))
    if creds.ssh_key_file:
        key_file = Path(creds.ssh_key_file).expanduser()
        if not key_file.is_file():
            raise CredentialsError(f"ssh key file {creds.ssh_key_file} does not exist")
    else:
        assert creds.ssh_key_env is not None
        key = _read(creds.ssh_key_env, None, environ=environ)
        # ssh reads keys only from files: keep a private copy readable by us alone.
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key_file = key_dir / f"{app}.key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key if key.endswith("\n") else key + "\n")
    env = dict(_BASE_ENV)
    env["GIT_SSH_COMMAND"] = f"{_SSH} -o IdentitiesOnly=yes -i {shlex.quote(str(key_file))}"
    return GitAuth(env=env)


def _read(var: str | None, file: str | None, *, environ: Mapping[str, str]) -> str:
    """The secret from the env var ``var`` or the file ``file`` (exactly one is set)."""
    if var is not None:
        value = environ.get(var)
        if not value:
            raise CredentialsError(f"environment variable {var} is not set")
        return value
    assert file is not None
    try:
        return Path(file).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialsError(f"cannot read credentials file {file}: {exc.strerror}") from None
