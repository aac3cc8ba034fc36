"""The value every health rule returns, and small readers of status fields. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from engine.domain.enums import Health


class Assessment(NamedTuple):
    """A health status, a message that carries the counts behind it, and the rule that
    gave it (a built-in rule's name, ``generic``, or a user's script's path)."""

    status: Health
    message: str
    rule: str = ""


Rule = Callable[[Mapping[str, Any]], Assessment]


class BadShape(ValueError):
    """An object whose fields do not have the shape the API documents (read as Unknown)."""


def section(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """`obj[name]` as a mapping ({} when absent or null)."""
    value = obj.get(name)
    return value if isinstance(value, Mapping) else {}


def number(block: Mapping[str, Any], name: str, default: int = 0) -> int:
    """An integer field of a status block (absent counts as `default`)."""
    value = block.get(name)
    return int(value) if isinstance(value, int | float) else default


def conditions(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The status conditions of `obj` in their order ([] when there are none)."""
    found = section(obj, "status").get("conditions") or []
    if not isinstance(found, list):
        raise BadShape(f"status.conditions is a {type(found).__name__}, not a list")
    return [c for c in found if isinstance(c, Mapping)]


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The status condition of type `kind`, if any."""
    for cond in conditions(obj):
        if cond.get("type") == kind:
            return cond
    return None


def is_true(cond: Mapping[str, Any] | None) -> bool:
    """True when a condition is present with status "True"."""
    return cond is not None and cond.get("status") == "True"


def is_false(cond: Mapping[str, Any] | None) -> bool:
    """True when a condition is present with status "False"."""
    return cond is not None and cond.get("status") == "False"


def explain(cond: Mapping[str, Any], default: str = "") -> str:
    """A condition's reason and message as one phrase ("Reason: message")."""
    reason, message = str(cond.get("reason") or ""), str(cond.get("message") or "")
    return ": ".join(part for part in (reason, message) if part) or default


def observed_is_current(obj: Mapping[str, Any]) -> bool:
    """True when the controller has seen the latest spec (generation ≤ observedGeneration)."""
    generation = number(section(obj, "metadata"), "generation")
    observed = number(section(obj, "status"), "observedGeneration", default=-1)
    return (observed < 0 and generation == 0) or generation <= observed
