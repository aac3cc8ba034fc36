"""`baton history` against a running baton: filtered by actor, event type and end time,
and `--follow`, which prints each event recorded after it started and stops cleanly
(exit 0, nothing on stderr) on SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from typing import Any

import pytest

from tests.console_script import BATON, ROOT, run_baton
from tests.demo.live_server import TOKENS, Live, live
from tests.proxy import Gate

__all__ = ["live"]  # the fixture, used by name

pytestmark = pytest.mark.timeout(180)


def _env(live: Live, user: str) -> dict[str, str]:
    return {"BATON_URL": live.url, "BATON_TOKEN": TOKENS[user], "COLUMNS": "250"}


async def baton(live: Live, *args: str, user: str = "carol") -> subprocess.CompletedProcess[str]:
    """`baton ARGS` as `user` (carol: a viewer), run to its end."""
    return await asyncio.to_thread(run_baton, *args, env=_env(live, user))


async def events(live: Live, *args: str) -> list[dict[str, Any]]:
    """The events `baton history shop ARGS -o json` lists."""
    shown = await baton(live, "history", "shop", *args, "-o", "json")
    assert shown.returncode == 0, shown.stderr
    items: list[dict[str, Any]] = json.loads(shown.stdout)["items"]
    return items


async def promote_to_staging(live: Live) -> str:
    """alice asks for dev's release in staging; the promotion's id."""
    promoted = await baton(
        live, "promote", "shop", "--to", "staging", "--from", "dev", user="alice"
    )
    assert promoted.returncode == 0, promoted.stderr
    return promoted.stdout.split()[1]


async def test_history_is_filtered_by_actor_type_and_end(live: Live) -> None:
    promotion = await promote_to_staging(live)
    approved = await baton(live, "approve", promotion, user="bob")
    assert approved.returncode == 0, approved.stderr

    everything = await events(live)
    assert {e["actor"] for e in everything} >= {"alice", "bob", "applier"}
    by_bob = await events(live, "--actor", "bob")
    assert by_bob and {e["actor"] for e in by_bob} == {"bob"}
    (approval,) = await events(live, "--type", "PromotionApproved")
    assert approval["actor"] == "bob" and approval["environment"] == "staging"
    assert await events(live, "--type", "Target.PromotionApproved") == [approval]

    before = await events(live, "--until", approval["recorded_at"])
    positions = [e["position"] for e in before]
    assert positions and max(positions) < approval["position"]
    assert any(e["actor"] == "alice" for e in before), "alice's request came before"
    assert await events(live, "--since", "1h", "--actor", "bob") == by_bob

    refused = await baton(live, "history", "shop", "--follow", "--until", "1h")
    assert refused.returncode == 2 and "--until" in refused.stderr


class Follower:
    """`baton history shop --follow ARGS` running, its stdout read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    @classmethod
    async def start(cls, live: Live, *args: str) -> Follower:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        process = await asyncio.create_subprocess_exec(
            str(BATON),
            "history",
            "shop",
            "--follow",
            *args,
            env={**environment, "PYTHONPATH": str(ROOT), **_env(live, "carol")},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def line_with(self, *words: str, within: float = 30) -> str:
        """The first line (read since the last call) holding every one of `words`."""
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            while True:
                line = (await self.process.stdout.readline()).decode()
                assert line, f"the follower ended; it printed {self.lines}"
                self.lines.append(line)
                if all(word in line for word in words):
                    return line

    async def stop(self, signum: int) -> tuple[int, str]:
        """Send `signum`; the exit code and what was left on stdout and stderr."""
        self.process.send_signal(signum)
        out, err = await asyncio.wait_for(self.process.communicate(), 30)
        self.lines += out.decode().splitlines(keepends=True)
        assert self.process.returncode is not None
        return self.process.returncode, err.decode()


async def test_follow_prints_new_events_as_json_lines_until_sigterm(live: Live) -> None:
    (newest,) = await events(live, "--limit", "1")
    follower = await Follower.start(live, "-o", "json")
    await follower.line_with(f'"position":{newest["position"]},')

    promotion = await promote_to_staging(live)
    requested = json.loads(await follower.line_with("PromotionRequested", promotion))
    assert requested["actor"] == "alice" and requested["recorded_at"].endswith("Z")
    assert requested["position"] > newest["position"]

    code, err = await follower.stop(signal.SIGTERM)
    assert code == 0 and err == ""
    positions = [json.loads(line)["position"] for line in follower.lines]
    assert positions == sorted(set(positions)), "each event once, in order"


async def test_follow_prints_table_lines_of_matches_only_until_ctrl_c(live: Live) -> None:
    follower = await Follower.start(live, "--actor", "bob")
    header = await follower.line_with("POSITION", "ACTOR", "SUMMARY")

    promotion = await promote_to_staging(live)
    approved = await baton(live, "approve", promotion, user="bob")
    assert approved.returncode == 0, approved.stderr
    line = await follower.line_with("PromotionApproved")
    assert " bob " in line and "staging" in line and "ago" not in line
    assert line.index("PromotionApproved") == header.index("ACTION"), "columns line up"

    code, err = await follower.stop(signal.SIGINT)
    assert code == 0 and err == ""
    assert not any("alice" in seen for seen in follower.lines), "only bob's events"


async def test_follow_outlives_a_server_that_stops_answering_for_a_while(live: Live) -> None:
    gate = Gate(live.url)
    url = await gate.open()
    try:
        (newest,) = await events(live, "--limit", "1")
        follower = await Follower.start(live, "-o", "json", "--url", url)
        await follower.line_with(f'"position":{newest["position"]},')

        await gate.shut()
        assert follower.process.stderr is not None
        async with asyncio.timeout(30):
            notice = (await follower.process.stderr.readline()).decode()
        assert "does not answer" in notice and "still trying" in notice
        await gate.open()

        promotion = await promote_to_staging(live)
        await follower.line_with("PromotionRequested", promotion)
        code, err = await follower.stop(signal.SIGTERM)
        assert code == 0 and err == "", "one notice while the server was away, no more"
    finally:
        await gate.shut()


async def test_follow_ends_quietly_when_its_reader_leaves(live: Live) -> None:
    def follow_into_head() -> tuple[int, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        process = subprocess.Popen(
            [str(BATON), "history", "shop", "--follow", "-o", "json"],
            env={**environment, "PYTHONPATH": str(ROOT), **_env(live, "carol")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline()
        process.stdout.close()  # as `| head -1` does once it has its line
        promoted = run_baton(
            "promote", "shop", "--to", "staging", "--from", "dev", env=_env(live, "alice")
        )
        assert promoted.returncode == 0, promoted.stderr
        return process.wait(timeout=30), process.stderr.read().decode()

    code, err = await asyncio.to_thread(follow_into_head)
    assert code == 0 and err == ""
