"""Request observers: being told of each API request as it reaches a cluster.

Where it sits: `handlers.handle()` tells a cluster's observers about every request whose
path it resolved, before injected faults or the verbs run, so what an observer sees is
what a client sent, when it arrived. A benchmark times "the first apply for namespace X
arrived"; a test checks what a client sent without reading the server's state.
Observers run on the server's event loop: they must be quick and must not block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from kubesim.patches import PatchType

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One API request, as it arrived at a cluster."""

    cluster: str
    method: str
    path: str  # below the cluster's prefix, without the query
    content_type: str
    resource: str  # the plural ("deployments"); "" for discovery documents
    namespace: str | None  # None: cluster-scoped, every namespace, or discovery
    name: str  # "" for collections

    @property
    def is_apply(self) -> bool:
        """Whether this is a server-side apply (a PATCH with an apply-patch body)."""
        if self.method != "PATCH":
            return False
        mime = self.content_type.split(";", 1)[0].strip().lower()
        return mime in (PatchType.APPLY_YAML, PatchType.APPLY_CBOR)

    def concerns(self, namespace: str) -> bool:
        """Whether it addresses `namespace` itself or something in it."""
        if self.namespace == namespace:
            return True
        return self.resource == "namespaces" and self.name == namespace


Observer = Callable[[Arrival], None]


class Observers:
    """The observers of one cluster."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def __bool__(self) -> bool:
        return bool(self._observers)

    def add(self, observer: Observer) -> Callable[[], None]:
        """Call `observer` with every request from now on; returns what stops that."""
        self._observers.append(observer)

        def remove() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return remove

    def tell(self, arrival: Arrival) -> None:
        """Hand `arrival` to each observer; a failing observer never changes the answer."""
        for observer in list(self._observers):
            try:
                observer(arrival)
            except Exception:
                log.exception("a request observer of %s failed", arrival.cluster)
