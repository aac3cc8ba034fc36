"""The CLI against a running server, as a script would use it: output and exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass

import pytest

from tests.demo.live_server import TOKENS, Live, release_verified_in_dev
from tests.proxy import pipe, upstream_of

pytestmark = pytest.mark.timeout(180)


@dataclass
class Result:
    code: int
    out: str
    err: str


async def baton(
    live: Live, *args: str, user: str | None = "alice", url: str | None = None
) -> Result:
    env = {k: v for k, v in os.environ.items() if k not in ("BATON_TOKEN", "BATON_URL")}
    env.update(COLUMNS="200", BATON_URL=url or live.url)
    if user:
        env["BATON_TOKEN"] = TOKENS[user]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


async def test_a_promotion_through_the_cli_with_an_approval(live: Live) -> None:
    status = await baton(live, "status", "shop")
    assert status.code == 0, status.err
    assert "dev" in status.out and live.release[:12] in status.out and "Healthy" in status.out

    promoted = await baton(
        live, "promote", "shop", "--to", "staging", "--from", "dev", "--reason", "cli test"
    )
    assert promoted.code == 0, promoted.err
    assert "awaiting_approval" in promoted.out
    promotion_id = promoted.out.split()[1]

    own = await baton(live, "approve", promotion_id)
    assert own.code == 4, "alice is no approver"
    approved = await baton(live, "approve", promotion_id, "--comment", "ok", user="bob")
    assert approved.code == 0, approved.err
    assert f"promotion {promotion_id} started" in approved.out

    history = await baton(live, "history", "shop", "--env", "staging")
    assert history.code == 0, history.err
    assert "bob approved" in history.out and "cli test" in history.out


async def test_refusals_and_failures_have_distinct_exit_codes(live: Live) -> None:
    unknown = await baton(live, "promote", "shop", "--to", "staging", "--release", "0" * 40)
    assert unknown.code == 1
    assert "0000000" in unknown.err

    skipping = await baton(live, "promote", "shop", "--to", "prod", "--release", live.release)
    assert skipping.code == 1
    assert "not been verified in staging" in skipping.err

    nothing_to = await baton(live, "rollback", "shop", "--env", "dev")
    assert nothing_to.code == 1
    assert "no verified release before the current one" in nothing_to.err

    usage = await baton(live, "promote", "shop", "--to", "staging")
    assert usage.code == 2

    anonymous = await baton(live, "status", user=None)
    assert anonymous.code == 4

    down = await baton(live, "status", url="http://127.0.0.1:9")
    assert down.code == 3
    assert "cannot reach" in down.err


async def test_diff_shows_what_changed_between_two_moments(live: Live) -> None:
    result = await baton(live, "diff", "shop", "--from-time", "1", "--to-time", "1000000")
    assert result.code == 0, result.err
    assert "dev" in result.out and "desired_release" in result.out
    assert live.release[:12] in result.out


class CutOnce:
    """A TCP proxy to the server that forwards the first request but cuts its connection
    before the answer comes back: the write is done, the client only sees a lost connection."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream_of(upstream)
        self.connections = 0

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        if self.connections == 1:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )  # fmt: skip
            up_writer.write(head + await reader.readexactly(length))
            await up_writer.drain()
            await up_reader.read(1)  # the server has answered: the work is done
            for w in (writer, up_writer):
                w.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_a_write_whose_answer_is_lost_is_sent_again_and_done_once(live: Live) -> None:
    proxy = CutOnce(live.url)
    url = await proxy.start()
    try:
        promoted = await baton(
            live, "promote", "shop", "--to", "staging", "--from", "dev", url=f"{url}/"
        )
    finally:
        await proxy.close()
    assert promoted.code == 0, promoted.err
    assert proxy.connections == 2, "the CLI sends a lost write once more"
    events = await live.state.database.store.read_stream("target:shop:staging")
    requested = [e for e in events if e.type == "Target.PromotionRequested"]
    assert len(requested) == 1, "the retry replayed the first answer and wrote nothing"
    assert requested[0].data["promotion_id"] == promoted.out.split()[1]


async def test_insights_count_the_first_release_verified_in_dev(live: Live) -> None:
    table = await baton(live, "insights", "shop", "--env", "dev", "--since", "1d")
    assert table.code == 0, table.err
    assert "dev" in table.out and "1 (" in table.out and "staging" not in table.out

    as_json = await baton(live, "insights", "shop", "-o", "json")
    assert as_json.code == 0, as_json.err
    items = {i["environment"]: i for i in json.loads(as_json.out)["items"]}
    assert items["dev"]["deployments"]["count"] == 1
    assert items["dev"]["lead_time"]["count"] == 1
    assert items["prod"]["deployments"]["count"] == 0

    unknown = await baton(live, "insights", "nope")
    assert unknown.code == 1 and "nope" in unknown.err
    bad = await baton(live, "insights", "shop", "--since", "yesterday")
    assert bad.code == 2 and "--since" in bad.err


async def test_dry_runs_print_the_preview_and_exit_by_whether_it_would_be_accepted(
    live: Live,
) -> None:
    fresh = await baton(live, "promote", "shop", "--to", "staging", "--from", "dev", "--dry-run")
    assert fresh.code == 0, fresh.err
    assert "approvals needed: 1" in fresh.out and "+ Deployment shop-staging/shop" in fresh.out
    assert "would be accepted" in fresh.out and "\x1b[" not in fresh.out, "no colours in a pipe"

    skipping = await baton(
        live, "promote", "shop", "--to", "prod", "--release", live.release, "--dry-run"
    )
    assert skipping.code == 1, skipping.err
    assert "refused (not-verified-upstream)" in skipping.out

    await release_verified_in_dev(live, "shop", "1.1.0", "hi")
    back = await baton(live, "rollback", "shop", "--env", "dev", "--dry-run")
    assert back.code == 0, back.err
    assert "~ ConfigMap shop-dev/shop-config" in back.out
    assert "-  GREETING: hi\n" in back.out and "+  GREETING: hello\n" in back.out
    assert "dry run: done" in back.out and "ok Deployment shop-dev/shop" in back.out
