"""What a sync to another release would change, object by object, on the rendered manifests.

Where it sits: the preview of a promotion or rollback (``engine.preview``), beside the
appliers' decisions. Pure: it compares two renderings (the running release's and the
candidate's), never the cluster. Objects are matched as the applier matches them, by
(API group, kind, namespace, name): a new API version of the same object is a change.
Namespaces and CRDs that leave a release are not listed as pruned, because the applier
never prunes them. A change carries a unified diff of the two objects as YAML (keys
sorted, as ``kubectl diff`` shows them).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml

from engine.appliers.objects import NEVER_PRUNED, Identity, ObjectRef, ref_of


class Change(StrEnum):
    """What a sync would do to one object."""

    ADDED = "added"
    CHANGED = "changed"
    PRUNED = "pruned"


@dataclass(frozen=True, kw_only=True)
class ObjectChange:
    """One object the sync would write or delete; `diff` is set for a change."""

    ref: ObjectRef
    change: Change
    diff: str = ""


@dataclass(frozen=True, kw_only=True)
class ManifestDiff:
    """The objects a sync from `running` to `candidate` would add, change and prune."""

    added: tuple[ObjectChange, ...]
    changed: tuple[ObjectChange, ...]
    pruned: tuple[ObjectChange, ...]
    unchanged: int

    @property
    def writes(self) -> tuple[ObjectChange, ...]:
        """The objects the sync would apply (added, then changed)."""
        return self.added + self.changed


def as_yaml(body: Mapping[str, Any]) -> str:
    """An object as YAML, keys sorted: the text a diff compares."""
    return yaml.safe_dump(dict(body), sort_keys=True, default_flow_style=False, width=100)


def unified_diff(
    before: Mapping[str, Any], after: Mapping[str, Any], *, ref: ObjectRef, labels: tuple[str, str]
) -> str:
    """A unified diff of two versions of an object, headed by `labels` and the object."""
    return "".join(
        difflib.unified_diff(
            as_yaml(before).splitlines(keepends=True),
            as_yaml(after).splitlines(keepends=True),
            fromfile=f"{labels[0]}: {ref.describe()}",
            tofile=f"{labels[1]}: {ref.describe()}",
        )
    )


def diff_renderings(
    running: Sequence[Mapping[str, Any]],
    candidate: Sequence[Mapping[str, Any]],
    *,
    labels: tuple[str, str] = ("running", "candidate"),
) -> ManifestDiff:
    """Added, changed (with a unified diff) and pruned objects, in the candidate's apply
    order (pruned in the running release's); `labels` name the two sides in the diffs."""
    before: dict[Identity, Mapping[str, Any]] = {ref_of(b).identity: b for b in running}
    added: list[ObjectChange] = []
    changed: list[ObjectChange] = []
    unchanged = 0
    wanted: set[Identity] = set()
    for body in candidate:
        ref = ref_of(body)
        wanted.add(ref.identity)
        old = before.get(ref.identity)
        if old is None:
            added.append(ObjectChange(ref=ref, change=Change.ADDED))
        elif old == body:
            unchanged += 1
        else:
            text = unified_diff(old, body, ref=ref, labels=labels)
            changed.append(ObjectChange(ref=ref, change=Change.CHANGED, diff=text))
    pruned = [
        ObjectChange(ref=ref_of(b), change=Change.PRUNED)
        for identity, b in before.items()
        if identity not in wanted and str(b.get("kind")) not in NEVER_PRUNED
    ]
    return ManifestDiff(
        added=tuple(added), changed=tuple(changed), pruned=tuple(pruned), unchanged=unchanged
    )
