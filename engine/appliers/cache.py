"""What baton last saw of its objects in one cluster: a list per kind, plus its own writes.

Where it sits: the observe phase of every worker on the cluster reads it, so that a
drift check of thousands of objects costs a few list calls instead of one get each, and
a sync can skip objects that are already as desired without a write. A sweep relists
every kind baton applied (label ``app.kubernetes.io/managed-by=baton``); objects a
worker wrote or read after the sweep began are kept as the worker saw them. Between
lists, a watch per kind (``watches.py``) feeds each change in through :meth:`observe`,
resuming after the resourceVersion this cache last saw of the kind; a kind under watch
is always fresh, so :meth:`refresh` skips it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from engine.appliers.objects import OWNED_SELECTOR, Identity, owner_of, ref_of
from engine.kube import ClusterClient, WatchEvent, WatchEventType

Kind = tuple[str, str]  # (apiVersion, kind)


class LiveCache:
    """Owned live objects of one cluster, by identity."""

    def __init__(
        self,
        client: ClusterClient,
        *,
        on_change: Callable[[list[dict[str, Any]]], None] | None = None,
        on_kind: Callable[[Kind], None] | None = None,
    ) -> None:
        """`on_change` hears of objects a list or a watch found changed (the workers that
        own them are woken: rollouts progress on status changes, not on polling);
        `on_kind` of each kind listed for the first time (its watch starts)."""
        self.client = client
        self.on_change = on_change
        self.on_kind = on_kind
        self.generation = 0  # bumped by every completed sweep
        self._objects: dict[Identity, dict[str, Any]] = {}
        self._listed: dict[Kind, float] = {}  # kind → monotonic time of its last list
        self._touched: dict[Identity, float] = {}
        self._kind_locks: dict[Kind, asyncio.Lock] = {}
        self._namespaces: dict[str, asyncio.Task[None]] = {}
        self._by_owner: dict[tuple[str, str], set[Identity]] = {}
        self._versions: dict[Kind, str] = {}  # kind → resourceVersion last seen of it
        self._watched: set[Kind] = set()  # kinds whose watch is open

    async def ensure_namespace(self, body: dict[str, Any]) -> None:
        """Apply a namespace once per process, however many targets share it."""
        name = str(body["metadata"]["name"])
        task = self._namespaces.get(name)
        if task is None or (task.done() and task.exception() is not None):
            task = asyncio.ensure_future(self._apply_namespace(body))
            # shared by several workers: whoever awaits it sees its error; if all of them
            # were cancelled meanwhile, nobody needs it
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._namespaces[name] = task
        await asyncio.shield(task)

    async def _apply_namespace(self, body: dict[str, Any]) -> None:
        outcome = await self.client.apply(body)
        if outcome.obj is not None:
            self.put(outcome.obj)

    @property
    def kinds(self) -> list[Kind]:
        """Every kind listed so far."""
        return list(self._listed)

    def knows_kind(self, kind: Kind) -> bool:
        """True once `kind` has been listed."""
        return kind in self._listed

    async def ensure(self, kinds: Iterable[Kind]) -> None:
        """List each kind not listed yet (once, however many workers ask)."""
        for kind in kinds:
            if kind in self._listed:
                continue
            lock = self._kind_locks.setdefault(kind, asyncio.Lock())
            async with lock:
                if kind not in self._listed:
                    await self._list(kind, started=time.monotonic())

    async def refresh(self, kinds: Iterable[Kind], *, max_age: float) -> None:
        """Relist each kind listed longer than `max_age` seconds ago (one list at a time per
        kind, shared by every worker that asks): how rollouts see status changes cheaply."""
        for kind in kinds:
            if kind in self._watched:
                continue  # every change comes in as it happens
            asked = time.monotonic()
            listed = self._listed.get(kind)
            if listed is not None and asked - listed <= max_age:
                continue  # fresh enough: do not queue behind a list in progress
            lock = self._kind_locks.setdefault(kind, asyncio.Lock())
            async with lock:
                listed = self._listed.get(kind)
                if listed is None or (listed < asked and asked - listed > max_age):
                    await self._list(kind, started=time.monotonic())

    def known(self, identities: Iterable[tuple[Kind, Identity]]) -> dict[Identity, Any]:
        """Live state of each identity whose kind was listed (None when absent)."""
        out: dict[Identity, Any] = {}
        for kind, identity in identities:
            if kind in self._listed:
                out[identity] = self._objects.get(identity)
        return out

    def owned_by(self, app: str, environment: str) -> list[dict[str, Any]]:
        """Live objects labelled for one target (prune candidates), from an index."""
        ids = self._by_owner.get((app, environment), ())
        return [self._objects[i] for i in ids if i in self._objects]

    def _store(self, identity: Identity, obj: dict[str, Any]) -> None:
        self._remove(identity)
        self._objects[identity] = obj
        owner = owner_of(obj)
        if owner is not None:
            self._by_owner.setdefault(owner, set()).add(identity)

    def _remove(self, identity: Identity) -> dict[str, Any] | None:
        old = self._objects.pop(identity, None)
        if old is not None and (owner := owner_of(old)) is not None:
            self._by_owner.get(owner, set()).discard(identity)
        return old

    def put(self, obj: dict[str, Any]) -> None:
        """A worker wrote or read `obj`: newer than any sweep in progress."""
        identity = ref_of(obj).identity
        self._store(identity, obj)
        self._touched[identity] = time.monotonic()

    def drop(self, identity: Identity) -> None:
        """A worker deleted, or found absent, `identity`."""
        self._remove(identity)
        self._touched[identity] = time.monotonic()

    async def sweep(self) -> None:
        """Relist every kind seen so far; bump the generation."""
        started = time.monotonic()
        for kind in list(self._listed):
            await self._list(kind, started=started)
        self.generation += 1

    def resource_version(self, kind: Kind) -> str | None:
        """Where a watch of `kind` resumes: the last version seen of it (None: list first)."""
        return self._versions.get(kind)

    def forget_version(self, kind: Kind) -> None:
        """The server no longer keeps the version seen (410 Gone): the next watch relists."""
        self._versions.pop(kind, None)

    def watching(self, kind: Kind, *, on: bool) -> None:
        """Whether a watch of `kind` is open (a kind under watch needs no refresh)."""
        if on:
            self._watched.add(kind)
        else:
            self._watched.discard(kind)

    async def relist(self, kind: Kind) -> None:
        """List `kind` now (a watch starts from the list's resourceVersion)."""
        await self._list(kind, started=time.monotonic())

    def observe(self, kind: Kind, event: WatchEvent) -> None:
        """A watch saw `event`: keep the object as the server has it now, tell its owner."""
        if event.resource_version:
            self._versions[kind] = event.resource_version
        if event.type is WatchEventType.BOOKMARK:
            return
        identity = ref_of(event.obj).identity
        before = self._objects.get(identity)
        if before is not None and _older(event.obj, before):
            return  # a worker already stored what it wrote after this
        if event.type.is_removal:
            self._remove(identity)
        else:
            self._store(identity, event.obj)
        if self.on_change is not None:
            self.on_change([event.obj])

    async def _list(self, kind: Kind, *, started: float) -> None:
        api_version, name = kind
        items, version = await self.client.list_collection(
            api_version, name, label_selector=OWNED_SELECTOR
        )
        fresh = {ref_of(o).identity: o for o in items}
        changed: list[dict[str, Any]] = []
        for identity in [i for i in self._objects if i[1] == name and i not in fresh]:
            # kept when a worker or a watch saw it after the list began
            if self._touched.get(identity, 0.0) < started and not _newer_than(
                self._objects[identity], version
            ):
                gone = self._remove(identity)
                if gone is not None:
                    changed.append(gone)
        for identity, obj in fresh.items():
            if self._touched.get(identity, 0.0) < started:
                before = self._objects.get(identity)
                if before is not None and _older(obj, before):
                    continue
                if before is None or _rv(before) != _rv(obj):
                    changed.append(obj)
                self._store(identity, obj)
        first = kind not in self._listed
        self._listed[kind] = started
        if version:
            self._versions[kind] = version
        if changed and self.on_change is not None:
            self.on_change(changed)
        if first and self.on_kind is not None:
            self.on_kind(kind)


def _rv(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def _older(obj: dict[str, Any], than: dict[str, Any]) -> bool:
    """True when `obj` is an earlier version of the same object than `than`."""
    return _newer_than(than, _rv(obj))


def _newer_than(obj: dict[str, Any], version: str) -> bool:
    # Kubernetes calls resourceVersions opaque, but they are etcd revisions (kubesim's
    # are counters too): ordered when both are numbers; otherwise nothing is older
    mine = _rv(obj)
    return mine.isdigit() and version.isdigit() and int(mine) > int(version)
