"""`baton promotions list`, `baton promotion get` and `baton releases` against a running
server: filters, short ids (unique, ambiguous, unknown, too short), newest first, JSON."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml

from baton.client import Client
from engine.promotions import Promotions
from engine.repository import Repository
from engine.store import EventMetadata
from tests.demo.live_server import TOKENS, Live, release_verified_in_dev
from tests.demo.test_cli import baton

pytestmark = pytest.mark.timeout(180)

#: two promotion ids that share their first 8 characters
TWINS = ("c0ffee00-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "c0ffee00-bbbb-4bbb-8bbb-bbbbbbbbbbbb")


def cells(line: str) -> list[str]:
    """A table row's cells."""
    return [cell.strip() for cell in line.split("│")[1:-1]]


async def test_promotions_are_listed_filtered_and_got_by_a_short_id(live: Live) -> None:
    promoted = await baton(live, "promote", "shop", "--to", "staging", "--from", "dev")
    assert promoted.code == 0, promoted.err
    waiting = promoted.out.split()[1]

    everything = await baton(live, "promotions", "list", "--app", "shop")
    assert everything.code == 0, everything.err
    rows = [cells(line) for line in everything.out.splitlines() if " shop " in line]
    assert [row[1] for row in rows] == ["dev", "staging"], "pipeline order"
    assert waiting[:8] in everything.out and waiting[:9] not in everything.out
    assert live.release[:12] in everything.out and "ago" in everything.out

    awaiting = await baton(live, "promotions", "list", "--state", "awaiting-approval", "-o", "json")
    assert awaiting.code == 0, awaiting.err
    items = json.loads(awaiting.out)["items"]
    assert [(p["id"], p["phase"]) for p in items] == [(waiting, "awaiting_approval")]
    assert items[0]["requested_at"].endswith("Z"), "RFC 3339 in UTC"

    done = await baton(live, "promotions", "list", "--env", "dev", "--state", "done", "-o", "yaml")
    assert done.code == 0, done.err
    finished = yaml.safe_load(done.out)["items"]
    assert finished and {p["environment"] for p in finished} == {"dev"}
    assert {p["phase"] for p in finished} == {"completed"}
    running = await baton(live, "promotions", "list", "--state", "running", "-o", "json")
    assert json.loads(running.out)["items"] == []

    got = await baton(live, "promotion", "get", waiting[:6])
    assert got.code == 0, got.err
    assert waiting in got.out and "awaiting_approval" in got.out
    assert "approvals:    0 of 1" in got.out and "requested by alice" in got.out
    as_json = await baton(live, "promotion", "get", waiting[:6], "-o", "json")
    assert json.loads(as_json.out)["id"] == waiting

    approved = await baton(live, "approve", waiting[:7], user="bob")
    assert approved.code == 0, approved.err
    assert f"promotion {waiting} started" in approved.out
    after = await baton(live, "promotion", "get", waiting)
    assert "1 of 1" in after.out and "approved by bob" in after.out

    unknown = await baton(live, "promotion", "get", "ffffff")
    assert unknown.code == 1
    assert "no promotion whose id starts with 'ffffff'" in unknown.err
    short = await baton(live, "cancel", "abc")
    assert short.code == 2 and "too short" in short.err


async def test_an_ambiguous_short_id_names_the_candidates(live: Live) -> None:
    service = Promotions(Repository(live.state.database.store))
    for twin in TWINS:
        await service.request(
            "shop",
            "staging",
            metadata=EventMetadata(actor="alice"),
            from_environment="dev",
            promotion_id=twin,
        )
        await service.cancel(
            "shop", "staging", twin, metadata=EventMetadata(actor="alice"), reason="twin"
        )

    async with Client(live.url, TOKENS["carol"]) as client:  # the read model caught up
        for _ in range(100):
            found = await client.get("/promotions", id_prefix="c0ffee")
            if len(found["items"]) == 2:
                break
            await asyncio.sleep(0.1)
    ambiguous = await baton(live, "promotion", "get", "c0ffee")
    assert ambiguous.code == 2
    assert len(ambiguous.err.strip().splitlines()) == 1
    assert f"ambiguous: it could be {TWINS[0]} or {TWINS[1]}" in ambiguous.err
    also = await baton(live, "approve", "c0ffee00", user="bob")
    assert also.code == 2 and "ambiguous" in also.err

    one = await baton(live, "promotion", "get", "c0ffee00-b", "-o", "json")
    assert one.code == 0, one.err
    assert json.loads(one.out)["phase"] == "cancelled"


async def test_releases_are_listed_newest_first(live: Live) -> None:
    newer = await release_verified_in_dev(live, "shop", "1.1.0", "hi")
    table = await baton(live, "releases", "shop")
    assert table.code == 0, table.err
    assert table.out.index(newer[:12]) < table.out.index(live.release[:12])
    assert "shop 1.1.0" in table.out and "ago" in table.out

    as_json = await baton(live, "releases", "shop", "--env", "dev", "-o", "json")
    assert as_json.code == 0, as_json.err
    items = json.loads(as_json.out)["items"]
    assert [r["sha"] for r in items] == [newer, live.release]
    assert items[0]["deployed_in"] == ["dev"] and items[0]["verified_in"] == ["dev"]
    assert items[1]["deployed_in"] == [] and items[0]["created_at"].endswith("Z")

    nowhere = await baton(live, "releases", "shop", "--env", "qa")
    assert nowhere.code == 1 and "no environment qa" in nowhere.err
