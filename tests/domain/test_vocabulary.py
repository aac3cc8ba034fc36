"""The vocabulary names every event the aggregates record, and nothing else."""

from engine.domain.vocabulary import EventType
from engine.repository import default_registry


def test_every_recorded_event_type_is_in_the_vocabulary_and_back() -> None:
    registry = default_registry()
    assert {t for t in EventType if registry.knows(t)} == set(EventType)
    assert not registry.knows("Target.PromotionStarted2")
