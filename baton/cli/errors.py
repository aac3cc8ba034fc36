"""What a failed `baton` command says, and the exit code it ends with.

Where it sits: between every command (all of them run under one `BatonGroup`) and the
terminal or the container log that reads stderr. Any failure ends as ONE line naming the
problem and the next step, never a traceback, with the exit codes the README lists:
0 done, 1 refused / not found / check failed, 2 bad usage or configuration (a port
already in use among them), 3 server or database unreachable, 4 not authenticated or
not allowed. `BATON_DEBUG=1` shows the traceback of an error
nobody expected.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NoReturn

import click


class ExitCode(IntEnum):
    """What a script can rely on when `baton` exits."""

    DONE = 0
    REFUSED = 1  # refused by a policy, not found, or a check failed
    USAGE = 2  # bad usage or configuration
    UNREACHABLE = 3  # the server or the database cannot be reached
    FORBIDDEN = 4  # not authenticated or not allowed


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed command: the problem, what to do next, and the exit code."""

    problem: str
    next_step: str | None
    code: int

    @property
    def line(self) -> str:
        """The failure as one line, secrets masked (a database URL's password)."""
        from engine.telemetry import redact

        problem = redact(self.problem).rstrip(".")
        text = f"{problem}; {self.next_step}" if self.next_step else problem
        return " ".join(text.split())


def fail(failure: Failure) -> NoReturn:
    """Print the failure as one line on stderr and exit with its code."""
    from baton.cli.console import colour

    label = click.style("error:", fg="red", bold=True) if colour(sys.stderr) else "error:"
    click.echo(f"{label} {failure.line}", err=True)
    sys.exit(failure.code)


def explain(exc: BaseException) -> Failure | None:
    """The failure an error means to an operator, or None when it is not a known one."""
    # imported on failure only: a command that succeeds need not load the store
    from baton.contexts import ContextsError
    from engine.config.loader import ConfigError
    from engine.store.errors import (
        DatabaseConnectError,
        DatabaseUrlInvalid,
        MigrationError,
        SchemaMissing,
        is_database_unavailable,
    )

    if isinstance(exc, BaseExceptionGroup):
        return next(filter(None, map(explain, exc.exceptions)), None)
    if isinstance(exc, ContextsError):
        return Failure(
            str(exc), "fix the file or remove it and `baton login` again", ExitCode.USAGE
        )
    if isinstance(exc, DatabaseConnectError):
        code = ExitCode.USAGE if isinstance(exc, DatabaseUrlInvalid) else ExitCode.UNREACHABLE
        return Failure(exc.problem, exc.next_step, code)
    if is_database_unavailable(exc):  # lost after connecting: a restart, a kill
        return Failure(
            f"lost the database connection ({exc or type(exc).__name__})",
            "run the command again once PostgreSQL answers",
            ExitCode.UNREACHABLE,
        )
    if isinstance(exc, SchemaMissing):
        return Failure(str(exc), "run `baton migrate`", ExitCode.REFUSED)
    if isinstance(exc, MigrationError):
        return Failure(f"migration failed: {exc}", None, ExitCode.UNREACHABLE)
    if isinstance(exc, ConfigError):
        return config_failure(exc.problems)
    return None


def config_failure(problems: Sequence[object]) -> Failure:
    """An invalid environments config: the first problem (file:line: key: message)."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return Failure(
        f"{problems[0]}{more}", "`baton config check` lists every problem", ExitCode.USAGE
    )


_BIND_ERRORS = {
    errno.EADDRINUSE: "the address is already in use",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
    errno.EADDRNOTAVAIL: "no interface has this address",
}


def bind_failure(exc: BaseException, host: str, port: int) -> Failure | None:
    """A server that could not listen on host:port, or None for another error."""
    if not isinstance(exc, OSError) or exc.errno not in _BIND_ERRORS:
        return None
    return Failure(
        f"cannot listen on {host}:{port}: {_BIND_ERRORS[exc.errno]}",
        "stop what holds it or choose another --port (BATON_API_PORT) or --host",
        ExitCode.USAGE,
    )


def check_can_listen(host: str, port: int) -> Failure | None:
    """Bind host:port for a moment: a failure now, before anything starts, says it all."""
    if port == 0:
        return None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            # as asyncio's server does: a port left in TIME_WAIT is free to take
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except socket.gaierror as exc:
        return Failure(f"cannot listen on {host}:{port}: {exc}", "check --host", ExitCode.USAGE)
    except OSError as exc:
        return bind_failure(exc, host, port)
    return None


def _either(names: Sequence[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _named(param: click.Parameter) -> str:
    """An option by its long name (`--to`), an argument by its metavar (`APP`)."""
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return param.human_readable_name


def _usage_failure(exc: click.ClickException) -> Failure:
    """A command line click refused, reworded: which command, what is wrong with it, and
    the nearest right spelling where there is one."""
    from click.exceptions import (
        BadParameter,
        MissingParameter,
        NoArgsIsHelpError,
        NoSuchCommand,
        NoSuchOption,
    )

    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return Failure(exc.format_message(), None, exc.exit_code)
    path = ctx.command_path
    see = f"see `{path} --help`"
    if isinstance(exc, NoArgsIsHelpError):
        commands = _either(sorted(getattr(ctx.command, "commands", {}) or []))
        return Failure(f"`{path}` needs a command ({commands})", see, exc.exit_code)
    if isinstance(exc, NoSuchCommand):
        near = [f"`{path} {name}`" for name in exc.possibilities or []]
        guess = f"did you mean {_either(near)}?" if near else see
        return Failure(f"`{path}` has no command {exc.command_name!r}", guess, exc.exit_code)
    if isinstance(exc, NoSuchOption):
        near = list(exc.possibilities or [])
        guess = f"did you mean {_either(near)}?" if near else see
        return Failure(f"`{path}` has no option {exc.option_name}", guess, exc.exit_code)
    if isinstance(exc, MissingParameter) and exc.param is not None:
        return Failure(f"`{path}` needs {_named(exc.param)}", see, exc.exit_code)
    if isinstance(exc, BadParameter) and exc.param is not None:
        return Failure(f"`{path}`: {_named(exc.param)}: {exc.message}", see, exc.exit_code)
    message = exc.format_message()
    return Failure(f"`{path}`: {message[:1].lower()}{message[1:]}", see, exc.exit_code)


def _unexpected(exc: Exception) -> Failure:
    return Failure(
        f"unexpected {type(exc).__name__}: {exc}",
        "BATON_DEBUG=1 shows the traceback; please report it",
        ExitCode.REFUSED,
    )


class BatonGroup(click.Group):
    """A click group whose every failure, its commands' included, ends as one line."""

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Run the command line; exit with the command's code or its failure's."""
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.ClickException as exc:
            fail(_usage_failure(exc))
        except click.Abort:
            fail(Failure("interrupted", None, ExitCode.REFUSED))
        except Exception as exc:
            failure = explain(exc)
            if failure is None and os.environ.get("BATON_DEBUG"):
                raise
            fail(failure or _unexpected(exc))
        sys.exit(result if isinstance(result, int) else ExitCode.DONE)
