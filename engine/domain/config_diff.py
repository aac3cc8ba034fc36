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
    """Every leaf that differs: mappings key by key, lists of named mappings (such as the
    pipeline's environments) name by name plus their order, other lists as whole values."""
    changes: list[ConfigChange] = []
    _diff(old, new, "", changes)
    return changes


def _diff(old: Any, new: Any, path: str, out: list[ConfigChange]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted({*old, *new}, key=str):
            sub = f"{path}.{key}" if path else str(key)
            _diff(old.get(key, _MISSING), new.get(key, _MISSING), sub, out)
        return
    if _named(old) and _named(new):
        before = {item["name"]: item for item in old}
        after = {item["name"]: item for item in new}
        for name in [*before, *(n for n in after if n not in before)]:
            _diff(before.get(name, _MISSING), after.get(name, _MISSING), f"{path}[{name}]", out)
        if [n for n in before if n in after] != [n for n in after if n in before]:
            out.append(ConfigChange(path=f"{path} order", old=list(before), new=list(after)))
        return
    if old != new:
        out.append(
            ConfigChange(
                path=path,
                old=None if old is _MISSING else old,
                new=None if new is _MISSING else new,
            )
        )


def _named(value: Any) -> bool:
    """True for a list whose items are mappings with distinct ``name`` keys."""
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        return False
    names = [v.get("name") for v in value]
    return all(isinstance(n, str) for n in names) and len(set(names)) == len(names)
