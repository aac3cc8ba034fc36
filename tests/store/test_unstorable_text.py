"""Text PostgreSQL cannot store (NUL, lone surrogates) is refused by the store, naming the
field, wherever it hides in an event; text that merely looks like it is stored as sent."""

from __future__ import annotations

import pytest

from engine.store import EventMetadata, EventStore, EventValidationError, NewEvent

pytestmark = pytest.mark.store

ALICE = EventMetadata(actor="alice")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"promotion": {"reason": "ship\x00it"}}, "promotion.reason"),
        ({"approvals": [{"comment": "ok"}, {"comment": "\ud800"}]}, "approvals.1.comment"),
        ({"labels": {"team\x00": "web"}}, "labels.team\x00"),
    ],
)
async def test_unstorable_text_in_event_data_is_refused_naming_the_field(
    store: EventStore, data: dict[str, object], field: str
) -> None:
    with pytest.raises(EventValidationError) as caught:
        await store.append("s", [NewEvent("A", data)], expected_version=0, metadata=ALICE)
    assert caught.value.field == field
    assert "PostgreSQL cannot store it" in str(caught.value)
    assert await store.read_all() == []


def test_unstorable_text_in_metadata_is_refused_naming_the_field() -> None:
    with pytest.raises(EventValidationError) as caught:
        EventMetadata(actor="alice", correlation_id="c-\ud83d")
    assert caught.value.field == "metadata.correlation_id"


async def test_text_that_only_spells_an_escape_is_stored_as_sent(store: EventStore) -> None:
    # a backslash, a "u" and four zeros are six ordinary characters, not a NUL
    data = {"reason": "write \\u0000 to end a C string", "emoji": "\U0001f680"}
    await store.append("s", [NewEvent("A", data)], expected_version=0, metadata=ALICE)
    assert [e.data for e in await store.read_all()] == [data]
