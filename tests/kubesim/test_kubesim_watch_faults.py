"""Watch streams and fault injection, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from ks_helpers import call, cm

from kubesim import DropMode, SimHandle

CMS = "api/v1/namespaces/default/configmaps"


async def _events(
    http: aiohttp.ClientSession, path: str, count: int, **params: str
) -> list[dict[str, Any]]:
    """Read `count` events of a watch (or fewer when the server ends the stream)."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(5.0), http.get(path, params={"watch": "1", **params}) as resp:
        assert resp.status == 200
        async for line in resp.content:
            if line.strip():
                out.append(json.loads(line))
            if len(out) >= count:
                break
    return out


async def test_watch_from_a_resource_version_replays_later_changes(
    http: aiohttp.ClientSession,
) -> None:
    _, first = await call(http, "POST", CMS, cm("a", k="1"))
    since = first["metadata"]["resourceVersion"]
    await call(
        http, "PATCH", f"{CMS}/a", {"data": {"k": "2"}}, content_type="application/merge-patch+json"
    )
    await call(http, "POST", CMS, cm("b"))
    await call(http, "DELETE", f"{CMS}/a")
    events = await _events(http, CMS, 3, resourceVersion=since)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "a"),
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    assert events[0]["object"]["data"] == {"k": "2"}


async def test_watch_without_a_version_starts_with_the_current_objects_then_streams(
    http: aiohttp.ClientSession,
) -> None:
    await call(http, "POST", CMS, cm("existing"))

    async def later() -> None:
        await asyncio.sleep(0.1)
        await call(http, "POST", CMS, cm("new"))

    task = asyncio.create_task(later())
    events = await _events(http, CMS, 2)
    await task
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "existing"),
        ("ADDED", "new"),
    ]


async def test_watch_with_a_label_selector_sees_objects_leave_the_selection(
    http: aiohttp.ClientSession,
) -> None:
    body = cm("a")
    body["metadata"]["labels"] = {"team": "x"}
    _, created = await call(http, "POST", CMS, body)
    await call(
        http,
        "PATCH",
        f"{CMS}/a",
        {"metadata": {"labels": {"team": "y"}}},
        content_type="application/merge-patch+json",
    )
    events = await _events(
        http,
        CMS,
        1,
        labelSelector="team=x",
        resourceVersion=str(int(created["metadata"]["resourceVersion"]) - 1),
    )
    assert events[0]["type"] == "ADDED"
    events = await _events(
        http, CMS, 1, labelSelector="team=x", resourceVersion=created["metadata"]["resourceVersion"]
    )
    assert events[0]["type"] == "DELETED"


async def test_watch_from_a_compacted_version_gets_410_gone(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    _, first = await call(http, "POST", CMS, cm("a"))
    await call(http, "POST", CMS, cm("b"))
    sim.cluster("dev").store.compact()
    events = await _events(http, CMS, 1, resourceVersion=first["metadata"]["resourceVersion"])
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"


async def test_watch_sends_bookmarks_and_the_initial_events_end_marker(
    http: aiohttp.ClientSession,
) -> None:
    await call(http, "POST", CMS, cm("a"))
    events = await _events(
        http,
        CMS,
        3,
        allowWatchBookmarks="true",
        sendInitialEvents="true",
        resourceVersionMatch="NotOlderThan",
    )
    assert events[0]["type"] == "ADDED"
    marker = events[1]
    assert marker["type"] == "BOOKMARK"
    assert marker["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[2]["type"] == "BOOKMARK"  # the periodic one, while nothing happens


async def test_watch_ends_after_timeout_seconds(http: aiohttp.ClientSession) -> None:
    started = time.monotonic()
    events = await _events(http, CMS, 100, timeoutSeconds="1", resourceVersion="1")
    assert 0.9 < time.monotonic() - started < 4
    assert all(e["type"] != "ERROR" for e in events)


async def test_dropped_watch_connections(http: aiohttp.ClientSession, sim: SimHandle) -> None:
    sim.cluster("dev").faults.watch_drop_after = 0.3
    started = time.monotonic()
    await _events(http, CMS, 100)
    assert time.monotonic() - started < 2


async def test_injected_errors_are_500_or_503_statuses(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    faults = sim.cluster("dev").faults
    faults.error_rate = 1.0
    codes = {(await call(http, "GET", CMS))[0] for _ in range(30)}
    assert codes == {500, 503}
    status, body = await call(http, "GET", CMS)
    assert body["kind"] == "Status" and body["code"] == status
    faults.error_rate = 0.3
    answered = [(await call(http, "GET", CMS))[0] for _ in range(200)]
    assert 20 < sum(code != 200 for code in answered) < 100
    faults.reset()
    assert (await call(http, "GET", CMS))[0] == 200


async def test_throttling_answers_429_with_retry_after(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    faults = sim.cluster("dev").faults
    faults.throttle_rate, faults.retry_after = 1.0, 7
    async with http.get(CMS) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "7"
        body = await response.json()
    assert body["reason"] == "TooManyRequests"
    # discovery stays reachable unless asked otherwise, as clients need it to retry at all
    assert (await call(http, "GET", "api/v1"))[0] == 200


async def test_latency_is_added_to_each_request(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    sim.cluster("dev").faults.latency = 0.2
    started = time.monotonic()
    await call(http, "GET", CMS)
    assert time.monotonic() - started >= 0.2


async def test_faults_can_target_writes_only(http: aiohttp.ClientSession, sim: SimHandle) -> None:
    faults = sim.cluster("dev").faults
    faults.error_rate, faults.methods = 1.0, frozenset({"POST", "PATCH", "PUT", "DELETE"})
    assert (await call(http, "GET", CMS))[0] == 200
    assert (await call(http, "POST", CMS, cm("x")))[0] in (500, 503)


async def test_watch_drop_can_reset_the_connection(
    http: aiohttp.ClientSession, sim: SimHandle
) -> None:
    faults = sim.cluster("dev").faults
    faults.watch_drop_after, faults.watch_drop_mode = 0.2, DropMode.RESET
    with pytest.raises(aiohttp.ClientPayloadError):
        await _events(http, CMS, 100)


async def test_watch_as_table_rows_for_kubectl_get_watch(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", CMS, cm("a"))
    await call(http, "POST", CMS, cm("b"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    events = []
    async with (
        asyncio.timeout(5.0),
        http.get(CMS, params={"watch": "1"}, headers={"Accept": accept}) as response,
    ):
        async for line in response.content:
            events.append(json.loads(line))
            if len(events) == 2:
                break
    assert [e["object"]["kind"] for e in events] == ["Table", "Table"]
    assert [c["name"] for c in events[0]["object"]["columnDefinitions"]] == ["Name", "Age"]
    assert events[1]["object"]["columnDefinitions"] == []  # headers come once
    assert [e["object"]["rows"][0]["cells"][0] for e in events] == ["a", "b"]
