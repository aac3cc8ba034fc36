"""Authentication and roles: bearer tokens, each with a subject and environment-scoped roles.

Where it sits: the first middleware a request meets. Tokens come from a file named by
BATON_TOKENS_FILE (YAML or JSON) and/or BATON_TOKENS; they are hashed as they are loaded
and only the hashes are kept. The subject of the token is the actor recorded in events.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine.config.yamlsource import YamlSyntaxError, load_with_lines
from engine.store.errors import EventValidationError
from engine.store.types import check_identifier

_ENV_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_GRANT = re.compile(r"^\s*([A-Za-z]+)\s*(?:[:@]\s*(.*))?$")


class Role(StrEnum):
    """What a token may do."""

    VIEWER = "viewer"  # reads
    PROMOTER = "promoter"  # promotions, cancellations and rollbacks, per environment
    APPROVER = "approver"  # approvals and rejections, per environment
    ADMIN = "admin"  # everything, plus replay and policy overrides

    @property
    def is_scoped(self) -> bool:
        """True for roles that can be limited to some environments."""
        return self in (Role.PROMOTER, Role.APPROVER)


class TokenConfigError(ValueError):
    """The token configuration is malformed; the message names the entry (never the token)."""


@dataclass(frozen=True, kw_only=True)
class Grant:
    """One role, in some environments (None: in all)."""

    role: Role
    environments: frozenset[str] | None = None

    def covers(self, role: Role, environment: str | None) -> bool:
        """True when this grant allows `role` in `environment`."""
        if self.role is Role.ADMIN:
            return True
        if role is Role.VIEWER:
            return True  # every role can read
        if self.role is not role:
            return False
        return (
            environment is None or self.environments is None or (environment in self.environments)
        )

    @classmethod
    def parse(cls, text: str, *, where: str) -> Grant:
        """'viewer', 'admin', 'promoter', 'promoter:dev,staging' or 'promoter@dev|staging'."""
        match = _GRANT.match(text)
        if match is None:
            raise TokenConfigError(f"{where}: {text!r} is not a role")
        name, scope = match.group(1), (match.group(2) or "").strip()
        try:
            role = Role(name.strip().lower())
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise TokenConfigError(f"{where}: unknown role {name!r} (known: {known})") from None
        if not scope:
            return cls(role=role)
        if not role.is_scoped:
            raise TokenConfigError(f"{where}: role {role} cannot be limited to environments")
        envs = frozenset(e.strip() for e in re.split(r"[,|]", scope) if e.strip())
        bad = sorted(e for e in envs if not _ENV_NAME.match(e))
        if not envs or bad:
            raise TokenConfigError(f"{where}: bad environment list {scope!r}")
        return cls(role=role, environments=envs)


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who is calling, and what they may do."""

    subject: str
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    def allows(self, role: Role, environment: str | None = None) -> bool:
        """True when some grant allows `role` in `environment`.

        Without an environment, any grant of the role will do: views that touch an
        environment always name it.
        """
        return any(g.covers(role, environment) for g in self.grants)

    @property
    def roles(self) -> list[str]:
        """The grants as text, for responses and logs."""
        out = []
        for g in self.grants:
            scope = "" if g.environments is None else ":" + ",".join(sorted(g.environments))
            out.append(f"{g.role}{scope}")
        return out


def hash_token(token: str) -> str:
    """The sha256 hex digest a token is kept and looked up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenBook:
    """Token hashes → principals."""

    def __init__(
        self, principals: Mapping[str, Principal] | None = None, *, keep_raw: bool = False
    ) -> None:
        self._by_hash = dict(principals or {})
        #: (subject, token) of each raw token loaded, kept only when asked for: the demo
        #: prints its people's tokens; a server keeps nothing but their hashes
        self.raw: list[tuple[str, str]] | None = [] if keep_raw else None

    def __len__(self) -> int:
        return len(self._by_hash)

    def add(self, *, token_hash: str, principal: Principal) -> None:
        """Register a principal under the hash of its token."""
        try:  # the subject becomes the actor of events: it must be a valid one
            check_identifier("subject", principal.subject)
        except EventValidationError as exc:
            raise TokenConfigError(str(exc)) from None
        if not re.fullmatch(r"[0-9a-f]{64}", token_hash):
            raise TokenConfigError(f"token of {principal.subject}: not a sha256 hex digest")
        self._by_hash[token_hash] = principal

    def add_token(self, *, token: str, subject: str, grants: Iterable[Grant]) -> None:
        """Register a raw token (hashed at once)."""
        if len(token) < 8:
            raise TokenConfigError(f"token of {subject}: shorter than 8 characters")
        self.add(
            token_hash=hash_token(token), principal=Principal(subject=subject, grants=tuple(grants))
        )
        if self.raw is not None:
            self.raw.append((subject, token))

    def authenticate(self, token: str) -> Principal | None:
        """The principal holding `token`, or None."""
        return self.holder(hash_token(token))

    def holder(self, token_hash: str) -> Principal | None:
        """The principal of the token with that hash (a console session keeps only it)."""
        return self._by_hash.get(token_hash)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, keep_raw: bool = False) -> TokenBook:
        """Tokens from BATON_TOKENS_FILE and BATON_TOKENS (`keep_raw`: see `raw`)."""
        env = os.environ if env is None else env
        book = cls(keep_raw=keep_raw)
        if path := env.get("BATON_TOKENS_FILE"):
            book.load_file(Path(path))
        if text := env.get("BATON_TOKENS"):
            book.load_text(text)
        return book

    def load_text(self, text: str) -> None:
        """Entries `subject:role[+role...]:token`, separated by `;` or new lines.

        A role is `viewer`, `admin`, `promoter`, or scoped as `promoter@dev|staging`. The
        token is everything after the last `:`.
        """
        for number, entry in enumerate(re.split(r"[;\n]", text), start=1):
            entry = entry.strip()
            if not entry:
                continue
            where = f"BATON_TOKENS entry {number}"
            subject, _, rest = entry.partition(":")
            roles, _, token = rest.rpartition(":")
            if not subject or not roles or not token:
                raise TokenConfigError(f"{where}: expected subject:roles:token")
            grants = [Grant.parse(r, where=where) for r in re.split(r"[+\s]", roles) if r]
            self.add_token(token=token, subject=subject, grants=grants)

    def load_file(self, path: Path) -> None:
        """A YAML/JSON file: a list (or {tokens: [...]}) of {subject, roles, token|sha256}.

        Errors name the file and the line: `tokens.yaml:7: tokens[2]: needs a subject`.
        """
        try:
            raw: Any
            raw, lines = load_with_lines(path.read_text(encoding="utf-8"))
        except YamlSyntaxError as exc:
            raise TokenConfigError(f"{path}:{exc.line}: not valid YAML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenConfigError(f"{path}: cannot read tokens: {exc}") from None
        base: tuple[str, ...] = ()
        if isinstance(raw, dict):
            raw, base = raw.get("tokens"), ("tokens",)
        if not isinstance(raw, list):
            raise TokenConfigError(f"{path}:{lines.line_of(base)}: expected a list of tokens")
        for index, item in enumerate(raw):
            where = f"{path}:{lines.line_of((*base, index))}: tokens[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("subject"), str):
                raise TokenConfigError(f"{where}: needs a subject")
            roles = item.get("roles", [])
            roles = [roles] if isinstance(roles, str) else roles
            grants = tuple(Grant.parse(str(r), where=where) for r in roles)
            principal = Principal(subject=item["subject"], grants=grants)
            if isinstance(item.get("sha256"), str):
                self.add(token_hash=item["sha256"].lower(), principal=principal)
            elif isinstance(item.get("token"), str):
                self.add_token(token=item["token"], subject=principal.subject, grants=grants)
            else:
                raise TokenConfigError(f"{where}: needs a token or a sha256")
