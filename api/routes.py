"""Every route of the API, in one place, under /api/v1.

Where it sits: called once by `api.app.init_app()`. Each view declares its contract
(`api.operation`); the OpenAPI document (`api.openapi`) is generated from these routes
and those contracts.
"""

from __future__ import annotations

from aiohttp import web

from api import openapi
from api.views import (
    admin,
    apps,
    config,
    explain,
    health,
    history,
    insights,
    metrics,
    notifications,
    previews,
    promotions,
    stream,
    webhooks,
)

PREFIX = "/api/v1"


def setup_routes(app: web.Application) -> None:
    """Register the API's routes on `app`."""
    r = app.router
    r.add_get(f"{PREFIX}/healthz", health.healthz, name="healthz")
    r.add_get(f"{PREFIX}/readyz", health.readyz, name="readyz")
    r.add_get(f"{PREFIX}/openapi.json", openapi.serve, name="openapi")
    r.add_get(f"{PREFIX}/metrics", metrics.metrics, name="metrics")

    r.add_get(f"{PREFIX}/apps", apps.list_apps, name="list_apps")
    r.add_get(f"{PREFIX}/apps/{{app}}", apps.get_app, name="get_app")
    r.add_get(f"{PREFIX}/apps/{{app}}/releases", apps.list_releases, name="list_releases")
    r.add_get(f"{PREFIX}/apps/{{app}}/releases/{{sha}}", apps.get_release, name="get_release")

    r.add_get(f"{PREFIX}/promotions", promotions.list_promotions, name="list_promotions")
    r.add_post(f"{PREFIX}/promotions", promotions.create_promotion, name="create_promotion")
    r.add_post(f"{PREFIX}/promotions/preview", previews.preview_promotion, name="preview_promotion")
    r.add_get(
        f"{PREFIX}/promotions/{{promotion_id}}", promotions.get_promotion, name="get_promotion"
    )
    r.add_post(
        f"{PREFIX}/promotions/{{promotion_id}}/approve",
        promotions.approve_promotion,
        name="approve_promotion",
    )
    r.add_post(
        f"{PREFIX}/promotions/{{promotion_id}}/reject",
        promotions.reject_promotion,
        name="reject_promotion",
    )
    r.add_post(
        f"{PREFIX}/promotions/{{promotion_id}}/cancel",
        promotions.cancel_promotion,
        name="cancel_promotion",
    )
    r.add_post(f"{PREFIX}/rollbacks", promotions.create_rollback, name="create_rollback")
    r.add_post(f"{PREFIX}/rollbacks/preview", previews.preview_rollback, name="preview_rollback")

    r.add_get(f"{PREFIX}/events", history.list_events, name="list_events")
    r.add_get(f"{PREFIX}/events/stream", stream.stream_events, name="stream_events")
    r.add_get(f"{PREFIX}/state", history.state_as_of, name="state")
    r.add_get(f"{PREFIX}/state/diff", history.state_diff, name="state_diff")

    r.add_get(f"{PREFIX}/insights", insights.get_insights, name="insights")

    r.add_get(f"{PREFIX}/audit/verify", admin.audit_verify, name="audit_verify")
    r.add_post(f"{PREFIX}/admin/replay", admin.start_replay, name="start_replay")
    r.add_get(f"{PREFIX}/admin/replay/{{job_id}}", admin.get_replay, name="get_replay")
    r.add_get(f"{PREFIX}/admin/projections", admin.projections_status, name="projections")
    r.add_get(f"{PREFIX}/admin/subscriptions", admin.subscriptions_status, name="subscriptions")
    r.add_post(
        f"{PREFIX}/admin/subscriptions/{{name}}/parked/{{position}}/retry",
        admin.retry_parked,
        name="retry_parked",
    )
    r.add_get(f"{PREFIX}/notifications/channels", notifications.list_channels, name="channels")
    r.add_get(
        f"{PREFIX}/notifications/deliveries", notifications.list_deliveries, name="deliveries"
    )
    r.add_post(
        f"{PREFIX}/notifications/deliveries/{{delivery_id}}/resend",
        notifications.resend_delivery,
        name="resend_delivery",
    )
    r.add_post(f"{PREFIX}/admin/config/reload", config.reload_config, name="reload_config")

    r.add_post(f"{PREFIX}/health/explain", explain.explain_health, name="explain_health")

    r.add_post(f"{PREFIX}/webhooks/git", webhooks.git_webhook, name="git_webhook")
