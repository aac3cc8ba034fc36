"""The appliers: reconcile every target (app × environment) with its cluster.

Where they sit: after the event log (a promotion sets a target's desired release) and
before Kubernetes (through ``engine.kube``). The server starts one
:class:`AppliersService` per process; several processes share the targets through
Postgres advisory locks. Modules, in the order of a pass:

- ``service``: the tasks of a process (locks, wake-ups, watches, sweeps, workers,
  promoter);
- ``worker``: one target, observe → decide → act;
- ``cache``: the owned live objects of a cluster (list sweeps, watch events and the
  workers' writes);
- ``watches``: one watch per cluster × kind, feeding the cache and waking owners;
- ``render``: the desired release rendered for an environment;
- ``objects`` and ``plan``: pure decisions (ownership, drift, sync plan, verdicts);
- ``execute``: a sync plan carried out (apply in order, prune what baton owns);
- ``inprocess``: the service in the current event loop (tests, demo, benchmark).
"""

from engine.appliers.context import ApplierSettings
from engine.appliers.inprocess import running_appliers
from engine.appliers.render import GitRenderer, Renderer
from engine.appliers.service import AppliersService, build_appliers

__all__ = [
    "ApplierSettings",
    "AppliersService",
    "GitRenderer",
    "Renderer",
    "build_appliers",
    "running_appliers",
]
