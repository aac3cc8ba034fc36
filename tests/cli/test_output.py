"""`-o table|wide|json|yaml` on every read command against a running baton, as a script
and a person read it: JSON and YAML that parse, with every time in RFC 3339 UTC; wide
tables that show more; local times with their offset and an age; a bad `-o` that names
the valid ones; no escape code off a terminal or under NO_COLOR."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.console_script import (
    BATON,
    ROOT,
    assert_one_line_failure,
    on_a_terminal,
    run_baton,
)
from tests.demo.live_server import TOKENS, Live, live

__all__ = ["live"]  # the fixture, used by name

pytestmark = pytest.mark.timeout(180)

#: a time as JSON carries it; the test checks each ends in Z (UTC)
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_ESCAPE = "\x1b["
_MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"


async def baton(
    live: Live, *args: str, user: str = "carol", **env: str
) -> subprocess.CompletedProcess[str]:
    """`baton ARGS` as `user` (carol: a viewer) against the live server, into a pipe."""
    environment = {"BATON_URL": live.url, "BATON_TOKEN": TOKENS[user], "COLUMNS": "250"}
    result = await asyncio.to_thread(run_baton, *args, env={**environment, **env})
    assert result.returncode == 0, (args, result.stderr)
    return result


def times(value: Any) -> Iterator[str]:
    """Every string in `value` that is a time."""
    if isinstance(value, dict):
        for item in value.values():
            yield from times(item)
    elif isinstance(value, list):
        for item in value:
            yield from times(item)
    elif isinstance(value, str) and _TIME.fullmatch(value):
        yield value


async def test_every_read_command_prints_json_and_yaml_with_times_in_utc(live: Live) -> None:
    promoted = await baton(
        live, "promote", "shop", "--to", "staging", "--from", "dev", user="alice"
    )
    promotion = promoted.stdout.split()[1]
    reads = {
        "status": ("status", "shop"),
        "statuses": ("status",),
        "history": ("history", "shop"),
        "diff": ("diff", "shop", "--from-time", "1", "--to-time", "1000000"),
        "insights": ("insights", "shop"),
        "promotions": ("promotions", "list", "--app", "shop"),
        "promotion": ("promotion", "get", promotion[:8]),
        "releases": ("releases", "shop"),
        "version": ("version",),
    }
    shown: dict[str, Any] = {}
    for name, command in reads.items():
        as_json = json.loads((await baton(live, *command, "-o", "json")).stdout)
        as_yaml = yaml.safe_load((await baton(live, *command, "-o", "yaml")).stdout)
        if name != "insights":  # its window ends at "now", a moment later the second time
            assert as_yaml == as_json, name
        found = list(times(as_json))
        assert all(t.endswith("Z") for t in found), (name, found)
        shown[name] = as_json

    pipeline = shown["status"]
    assert pipeline["name"] == "shop"
    assert [e["environment"] for e in pipeline["environments"]] == ["dev", "staging", "prod"]
    dev = pipeline["environments"][0]
    assert dev["applied_release"] == live.release and dev["last_changed_at"].endswith("Z")
    assert [p["name"] for p in shown["statuses"]["items"]] == ["shop"]

    events = shown["history"]["items"]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions), "oldest first, as the table"
    newest = events[-1]
    assert newest["actor"] == "alice" and newest["event_type"].endswith("PromotionRequested")
    assert {"recorded_at", "action", "summary", "stream_id", "environment"} <= set(newest)

    (change,) = [c for c in shown["diff"]["items"] if c["field"] == "applied_release"]
    assert (change["environment"], change["to"]) == ("dev", live.release)
    assert shown["diff"]["app"] == "shop" and "from" in shown["diff"]

    insights = shown["insights"]
    assert insights["since"].endswith("Z") and insights["until"].endswith("Z")
    assert [i["environment"] for i in insights["items"]] == ["dev", "staging", "prod"]

    assert [p["id"] for p in shown["promotions"]["items"] if p["environment"] == "staging"] == [
        promotion
    ]
    assert shown["promotion"]["id"] == promotion
    assert shown["promotion"]["requested_at"].endswith("Z")
    assert [r["sha"] for r in shown["releases"]["items"]] == [live.release]
    assert set(shown["version"]) == {"client", "server", "url"}


async def test_wide_tables_show_what_the_narrow_ones_cut(live: Live) -> None:
    promoted = await baton(
        live, "promote", "shop", "--to", "staging", "--from", "dev", user="alice"
    )
    promotion = promoted.stdout.split()[1]
    for command, more in (
        (("status", "shop"), [live.release, "last verified", "upstream"]),
        (("history", "shop"), ["correlation", "stream", "target:shop:staging"]),
        (("promotions", "list"), [promotion, "reason", "trace"]),
        (("promotion", "get", promotion), [live.release, "trace:"]),
        (("releases", "shop"), [live.release, "author", "digest"]),
        (("insights", "shop"), ["incidents"]),
    ):
        narrow = (await baton(live, *command)).stdout
        wide = (await baton(live, *command, "-o", "wide")).stdout
        for word in more:
            assert word in wide and word not in narrow, (command, word)


async def test_tables_show_local_times_with_their_offset_and_an_age(live: Live) -> None:
    # a zone an hour and a half off UTC: the time shown is not UTC's
    for command in (("status", "shop"), ("history", "shop"), ("releases", "shop", "-o", "wide")):
        shown = (await baton(live, *command, TZ="Asia/Kolkata")).stdout
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+05:30 \(\d+[smhd] ago\)", shown), (
            command,
            shown,
        )
    utc = (await baton(live, "history", "shop", TZ="UTC")).stdout
    assert "+00:00 (" in utc and "+05:30" not in utc


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("history", "shop"),
        ("diff", "shop", "--from-time", "1", "--to-time", "2"),
        ("insights",),
        ("promotions", "list"),
        ("promotion", "get", "abcdef"),
        ("releases", "shop"),
        ("context", "list"),
        ("version",),
        ("health", "explain", "-"),
    ],
)
def test_a_bad_output_format_names_the_valid_ones(command: tuple[str, ...]) -> None:
    result = run_baton(*command, "-o", "xml", env={"BATON_URL": "http://127.0.0.1:9"})
    line = assert_one_line_failure(result, 2, "'xml'", "table", "wide", "json", "yaml")
    assert _ESCAPE not in line, "stderr is no terminal"


def _on_a_terminal(*args: str, stdin: str = "", **env: str) -> str:
    """What `baton ARGS` writes to a terminal (stdout and stderr both on one pty)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "FORCE_COLOR"))}
    base.pop("NO_COLOR", None)
    environment = {**base, "PYTHONPATH": str(ROOT), **env}
    return on_a_terminal([str(BATON), *args], environment, stdin=stdin)[1]


def test_colour_reaches_a_terminal_unless_no_color_is_set(tmp_path: Path) -> None:
    explain = ("health", "explain", "-", "--dir", str(tmp_path / "none"))
    coloured = _on_a_terminal(*explain, stdin=_MANIFEST)
    assert "settings" in coloured and _ESCAPE in coloured
    plain = _on_a_terminal(*explain, stdin=_MANIFEST, NO_COLOR="1")
    assert "settings" in plain and _ESCAPE not in plain

    failed = _on_a_terminal("status", "-o", "xml")
    assert "error:" in failed and _ESCAPE in failed
    plain_failure = _on_a_terminal("status", "-o", "xml", NO_COLOR="1")
    assert "error:" in plain_failure and "xml" in plain_failure
    assert _ESCAPE not in plain_failure


def test_into_a_pipe_no_escape_code_is_written(tmp_path: Path) -> None:
    explained = run_baton(
        "health",
        "explain",
        "-",
        "--dir",
        str(tmp_path / "none"),
        stdin=_MANIFEST,
        env={"TERM": "xterm"},
    )
    assert explained.returncode == 0 and "settings" in explained.stdout
    assert _ESCAPE not in explained.stdout
    failed = run_baton("status", "-o", "xml", env={"TERM": "xterm"})
    assert failed.returncode == 2 and _ESCAPE not in failed.stderr


async def test_status_into_a_pipe_has_no_escape_code(live: Live) -> None:
    shown = await baton(live, "status", "shop")
    assert "dev" in shown.stdout and _ESCAPE not in shown.stdout
