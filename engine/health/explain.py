"""Explain: the verdict on each object of a manifest, its message and the rule that gave it.

Where it sits: behind ``baton health explain`` (``baton.cli.health``) and the API's
``POST /api/v1/health/explain``; both pass the objects they read and the user's checks,
and show the same rows. Pure: objects in, rows out. A ``kind: List`` (what
``kubectl get -o yaml`` prints) is explained item by item; a document that is not an
object is Unknown, saying what it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from engine.domain.enums import Health
from engine.health import CustomChecks, assess


@dataclass(frozen=True, slots=True)
class Explained:
    """One object's verdict and where it came from."""

    api_version: str
    kind: str
    namespace: str
    name: str
    status: Health
    message: str
    rule: str

    def as_json(self) -> dict[str, str]:
        """The row as the API answers it (and ``--output json`` prints it)."""
        return {k: str(v) for k, v in asdict(self).items()}


def explain(objects: Iterable[Any], checks: CustomChecks | None = None) -> list[Explained]:
    """The verdict on every object of `objects`, in order."""
    return [_one(obj, checks) for obj in _flatten(objects)]


def _flatten(objects: Iterable[Any]) -> Iterator[Any]:
    for obj in objects:
        if obj is None:
            continue  # an empty YAML document: `---` at the end of a file
        items = obj.get("items") if isinstance(obj, Mapping) else None
        if isinstance(obj, Mapping) and obj.get("kind") == "List" and isinstance(items, list):
            yield from _flatten(items)
        else:
            yield obj


def _one(obj: Any, checks: CustomChecks | None) -> Explained:
    if not isinstance(obj, Mapping):
        what = type(obj).__name__
        return Explained("", "", "", "", Health.UNKNOWN, f"not an object but a {what}", "-")
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    result = assess(obj, checks)
    return Explained(
        api_version=str(obj.get("apiVersion", "")),
        kind=str(obj.get("kind", "")),
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        status=result.status,
        message=result.message,
        rule=result.rule,
    )
