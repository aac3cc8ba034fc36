"""A SourceRecorder that keeps events in a list: the watcher's contract without a database.

The Postgres-backed recorder (the App aggregate through the repository) is tested in
test_app_recording.py; this one lets the Git tests run in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.domain.pipeline import AppSpec
from engine.git.plan import SourcePlan, SourceState


@dataclass
class ListRecorder:
    """Events per app as (type, data) pairs; state derived from them as a store would."""

    events: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)

    async def source_state(self, app: AppSpec) -> SourceState:
        head, known = None, set()
        for kind, data in self.events.get(app.name, []):
            head = data.get("branch_head", head)
            if kind in ("ReleaseCreated", "ReleaseRejected"):
                known.add(data["sha"])
        return SourceState(head=head, known=frozenset(known))

    async def record(self, app: AppSpec, plan: SourcePlan) -> None:
        stream = self.events.setdefault(app.name, [])
        state = await self.source_state(app)
        if plan.rewritten_from is not None:
            stream.append(
                (
                    "HistoryRewritten",
                    {
                        "old_head": plan.rewritten_from,
                        "new_head": plan.branch_head,
                        "branch_head": plan.branch_head,
                    },
                )
            )
        for obs in plan.observations:
            if obs.commit.sha in state.known:
                continue
            stream.append(
                ("CommitObserved", {"sha": obs.commit.sha, "branch_head": plan.branch_head})
            )
            if obs.failure is None:
                stream.append(
                    (
                        "ReleaseCreated",
                        {
                            "sha": obs.commit.sha,
                            "digest": obs.manifests_digest,
                            "rendered": dict(obs.rendered),
                        },
                    )
                )
            else:
                stream.append(
                    (
                        "ReleaseRejected",
                        {
                            "sha": obs.commit.sha,
                            "file": obs.failure.file,
                            "line": obs.failure.line,
                            "reason": obs.failure.reason,
                        },
                    )
                )

    def types(self, app: str) -> list[str]:
        return [kind for kind, _ in self.events.get(app, [])]

    def of_type(self, app: str, kind: str) -> list[dict[str, Any]]:
        return [data for k, data in self.events.get(app, []) if k == kind]
