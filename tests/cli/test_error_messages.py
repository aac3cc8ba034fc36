"""Every way a `baton` command line can fail, walked: each ends as one sentence on stderr
(what failed; what to do), with the README's exit code, and no internals in it: no
traceback, no Python class, no regular expression, no stream id, nothing said twice.

The command tree is walked as a user would mistype it (an unknown option, a misspelled
option or subcommand, a missing argument), so a command added later is checked too; the
server's refusals are met against a running baton.
"""

from __future__ import annotations

import http.server
import re
import socket
import threading
from collections.abc import Iterator

import click
import pytest

from baton.cli import main
from tests.console_script import run_baton
from tests.demo.live_server import Live, live
from tests.demo.test_cli import baton

__all__ = ["live"]
pytestmark = pytest.mark.timeout(180)

#: what gives a message away as written for the programmer, not the user
_INTERNALS = {
    "a Python class": re.compile(r"\b[A-Z][A-Za-z]+(Error|Exception)\b"),
    "a regular expression": re.compile(r"\^\[|\]\{\d|\{\d+,\d+\}\$|\\[Sdws]|\(\?:"),
    "a stream id": re.compile(r"\b(target|app|freeze|notification|subscription):[\w.-]+"),
    "a glued sentence": re.compile(r"\.[:;(]|\.\s+\(|: *[:;]|;;"),
    "a Python None": re.compile(r"\bNone\b"),
}


def assert_sentence(stderr: str, *names: str) -> str:
    """`stderr` is one failure sentence naming each of `names`; return it."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("error: "), line
    for what, pattern in _INTERNALS.items():
        assert not pattern.search(line), f"{what} in {line!r}"
    clauses = [c.strip() for c in re.split(r"[;:]\s", line.removeprefix("error: ")) if c.strip()]
    assert len(clauses) == len(set(clauses)), f"said twice: {line!r}"
    for name in names:
        assert name in line, (name, line)
    return line


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


#: every command and subcommand of `baton`, by its words
COMMANDS = dict(_commands(main))


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`baton ARGS` in this process, as the console script runs it: code, stdout, stderr."""
    with pytest.raises(SystemExit) as ended:
        main.main(args=list(args), prog_name="baton")
    captured = capsys.readouterr()
    code = ended.value.code
    return code if isinstance(code, int) else 1, captured.out, captured.err


def test_the_walk_covers_every_command() -> None:
    names = {words[0] for words in COMMANDS}
    assert {"promote", "approve", "history", "status", "serve", "replay"} <= names
    assert ("promotions", "list") in COMMANDS and ("context", "use") in COMMANDS


@pytest.mark.parametrize("words", sorted(COMMANDS), ids=" ".join)
def test_an_unknown_option_names_the_command_and_its_help(
    words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(*words, "--no-such-flag", capsys=capsys)
    assert code == 2 and not out
    command = " ".join(("baton", *words))
    line = assert_sentence(err, f"`{command}` has no option --no-such-flag")
    assert line.endswith(f"see `{command} --help`")


def _misspellable(command: click.Command) -> list[str]:
    return [
        long
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden
        for long in param.opts
        if long.startswith("--") and len(long) > 6 and long != "--help"
    ]


@pytest.mark.parametrize(
    "words", sorted(w for w, c in COMMANDS.items() if _misspellable(c)), ids=" ".join
)
def test_a_misspelled_option_suggests_the_right_one(
    words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    for option in _misspellable(COMMANDS[words]):
        typo = option[:-2] + option[-1] + option[-2]  # the last two letters swapped
        if typo == option:
            continue
        code, _, err = run(*words, typo, capsys=capsys)
        assert code == 2
        line = assert_sentence(err, typo, "did you mean")
        assert option in line.partition("did you mean")[2], line


@pytest.mark.parametrize(
    "words", sorted(w for w, c in COMMANDS.items() if isinstance(c, click.Group)), ids=" ".join
)
def test_a_misspelled_subcommand_suggests_the_right_one(
    words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    group = COMMANDS[words]
    assert isinstance(group, click.Group)
    for name in group.list_commands(click.Context(group)):
        typo = name + "x"
        code, out, err = run(*words, typo, capsys=capsys)
        assert code == 2 and not out
        command = " ".join(("baton", *words))
        assert_sentence(err, f"`{command}` has no command {typo!r}", f"`{command} {name}`")

    code, _, err = run(*words, capsys=capsys)
    assert code == 2
    assert_sentence(err, f"`{' '.join(('baton', *words))}` needs a command")


def test_a_misspelled_top_level_command_suggests_the_nearest() -> None:
    result = run_baton("promot")
    assert result.returncode == 2
    assert_sentence(result.stderr, "has no command 'promot'", "`baton promote`")


def _required(command: click.Command) -> list[str]:
    return [
        max(p.opts, key=len) if isinstance(p, click.Option) else p.human_readable_name
        for p in command.params
        if p.required and not isinstance(command, click.Group)
    ]


@pytest.mark.parametrize(
    "words", sorted(w for w, c in COMMANDS.items() if _required(c)), ids=" ".join
)
def test_a_missing_argument_or_option_is_named(
    words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(*words, capsys=capsys)
    assert code == 2 and not out
    first = _required(COMMANDS[words])[0]
    assert_sentence(err, f"`{' '.join(('baton', *words))}` needs {first}")


def test_a_value_out_of_a_choice_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run("promotions", "list", "--state", "weird", capsys=capsys)
    assert code == 2
    assert_sentence(err, "--state", "'weird'", "'pending'", "'awaiting-approval'", "'done'")


def _takes_output(command: click.Command) -> bool:
    return any(isinstance(p, click.Option) and "-o" in p.opts for p in command.params)


@pytest.mark.parametrize(
    "words", sorted(w for w, c in COMMANDS.items() if _takes_output(c)), ids=" ".join
)
def test_a_bad_output_format_lists_the_valid_ones(
    words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(*words, "-o", "xml", capsys=capsys)
    assert code == 2 and not out
    assert_sentence(err, "'xml'", "'table'", "'wide'", "'json'", "'yaml'")


def test_an_unreachable_server_is_named_with_exit_3() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = run_baton("status", "shop", "--url", closed, "--token", "t")
    assert result.returncode == 3
    assert_sentence(result.stderr, f"cannot reach {closed} (connection refused)", "baton serve")


def test_a_server_that_is_not_baton_is_told_apart() -> None:
    class NotBaton(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotBaton) as other:
        threading.Thread(target=other.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{other.server_address[1]}"
        result = run_baton("status", "shop", "--url", url, "--token", "t")
        other.shutdown()
    assert result.returncode == 3
    assert_sentence(result.stderr, f"{url} answered HTTP 404", "is it a baton server?")


#: what a running server refuses: the command, who asks, the exit code, what it must say
REFUSALS: list[tuple[tuple[str, ...], str | None, int, tuple[str, ...]]] = [
    (("status", "nope"), "alice", 1, ("there is no app nope",)),
    (("history", "nope"), "alice", 1, ("there is no app nope",)),
    (("history", "nope", "--follow"), "alice", 1, ("there is no app nope",)),
    (("releases", "nope"), "alice", 1, ("there is no app nope",)),
    (("insights", "nope"), "alice", 1, ("there is no app nope",)),
    (("promote", "nope", "--to", "dev", "--from", "dev"), "alice", 1, ("there is no app nope",)),
    (
        ("promote", "shop", "--to", "nowhere", "--from", "dev"),
        "alice",
        1,
        ("app shop has no environment 'nowhere'", "dev, staging, prod"),
    ),
    (
        ("promote", "shop", "--to", "dev", "--release", "zzzzzz"),
        "alice",
        1,
        ("release: must be a commit SHA",),
    ),
    (
        ("promote", "shop", "--to", "dev", "--release", "abc1234", "--from", "dev"),
        "alice",
        2,
        ("exactly one of --release and --from",),
    ),
    (
        ("rollback", "shop", "--env", "dev", "--to", "deadbeef"),
        "alice",
        1,
        ("no release deadbeef",),
    ),
    (("approve", "abc"), "alice", 2, ("too short", "at least 6 characters")),
    (("approve", "abcdef"), "alice", 1, ("no promotion whose id starts with 'abcdef'",)),
    (("cancel", "abcdef12"), "alice", 1, ("no promotion whose id starts with",)),
    (("history", "shop", "--since", "yesterday"), "alice", 2, ("RFC 3339", "30d")),
    (("releases", "shop", "--env", "nowhere"), "alice", 1, ("app shop has no environment",)),
    (
        ("promote", "shop", "--to", "staging", "--from", "dev"),
        "carol",
        4,
        ("carol needs the promoter role in staging", "admin"),
    ),
    (("status", "shop"), None, 4, ("needs a token", "baton login")),
    (("notify", "test", "nope"), "dana", 1, ("nope",)),
]


async def test_the_refusals_of_a_running_server_are_one_sentence_each(live: Live) -> None:
    for args, user, code, names in REFUSALS:
        result = await baton(live, *args, user=user)
        assert result.code == code, (args, result.code, result.err)
        assert_sentence(result.err, *names)

    bad_token = await baton(live, "status", "shop", "--token", "not-a-token", user=None)
    assert bad_token.code == 4
    assert_sentence(bad_token.err, f"{live.url} did not accept the token", "baton login")


async def test_a_self_approval_is_refused_as_the_four_eyes_rule(live: Live) -> None:
    promoted = await baton(live, "promote", "shop", "--to", "staging", "--from", "dev", user="dana")
    assert promoted.code == 0, promoted.err
    waiting = promoted.out.split()[1]
    again = await baton(live, "promote", "shop", "--to", "staging", "--from", "dev")
    assert again.code == 1
    assert_sentence(again.err, waiting[:8])

    refused = await baton(live, "approve", waiting[:8], user="dana")
    assert refused.code == 1, refused.err
    assert_sentence(refused.err, "dana requested promotion", "cannot also approve", "someone else")
