"""`baton promote --wait` and `baton rollback --wait` against a running baton: they follow
the promotion to its end and exit by how it ended, plain lines into a pipe, a live view on
a terminal, through a lost connection and past a signal."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from baton.client import Client
from tests.console_script import on_a_terminal
from tests.demo.live_server import TOKENS, Live, live, release_verified_in_dev
from tests.proxy import Gate

__all__ = ["live"]
pytestmark = pytest.mark.timeout(240)

ANSI = "\x1b"


@dataclass
class Result:
    code: int
    out: str
    err: str


def _env(live: Live, user: str, url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BATON_TOKEN", "BATON_URL")}
    env.update(COLUMNS="200", BATON_URL=url or live.url, BATON_TOKEN=TOKENS[user])
    return env


async def start(live: Live, *args: str, url: str | None = None) -> asyncio.subprocess.Process:
    """`baton ARGS` as alice, its output into pipes (no terminal)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton",
        *args,
        env=_env(live, "alice", url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, within: float = 120) -> Result:
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


async def baton(live: Live, *args: str) -> Result:
    return await finish(await start(live, *args))


def back_in_dev(live: Live) -> tuple[str, ...]:
    """The command that promotes the first release to dev again, and waits."""
    return ("promote", "shop", "--to", "dev", "--release", live.release, "--wait")


async def until_line(process: asyncio.subprocess.Process, fragment: str) -> str:
    """Read stdout until a line holds `fragment`; the lines read."""
    assert process.stdout is not None
    seen = ""
    while fragment not in seen:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line, f"the output ended before {fragment!r}: {seen}"
        seen += line.decode()
    return seen


async def test_wait_exits_0_once_dev_verified_the_promotion_and_shows_its_progress(
    live: Live,
) -> None:
    await release_verified_in_dev(live, "shop", "1.1.0", "hello again")

    result = await baton(live, *back_in_dev(live))

    assert result.code == 0, result.err
    applied = re.search(r"apply +done +(\d+)/(\d+) objects applied", result.out)
    assert applied is not None and applied[1] == applied[2] != "0", result.out
    assert re.search(r"health +done +Healthy", result.out), result.out
    assert re.search(r"verified +done +" + live.release[:12], result.out), result.out
    assert result.out.rstrip().endswith(f"{live.release[:12]} → shop/dev: verified")
    assert ANSI not in result.out + result.err


async def test_wait_exits_1_naming_the_failure_when_the_release_never_gets_healthy(
    live: Live,
) -> None:
    await release_verified_in_dev(live, "shop", "1.1.0", "hello again")
    assert live.state.sim is not None
    live.state.sim.cluster("dev").fail_image(":1.0.0")  # its pods never become ready

    result = await baton(live, *back_in_dev(live))

    assert result.code == 1, result.out
    assert re.search(r"^health +\w+ +Degraded: ", result.out, re.MULTILINE), result.out
    assert re.search(r"^health +failed", result.out, re.MULTILINE), result.out
    [line] = result.err.splitlines()
    assert re.fullmatch(
        rf"error: promotion \S+: {live.release[:12]} → shop/dev failed: Degraded after sync: .+",
        line,
    ), line
    assert ANSI not in result.out + result.err


async def test_a_failure_names_the_rollback_that_follows_it(live: Live, tmp_path: Path) -> None:
    second = await release_verified_in_dev(live, "shop", "1.1.0", "hello again")
    apps = tmp_path / "environments" / "apps.yaml"
    dev_rolls_back = "{auto_promote: true, auto_rollback: true}"
    apps.write_text(apps.read_text().replace("{auto_promote: true}", dev_rolls_back))
    async with Client(live.url, TOKENS["dana"]) as dana:
        await dana.post("/admin/config/reload", {})
    assert live.state.sim is not None
    live.state.sim.cluster("dev").fail_image(":1.0.0")

    result = await baton(live, *back_in_dev(live))

    assert result.code == 1, result.out
    [line] = result.err.splitlines()
    assert re.fullmatch(
        rf"error: promotion \S+: {live.release[:12]} → shop/dev failed: Degraded after sync: "
        rf".+; rollback \S+ takes it back to {second[:12]}",
        line,
    ), result.out + line


async def test_a_timeout_names_the_approval_the_promotion_still_waits_for(live: Live) -> None:
    began = time.monotonic()
    result = await baton(
        live, "promote", "shop", "--to", "staging", "--from", "dev", "--wait", "--timeout", "3s"
    )

    assert result.code == 1, result.out
    assert 3 <= time.monotonic() - began < 30
    assert re.search(r"approval +running +0 of 1 approvals", result.out), result.out
    [line] = result.err.splitlines()
    assert re.fullmatch(
        r"error: gave up after 3s: promotion ((\w{8})\S+): \w{12} → shop/staging is still "
        r"awaiting approval \(0 of 1 approvals\); it goes on; `baton promotion wait \2` "
        r"follows it again",
        line,
    ), line
    assert ANSI not in result.out + result.err

    # the command it names takes the waiting up again, to the end
    promotion_id = line.split()[6].rstrip(":")
    again = await start(live, "promotion", "wait", promotion_id[:8])
    await until_line(again, "0 of 1 approvals")
    async with Client(live.url, TOKENS["bob"]) as bob:
        await bob.post(f"/promotions/{promotion_id}/approve", {"comment": "ok"})
    resumed = await finish(again)
    assert resumed.code == 0, resumed.err
    assert re.search(r"verified +done", resumed.out), resumed.out


async def test_a_signal_stops_the_waiting_not_the_promotion(live: Live) -> None:
    process = await start(live, "promote", "shop", "--to", "staging", "--from", "dev", "--wait")
    seen = await until_line(process, "0 of 1 approvals")
    promotion_id = seen.split()[1]

    process.send_signal(signal.SIGTERM)
    result = await finish(process)

    assert result.code == 128 + signal.SIGTERM
    assert "Traceback" not in result.err
    assert re.fullmatch(
        rf"stopped waiting; promotion {promotion_id}: .* goes on \(`baton promotion wait "
        rf"{promotion_id[:8]}` follows it again\)\n",
        result.err,
    ), result.err
    async with Client(live.url, TOKENS["carol"]) as client:
        still = await client.get(f"/promotions/{promotion_id}")
    assert still["phase"] == "awaiting_approval"


async def test_wait_shows_the_approval_when_it_comes_and_follows_to_the_end(live: Live) -> None:
    process = await start(live, "promote", "shop", "--to", "staging", "--from", "dev", "--wait")
    seen = await until_line(process, "0 of 1 approvals")
    promotion_id = seen.split()[1]

    async with Client(live.url, TOKENS["bob"]) as bob:
        await bob.post(f"/promotions/{promotion_id}/approve", {"comment": "ok"})
    result = await finish(process)

    assert result.code == 0, result.err
    assert re.search(r"approval +done +1 of 1 approvals \(by bob\)", result.out), result.out
    assert re.search(r"verified +done", result.out), result.out


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (("--release", "abcdef", "--timeout", "3s"), "--timeout goes with --wait"),
        (("--release", "abcdef", "--wait", "--timeout", "3"), "'3' is not a duration like 30s"),
        (("--release", "abcdef", "--wait", "--dry-run"), "--dry-run makes no promotion"),
    ],
)
def test_a_timeout_without_wait_or_a_bad_duration_is_bad_usage(
    given: tuple[str, ...], said: str
) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "baton", "promote", "shop", "--to", "dev", *given],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert said in done.stderr


async def test_a_lost_server_is_asked_again_until_it_answers(live: Live) -> None:
    gate = Gate(live.url)
    url = await gate.open()
    process = await start(
        live, "promote", "shop", "--to", "staging", "--from", "dev", "--wait", url=url
    )
    seen = await until_line(process, "0 of 1 approvals")
    promotion_id = seen.split()[1]

    await gate.shut()
    await until_line(process, "retrying")
    async with Client(live.url, TOKENS["bob"]) as bob:
        await bob.post(f"/promotions/{promotion_id}/approve", {})
    await gate.open()
    result = await finish(process)
    await gate.shut()

    assert result.code == 0, result.err
    assert "reconnected" in result.out
    assert re.search(r"verified +done", result.out), result.out


async def test_rollback_wait_draws_the_progress_live_on_a_terminal(live: Live) -> None:
    second = await release_verified_in_dev(live, "shop", "1.1.0", "hello again")
    promoted = await baton(live, *back_in_dev(live))
    assert promoted.code == 0, promoted.err

    code, screen = await asyncio.to_thread(
        on_a_terminal,
        [sys.executable, "-m", "baton", "rollback", "shop", "--env", "dev", "--wait"],
        _env(live, "alice"),
    )

    assert code == 0, screen
    assert ANSI in screen  # drawn, not printed line by line
    assert "objects applied" in screen and "Healthy" in screen
    assert f"{second[:12]} → shop/dev: verified" in screen
