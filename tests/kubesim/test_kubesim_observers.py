"""Request observers: a cluster tells them of each API request as it arrives."""

from __future__ import annotations

import aiohttp
from ks_helpers import call, cm

from kubesim import Arrival, SimHandle

APPLY = "application/apply-patch+yaml"


async def test_an_observer_sees_each_request_with_what_it_addresses(
    sim: SimHandle, http: aiohttp.ClientSession
) -> None:
    seen: list[Arrival] = []
    stop = sim.cluster("dev").observers.add(seen.append)
    await call(
        http,
        "PATCH",
        "/api/v1/namespaces/shop",
        content_type=APPLY,
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        fieldManager="baton",
    )
    await call(
        http,
        "PATCH",
        "/api/v1/namespaces/shop/configmaps/a",
        cm("a", "shop", k="1"),
        content_type=APPLY,
        fieldManager="baton",
    )
    await call(http, "GET", "/api/v1/namespaces/shop/configmaps/a")
    stop()
    await call(http, "GET", "/api/v1/namespaces/shop/configmaps/a")

    assert [(a.method, a.resource, a.namespace, a.name, a.is_apply) for a in seen] == [
        ("PATCH", "namespaces", None, "shop", True),
        ("PATCH", "configmaps", "shop", "a", True),
        ("GET", "configmaps", "shop", "a", False),
    ]
    assert all(a.concerns("shop") and not a.concerns("other") for a in seen)
    assert seen[1].path == "/api/v1/namespaces/shop/configmaps/a"


async def test_observers_see_only_their_own_cluster(
    sim: SimHandle, http: aiohttp.ClientSession
) -> None:
    on_prod: list[Arrival] = []
    sim.cluster("prod").observers.add(on_prod.append)
    status, _ = await call(
        http,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/b",
        cm("b", k="1"),
        content_type=APPLY,
        fieldManager="baton",
    )
    assert status == 201
    assert on_prod == []


async def test_a_failing_observer_does_not_change_the_answer(
    sim: SimHandle, http: aiohttp.ClientSession
) -> None:
    def broken(arrival: Arrival) -> None:
        raise RuntimeError("observer bug")

    sim.cluster("dev").observers.add(broken)
    status, body = await call(
        http,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/c",
        cm("c", k="1"),
        content_type=APPLY,
        fieldManager="baton",
    )
    assert status == 201
    assert body["data"] == {"k": "1"}
