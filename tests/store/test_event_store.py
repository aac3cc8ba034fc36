"""The event store: appends, optimistic concurrency, reads in global order, bad input."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from engine.store import (
    ConcurrencyError,
    EventMetadata,
    EventStore,
    EventValidationError,
    NewEvent,
)

pytestmark = pytest.mark.store

ALICE = EventMetadata(actor="alice", correlation_id="c-1")


def events(*types: str) -> list[NewEvent]:
    return [NewEvent(t, {"n": i}) for i, t in enumerate(types)]


async def test_appended_events_read_back_in_order_with_positions_and_versions(
    store: EventStore,
) -> None:
    first = await store.append("s-1", events("A", "B"), expected_version=0, metadata=ALICE)
    second = await store.append("s-2", events("C"), expected_version=0, metadata=ALICE)
    assert (first.first_position, first.last_position, first.last_version) == (1, 2, 2)
    assert (second.first_position, second.last_version) == (3, 1)

    stream = await store.read_stream("s-1")
    assert [(e.type, e.stream_version, e.data) for e in stream] == [
        ("A", 1, {"n": 0}),
        ("B", 2, {"n": 1}),
    ]
    assert stream[0].metadata.actor == "alice"
    assert stream[0].metadata.correlation_id == "c-1"
    assert stream[0].metadata.recorded_at == stream[0].recorded_at
    every = await store.read_all(after=1, limit=10)
    assert [e.position for e in every] == [2, 3]
    assert await store.head_position() == 3


async def test_stale_expected_version_is_refused_naming_stream_and_both_versions(
    store: EventStore,
) -> None:
    await store.append("target:web:prod", events("A"), expected_version=0, metadata=ALICE)
    with pytest.raises(ConcurrencyError) as caught:
        await store.append("target:web:prod", events("B"), expected_version=0, metadata=ALICE)
    assert caught.value.stream_id == "target:web:prod"
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert "target:web:prod" in str(caught.value) and "version 1" in str(caught.value)
    assert [e.type for e in await store.read_stream("target:web:prod")] == ["A"]


async def test_concurrent_writers_to_one_stream_exactly_one_wins_each_version(
    store: EventStore,
) -> None:
    async def writer(name: str) -> bool:
        try:
            await store.append(
                "shared", [NewEvent("W", {"by": name})], expected_version=0, metadata=ALICE
            )
            return True
        except ConcurrencyError:
            return False

    outcomes = await asyncio.gather(*(writer(f"w{i}") for i in range(8)))
    assert outcomes.count(True) == 1
    assert len(await store.read_stream("shared")) == 1


async def test_concurrent_appends_to_different_streams_all_land_gap_free(
    store: EventStore,
) -> None:
    await asyncio.gather(
        *(
            store.append(f"s-{i}", events("A", "B", "C"), expected_version=0, metadata=ALICE)
            for i in range(40)
        )
    )
    every = await store.read_all(limit=1000)
    assert [e.position for e in every] == list(range(1, 121))
    for i in range(40):
        assert [e.stream_version for e in await store.read_stream(f"s-{i}")] == [1, 2, 3]


async def test_append_many_writes_every_stream_or_none(store: EventStore) -> None:
    await store.append("b", events("X"), expected_version=0, metadata=ALICE)
    with pytest.raises(ConcurrencyError) as caught:
        await store.append_many([("a", events("A"), 0), ("b", events("B"), 0)], metadata=ALICE)
    assert caught.value.stream_id == "b"
    assert await store.read_stream("a") == []
    results = await store.append_many(
        [("a", events("A"), 0), ("b", events("B"), 1)], metadata=ALICE
    )
    assert [r.last_version for r in results] == [1, 2]


@pytest.mark.parametrize(
    ("stream_id", "event", "metadata", "message"),
    [
        ("s" * 201, NewEvent("A", {}), ALICE, "stream id is 201 characters long"),
        ("bad\nid", NewEvent("A", {}), ALICE, "control character"),
        ("s", NewEvent("A", {"v": "\udcff"}), ALICE, "not valid UTF-8"),
        ("s", NewEvent("A", {"v": "a\x00b"}), ALICE, "NUL character"),
        ("s", NewEvent("A", {"v": float("nan")}), ALICE, "not valid JSON"),
        ("s", NewEvent("A", {"v": object()}), ALICE, "not valid JSON"),
        ("s", NewEvent("", {}), ALICE, "type must be a non-empty string"),
        ("s", NewEvent("A", {}, schema_version=0), ALICE, "schema_version"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_written(
    store: EventStore, stream_id: str, event: NewEvent, metadata: EventMetadata, message: str
) -> None:
    await store.append("s", events("first"), expected_version=0, metadata=ALICE)
    with pytest.raises(EventValidationError, match=message):
        await store.append(
            stream_id, [NewEvent("ok", {}), event], expected_version=None, metadata=metadata
        )
    assert [e.type for e in await store.read_all()] == ["first"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"actor": ""}, "metadata.actor must be a non-empty string"),
        ({"actor": "a" * 300}, "metadata.actor is 300 characters long"),
        ({"actor": "x", "traceparent": "not-a-trace"}, "not a W3C traceparent"),
        ({"actor": "x", "correlation_id": "c" * 201}, "metadata.correlation_id is 201"),
    ],
)
def test_invalid_metadata_is_refused_with_the_field_named(
    fields: dict[str, str], message: str
) -> None:
    with pytest.raises(EventValidationError, match=message):
        EventMetadata(**fields)


async def test_a_batch_with_one_bad_event_leaves_nothing_behind(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    # The database's own check (metadata must name an actor) refuses the whole batch.
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.fetch(
                "SELECT * FROM baton_append($1, $2, false, $3, $4, $5, $6::text[]::jsonb[],"
                " $7::text[]::jsonb[])",
                ["s"],
                [0],
                [1, 1],
                ["A", "B"],
                [1, 1],
                ["{}", "{}"],
                ['{"actor":"a"}', "{}"],
            )
    assert await store.read_all() == []
    assert await store.head_position() == 0


async def test_a_cancelled_caller_does_not_lose_other_callers_appends(store: EventStore) -> None:
    tasks = [
        asyncio.create_task(store.append(f"c-{i}", events("A"), expected_version=0, metadata=ALICE))
        for i in range(20)
    ]
    await asyncio.sleep(0)
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    landed = {e.stream_id for e in await store.read_all(limit=100)}
    for i, result in enumerate(results[1:], start=1):
        assert not isinstance(result, BaseException)
        assert f"c-{i}" in landed


async def test_appends_gathered_into_one_commit_still_see_each_other(store: EventStore) -> None:
    # queued together, the second append expects the version the first one creates
    first, second = await asyncio.gather(
        store.append("same", events("A"), expected_version=0, metadata=ALICE),
        store.append("same", events("B", "C"), expected_version=1, metadata=ALICE),
    )
    assert (first.last_version, second.last_version) == (1, 3)
    assert [e.type for e in await store.read_stream("same")] == ["A", "B", "C"]
