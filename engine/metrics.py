"""Prometheus metrics baton exposes: their definitions, in one registry.

Outcomes (promotions, syncs, drift) are counted from the events themselves
(`engine.metric_events`); latencies measured in-process (event append, Git poll) are
observed where they happen.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

PROMOTIONS = Counter(
    "baton_promotions",
    "Promotions that ended, by environment and outcome",
    ["environment", "outcome"],
    registry=REGISTRY,
)
PROMOTION_SECONDS = Histogram(
    "baton_promotion_duration_seconds",
    "From request to outcome, by environment",
    ["environment"],
    registry=REGISTRY,
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600),
)
SYNCS = Counter("baton_syncs", "Syncs by outcome", ["outcome"], registry=REGISTRY)
SYNC_SECONDS = Histogram(
    "baton_sync_duration_seconds",
    "From SyncStarted to its outcome",
    ["outcome"],
    registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DRIFT = Counter(
    "baton_drift_detections",
    "Drift detected, by environment",
    ["environment"],
    registry=REGISTRY,
)
TARGET_HEALTH = Gauge(
    "baton_targets",
    "Targets by health",
    ["health"],
    registry=REGISTRY,
)
PROJECTION_LAG = Gauge(
    "baton_projection_lag_events",
    "Events not yet applied, by projection",
    ["projection"],
    registry=REGISTRY,
)
APPEND_SECONDS = Histogram(
    "baton_event_append_seconds",
    "Latency of one append to the event log",
    registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
GIT_POLL_ERRORS = Counter(
    "baton_git_poll_errors",
    "Git polls that failed, by app",
    ["app"],
    registry=REGISTRY,
)
TASK_UP = Gauge(
    "baton_task_up",
    "1 while a supervised background task runs without failing, else 0",
    ["task"],
    registry=REGISTRY,
)
TASK_RESTARTS = Counter(
    "baton_task_restarts",
    "Restarts of a supervised background task after it failed",
    ["task"],
    registry=REGISTRY,
)
