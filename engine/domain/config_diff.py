"""The difference between two versions of an app's config, as recorded in ``ConfigChanged``.

Where it sits: the App aggregate computes it when the environments config is applied,
so the audit trail says which key changed from what to what. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_MISSING = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigChange:
    """One changed key: dotted path, old value (None if added), new value (None if removed)."""

    path: str
    old: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        """The change as stored in an event."""
        return {"path": self.path, "old": self.old, "new": self.new}


def diff_config(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ConfigChange]:
    """Every leaf that differs, mappings compared key by key, lists as whole values."""
    changes: list[ConfigChange] = []
    _diff(old, new, "", changes)
    return changes


def _diff(old: Any, new: Any, path: str, out: list[ConfigChange]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted({*old, *new}, key=str):
            sub = f"{path}.{key}" if path else str(key)
            _diff(old.get(key, _MISSING), new.get(key, _MISSING), sub, out)
        return
    if old != new:
        out.append(ConfigChange(
            path=path,
            old=None if old is _MISSING else old,
            new=None if new is _MISSING else new,
        ))
