"""The environments config of a running `baton serve` reloads without a restart: SIGHUP or
`POST /admin/config/reload` applies a valid edit, and a broken one changes nothing."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.service.baton_process import (
    Baton,
    Site,
    call,
    environment,
    promote_and_see_applied,
    wait_for,
)

ADMIN = "carol-token-123456"
ROOT = Path(__file__).resolve().parents[2]  # this checkout's code, not an installed copy
QA = """\
      - name: qa
        cluster: kubesim:staging
        upstream: dev
        policy: {auto_promote: true}
"""


def _config(site: Site) -> Path:
    return site.root / "environments" / "shop.yaml"


def _add_qa(site: Site) -> None:
    """A new environment `qa` after dev, on a cluster the process already has."""
    text = _config(site).read_text()
    at = text.index("      - name: staging")
    _config(site).write_text(text[:at] + QA + text[at:])


def _reload_flow(site: Site) -> None:
    tokens = site.env["BATON_TOKENS"] + f";carol:admin:{ADMIN}"
    baton = Baton.start(site, env={"BATON_TOKENS": tokens, "PYTHONPATH": str(ROOT)})
    try:
        baton.wait_ready()

        def names() -> list[str]:
            return [
                e["environment"] for e in call(baton.url, "GET", "/apps/shop")[1]["environments"]
            ]

        assert "qa" not in names()
        _add_qa(site)
        baton.process.send_signal(signal.SIGHUP)
        wait_for("qa listed", lambda: "qa" in names())
        wait_for(
            "the release applied in qa",
            lambda: environment(baton.url, "qa")["applied_release"] == site.release,
        )

        good = _config(site).read_text()
        _config(site).write_text(good.replace("branch: main", "branch: main\n    colour: red"))
        baton.process.send_signal(signal.SIGHUP)
        wait_for("the refusal logged", lambda: "config reload refused" in baton.output())
        assert f"{_config(site)}:5: apps[0].colour: unknown key" in baton.output()
        assert call(baton.url, "GET", "/readyz")[0] == 200
        assert "qa" in names()

        status, body = call(baton.url, "POST", "/admin/config/reload", {}, token=ADMIN)
        assert status == 422, body
        assert body["problems"] == [f"{_config(site)}:5: apps[0].colour: unknown key"]
        status, _ = call(baton.url, "POST", "/admin/config/reload", {})
        assert status == 403  # alice is no admin

        _config(site).write_text(good.replace("      - name: qa\n", "      - name: test\n"))
        status, body = call(baton.url, "POST", "/admin/config/reload", {}, token=ADMIN)
        assert status == 200, body
        assert body["apps"] == {"shop": "changed"}
        assert body["targets_added"] == ["shop/test"]
        assert body["targets_removed"] == ["shop/qa"]
        # no auto-promotion for a release dev verified before `test` existed: asked for
        promote_and_see_applied(baton.url, site.release, "test")
    finally:
        code = baton.stop()
    assert code == 0, baton.output()
    assert "Traceback" not in baton.output()


async def test_sighup_and_the_reload_operation_apply_a_good_config_and_refuse_a_broken_one(
    site: Site,
) -> None:
    await asyncio.to_thread(_reload_flow, site)


HEALTH_CHECK = """\
health:
  checks:
    _/ConfigMap: |
      local hs = {}
      hs.status = "Degraded"
      hs.message = "held back by the team"
      return hs
"""


def _health_check_flow(site: Site) -> None:
    baton = Baton.start(site)
    try:
        baton.wait_ready()
        wait_for("dev healthy", lambda: environment(baton.url, "dev")["health"] == "Healthy")
        _config(site).write_text(_config(site).read_text() + HEALTH_CHECK)
        baton.process.send_signal(signal.SIGHUP)
        wait_for("dev degraded", lambda: environment(baton.url, "dev")["health"] == "Degraded")
    finally:
        assert baton.stop() == 0, baton.output()


async def test_a_health_check_added_by_a_reload_gives_its_verdict(site: Site) -> None:
    await asyncio.to_thread(_health_check_flow, site)
