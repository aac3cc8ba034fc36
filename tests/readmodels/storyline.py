"""A pipeline story driven through the real service and store, for the read-model tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.domain.enums import Health
from engine.domain.ids import target_stream
from engine.domain.target import Target
from engine.promotions import Promotions
from engine.repository import Repository
from engine.store import EventMetadata, EventStore

APPLIER = EventMetadata(actor="applier")
CONFIG: dict[str, Any] = {
    "environments": [
        {"name": "dev", "policy": {"auto_promote": True}},
        {"name": "staging"},
        {"name": "prod", "policy": {"approvals": 1}},
    ],
}


def sha(n: int) -> str:
    return f"{n:x}" * 40 if n < 16 else f"{n:040x}"


class Story:
    """Drives the domain through the real service and store, as baton would."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.repository = Repository(store)
        self.service = Promotions(self.repository)

    async def app(self, name: str = "web") -> None:
        await self.service.register_app(name, CONFIG, metadata=EventMetadata(actor="config"))

    async def release(self, n: int, app: str = "web") -> str:
        await self.service.create_release(
            app,
            sha=sha(n),
            digest="d" * 64,
            message=f"change {n}",
            author="dev",
            committed_at=datetime(2026, 1, n % 28 + 1, tzinfo=UTC),
            metadata=EventMetadata(actor="git-watcher"),
        )
        return sha(n)

    async def settle(
        self,
        env: str,
        health: Health = Health.HEALTHY,
        app: str = "web",
        release: str | None = None,
    ) -> Target:
        """The applier's part: sync the desired release, assess health, verify."""
        target = await self.repository.get(Target, target_stream(app, env))
        now = datetime.now(UTC)
        sync_id = f"sync-{target.version}"
        target.abandon_sync(reason="a new sync begins", now=now)
        target.start_sync(
            sync_id=sync_id,
            release=release or target.desired_release or "",
            object_count=1,
            reason="promotion",
            now=now,
        )
        target.record_sync(
            sync_id=sync_id,
            release=release or target.desired_release or "",
            now=now,
            objects=[{"object": "Deployment web", "action": "configured"}],
        )
        if target.drift:
            target.correct_drift(sync_id=sync_id, now=now)
        target.record_health(health=health, reasons=[f"{app}: {health}"], now=now)
        if health == Health.HEALTHY:
            target.verify(soak_seconds=0, now=now)
        elif (p := target.in_flight) is not None:
            target.fail(promotion_id=p.id, reason="Degraded after sync", now=now)
        await self.repository.save(target, metadata=APPLIER)
        return target

    async def drift(self, env: str, *, fail_sync: bool, app: str = "web") -> None:
        """Someone edits the cluster; a sync to correct it starts and may fail."""
        target = await self.repository.get(Target, target_stream(app, env))
        now = datetime.now(UTC)
        target.detect_drift(
            release=target.applied_release or "",
            objects=[{"object": "Deployment web", "fields": ["spec.replicas: 2 → 5"]}],
            now=now,
        )
        target.abandon_sync(reason="a new sync begins", now=now)
        sync_id = f"heal-{target.version}"
        target.start_sync(
            sync_id=sync_id,
            release=target.applied_release or "",
            object_count=1,
            reason="self-heal",
            now=now,
        )
        if fail_sync:
            target.fail_sync(
                sync_id=sync_id,
                object="Deployment web",
                reason="Invalid",
                message="spec.replicas: Invalid value",
                attempts=1,
                now=now,
            )
        await self.repository.save(target, metadata=APPLIER)

    async def walk(self) -> dict[str, str]:
        """Release 1 through dev, staging, prod (approved by bob); release 2 fails in dev
        and is rolled back."""
        await self.app()
        r1, r2 = await self.release(1), await self.release(2)
        alice, bob = EventMetadata(actor="alice"), EventMetadata(actor="bob")
        await self.service.request("web", "dev", release=r1, metadata=alice, reason="first")
        await self.settle("dev")
        await self.service.request("web", "staging", from_environment="dev", metadata=alice)
        await self.settle("staging")
        prod = await self.service.request("web", "prod", release=r1, metadata=alice)
        await self.service.approve("web", "prod", prod.id, metadata=bob, comment="lgtm")
        await self.settle("prod")
        await self.service.request("web", "dev", release=r2, metadata=alice)
        await self.settle("dev", Health.DEGRADED)
        await self.service.rollback(
            "web", "dev", metadata=EventMetadata(actor="baton"), reason="auto-rollback: Degraded"
        )
        await self.settle("dev")
        return {"r1": r1, "r2": r2, "prod_promotion": prod.id}
